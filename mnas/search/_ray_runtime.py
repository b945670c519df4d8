"""The Ray runtime of a search: join a cluster, or start a local one and shut it down.

Ray's environment switches are set here, once, with ``os.environ.setdefault`` (a
caller's own settings win): no auth token for a local runtime, the classic console
output, and no TensorBoard loggers (they would need tensorboardX).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

from mnas.errors import MnasInputError
from mnas.search._ray_options import RayOptions, require_ray, split_address

__all__ = ["check_reachable", "ray_runtime"]


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Raise unless something listens at the Ray head's ``HOST:PORT``.

    Raises:
        MnasInputError: Nothing answers there (the message says how to start a head).
    """
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as err:
        raise MnasInputError(
            f"no Ray cluster answers at --address {address} ({err.strerror or err}); start one "
            f"there with `ray start --head --port {port}` or fix the address") from None


@contextlib.contextmanager
def ray_runtime(options: RayOptions) -> Iterator[None]:
    """Connect to ``options.address``, or start a local runtime; shut down what we started."""
    ray = require_ray()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # results go to JSON and CSV (added in mnas.search._ray._fit); TensorBoard files would need tensorboardX
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if ray.is_initialized():  # the caller owns a runtime: use it, leave it running
        yield
        return
    if options.address is not None:
        check_reachable(options.address)
        try:
            ray.init(address=options.address, log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, RuntimeError) as err:
            raise MnasInputError(
                f"could not join the Ray cluster at --address {options.address} "
                f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); check it "
                "with `ray status --address ...` or start one with `ray start --head`") from None
    else:
        cpus = max(1, int(round(options.workers * options.cpus_per_trial)))
        ray.init(num_cpus=cpus, num_gpus=int(options.gpus_per_trial * options.workers + 0.999),
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()
