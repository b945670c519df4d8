"""Host runner: ExecuTorch with the XNNPACK delegate, through its Python runtime."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from mnas.errors import MnasError
from mnas.latency._host import cpu_affinity_mask, cpu_model, host_device_name, set_cpu_affinity
from mnas.latency.runners._base import (
    CallablePrepared,
    Prepared,
    Runner,
    RunnerInfo,
    check_threads_and_clock,
)

__all__ = ["ExecuTorchRunner", "export_pte_bytes"]

_INSTALL = "the executorch runner needs ExecuTorch: `pip install executorch==1.5.1`"


def export_pte_bytes(model: nn.Module, example: torch.Tensor) -> bytes:
    """Lower ``model`` to an ExecuTorch program delegated to XNNPACK (``.pte`` bytes).

    Raises:
        MnasError: ExecuTorch is not installed or the lowering failed.
    """
    try:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
            XnnpackPartitioner,
        )
        from executorch.exir import to_edge_transform_and_lower
    except ImportError:
        raise MnasError(_INSTALL) from None
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exported = torch.export.export(model, (example,))
            program = to_edge_transform_and_lower(
                exported, partitioner=[XnnpackPartitioner()]).to_executorch()
    except MnasError:
        raise
    except Exception as err:  # noqa: BLE001 - executorch raises many kinds
        raise MnasError(f"ExecuTorch could not lower the model to XNNPACK ({err})") from None
    finally:
        model.train(was_training)
    return bytes(program.buffer)


class ExecuTorchRunner(Runner):
    """Times ``.pte`` programs (XNNPACK) with ExecuTorch's Python runtime on this CPU.

    The Python runtime runs XNNPACK with its own thread pool, so the default clock is
    ``wall`` (a ``cpu`` clock would miss work done on pool threads); ``threads`` is recorded.

    Args:
        threads: Threads (recorded in the header).
        clock: ``wall`` (default) or ``cpu``.
        cpus: Pin the process to these CPUs; None leaves it free.
    """

    name = "executorch"

    def __init__(self, *, threads: int = 1, clock: str = "wall",
                 cpus: Sequence[int] | None = None) -> None:
        try:
            from executorch.runtime import Runtime
        except ImportError:
            raise MnasError(_INSTALL) from None
        check_threads_and_clock(threads, clock, cpu_clock_one_thread=False)
        self._runtime = Runtime.get()
        self.threads = threads
        self.clock = clock
        self._mask = set_cpu_affinity(cpus) if cpus is not None else None

    def info(self) -> RunnerInfo:
        """ExecuTorch version and this host's CPU."""
        from importlib.metadata import version

        return RunnerInfo(
            runtime="executorch", runtime_version=version("executorch"), threads=self.threads,
            device=host_device_name(), cpu=cpu_model(), cpu_mask=self._mask, clock=self.clock,
            extra={"backend": "XNNPACK", "process_affinity": cpu_affinity_mask()})

    def prepare(self, model: nn.Module, example: torch.Tensor) -> Prepared:
        """Lower to ``.pte`` and load it; timing runs ``method.execute``."""
        program = self._runtime.load_program(export_pte_bytes(model, example))
        method = program.load_method("forward")
        inputs = [example.detach().contiguous()]
        keep = (program, method)  # the method must not outlive its program

        def run() -> object:
            return keep[1].execute(inputs)

        return CallablePrepared(run, clock=self.clock)
