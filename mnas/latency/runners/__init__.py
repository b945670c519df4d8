"""Runners: time a model on a device with a runtime (host onnxruntime, torch, ExecuTorch, LiteRT).

Other devices (Android over adb, boards over ssh) subclass :class:`Runner`; the builder
takes any runner instance.
"""

from __future__ import annotations

from collections.abc import Sequence

from mnas.errors import MnasInputError
from mnas.latency.runners._base import (
    CLOCKS,
    CallablePrepared,
    Prepared,
    Runner,
    RunnerInfo,
    Timing,
    arch_model,
    time_callable,
)
from mnas.latency.runners._executorch import ExecuTorchRunner, export_pte_bytes
from mnas.latency.runners._litert import LiteRTRunner
from mnas.latency.runners._onnxruntime import OnnxRuntimeRunner, export_onnx_bytes
from mnas.latency.runners._torch import TorchRunner

__all__ = [
    "CLOCKS",
    "HOST_RUNNERS",
    "CallablePrepared",
    "ExecuTorchRunner",
    "LiteRTRunner",
    "OnnxRuntimeRunner",
    "Prepared",
    "Runner",
    "RunnerInfo",
    "Timing",
    "TorchRunner",
    "arch_model",
    "export_onnx_bytes",
    "export_pte_bytes",
    "make_host_runner",
    "time_callable",
]

HOST_RUNNERS: dict[str, type[Runner]] = {
    "onnxruntime": OnnxRuntimeRunner,
    "torch": TorchRunner,
    "executorch": ExecuTorchRunner,
    "litert": LiteRTRunner,
}


def make_host_runner(name: str = "onnxruntime", *, threads: int = 1, clock: str | None = None,
                     cpus: Sequence[int] | None = None) -> Runner:
    """A runner for this machine by runtime name.

    Args:
        name: ``onnxruntime`` (default), ``torch``, ``executorch`` or ``litert``.
        threads: Runtime threads.
        clock: ``cpu`` or ``wall``; None: the runner's default (``cpu`` with 1 thread for
            onnxruntime, torch and LiteRT, ``wall`` otherwise and for ExecuTorch).
        cpus: Pin the process to these CPUs.

    Raises:
        MnasInputError: Unknown runtime name, listing the known ones.
    """
    try:
        cls = HOST_RUNNERS[name]
    except KeyError:
        raise MnasInputError(f"unknown host runner {name!r}; use one of "
                             f"{', '.join(HOST_RUNNERS)}") from None
    try:
        if clock is None:
            clock = "cpu" if threads == 1 and name != "executorch" else "wall"
        return cls(threads=threads, clock=clock, cpus=cpus)  # type: ignore[call-arg]
    except ValueError as err:
        raise MnasInputError(str(err)) from None
