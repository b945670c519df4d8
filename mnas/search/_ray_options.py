"""How a search runs on Ray (:class:`RayOptions`), checked without importing Ray."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mnas.errors import MnasInputError

__all__ = ["BACKENDS", "SCHEDULERS", "RayOptions", "require_ray", "split_address"]

#: The search backends: in-process Optuna, or Ray Tune workers.
BACKENDS = ("optuna", "ray")
SCHEDULERS = ("fifo", "asha")
_INSTALL_HINT = "pip install 'mnas[ray]'"


@dataclass(frozen=True, kw_only=True)
class RayOptions:
    """How to run a search on Ray.

    Attributes:
        address: ``HOST:PORT`` of a running cluster's head (``ray start --head``), or
            None to start a local Ray runtime for this search and shut it down after.
        workers: Maximum concurrent trials.
        cpus_per_trial: CPUs reserved per trial (also its torch threads).
        gpus_per_trial: GPUs reserved per trial (may be fractional).
        scheduler: ``fifo`` (run every trial to the end) or ``asha`` (stop poor
            candidates of a training proxy at epoch rungs).
        grace_epochs: ASHA's minimum epochs before a trial may be stopped.
        reduction_factor: ASHA's reduction factor (keep the top 1/factor per rung).
        epochs: Epochs of the training proxy (passed to its constructor), or None for
            the proxy's default.
        resume: Restore the interrupted Tune experiment of the run folder.
        max_failures: Times Tune retries a crashed trial before it counts as failed.
    """

    address: str | None = None
    workers: int = 1
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    scheduler: str = "fifo"
    grace_epochs: int = 1
    reduction_factor: int = 2
    epochs: int | None = None
    resume: bool = False
    max_failures: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise MnasInputError(f"--workers must be an integer >= 1, got {self.workers!r}")
        if not self.cpus_per_trial > 0:
            raise MnasInputError(f"--cpus-per-trial must be > 0, got {self.cpus_per_trial!r}")
        if not self.gpus_per_trial >= 0:
            raise MnasInputError(f"--gpus-per-trial must be >= 0, got {self.gpus_per_trial!r}")
        if self.scheduler not in SCHEDULERS:
            raise MnasInputError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got "
                                 f"{self.scheduler!r}")
        if self.epochs is not None and (isinstance(self.epochs, bool) or self.epochs < 1):
            raise MnasInputError(f"--epochs must be an integer >= 1, got {self.epochs!r}")
        if self.grace_epochs < 1 or self.reduction_factor < 2:
            raise MnasInputError(
                f"ASHA needs grace_epochs >= 1 and reduction_factor >= 2, got "
                f"{self.grace_epochs!r} and {self.reduction_factor!r}")
        if self.address is not None:
            split_address(self.address)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (recorded in ``config.json`` under ``extra.ray``)."""
        return asdict(self)


def require_ray() -> Any:
    """Import Ray Tune, or explain how to install it; returns the ``ray`` module.

    Raises:
        MnasInputError: Ray (with Tune) is not installed.
    """
    try:
        import ray
        import ray.tune  # Tune, not only Ray core
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401
    except ImportError as err:
        raise MnasInputError(f"--backend ray needs Ray Tune, which is not installed ({err}); "
                             f"install it with: {_INSTALL_HINT}") from None
    return ray


def split_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of a Ray head's ``HOST:PORT`` (``ray://`` prefix allowed).

    Raises:
        MnasInputError: Not ``HOST:PORT`` with a port in 1..65535.
    """
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise MnasInputError(
            f"--address must be HOST:PORT of a Ray head (e.g. 127.0.0.1:6379, as printed by "
            f"`ray start --head`), got {address!r}")
    return host, int(port)
