"""Host runner: PyTorch eager on the CPU (noisier than onnxruntime; for comparison)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from mnas.latency._host import cpu_affinity_mask, cpu_model, host_device_name, set_cpu_affinity
from mnas.latency.runners._base import (
    Prepared,
    Runner,
    RunnerInfo,
    Timing,
    check_threads_and_clock,
    time_callable,
)

__all__ = ["TorchRunner"]


class TorchRunner(Runner):
    """Times ``model(example)`` in eval mode under ``torch.inference_mode``.

    Args:
        threads: ``torch.set_num_threads`` while timing (restored afterwards).
        clock: ``cpu`` (default, 1 thread only) or ``wall``.
        cpus: Pin the process to these CPUs; None leaves it free.
    """

    name = "torch"

    def __init__(self, *, threads: int = 1, clock: str = "cpu",
                 cpus: Sequence[int] | None = None) -> None:
        check_threads_and_clock(threads, clock)
        self.threads = threads
        self.clock = clock
        self._mask = set_cpu_affinity(cpus) if cpus is not None else None

    def info(self) -> RunnerInfo:
        """torch version, threads and this host's CPU."""
        return RunnerInfo(
            runtime="torch", runtime_version=torch.__version__.split("+")[0],
            threads=self.threads, device=host_device_name(), cpu=cpu_model(),
            cpu_mask=self._mask, clock=self.clock,
            extra={"mode": "eager, eval, inference_mode",
                   "process_affinity": cpu_affinity_mask()})

    def prepare(self, model: nn.Module, example: torch.Tensor) -> Prepared:
        """A frozen eval-mode copy of ``model`` run under ``torch.inference_mode``."""
        frozen = copy.deepcopy(model).eval()
        return _TorchPrepared(frozen, example.detach(), threads=self.threads, clock=self.clock)


class _TorchPrepared(Prepared):
    def __init__(self, model: nn.Module, example: torch.Tensor, *, threads: int,
                 clock: str) -> None:
        self._model = model
        self._example = example
        self._threads = threads
        self._clock = clock

    def time(self, *, warmup: int, repeats: int) -> Timing:
        previous = torch.get_num_threads()
        torch.set_num_threads(self._threads)
        try:
            with torch.inference_mode():
                return time_callable(lambda: self._model(self._example), warmup=warmup,
                                     repeats=repeats, clock=self._clock)
        finally:
            torch.set_num_threads(previous)
