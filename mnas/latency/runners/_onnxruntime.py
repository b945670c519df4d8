"""Host runner: ONNX export (TorchScript exporter) timed with onnxruntime on the CPU."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mnas.arch import Arch
from mnas.errors import MnasError
from mnas.latency._host import cpu_affinity_mask, cpu_model, host_device_name, set_cpu_affinity
from mnas.latency._opkey import OpKey
from mnas.latency.runners._base import (
    CallablePrepared,
    Prepared,
    Runner,
    RunnerInfo,
    check_threads_and_clock,
)
from mnas.latency.runners._onnx_graphs import key_onnx_bytes, network_onnx_bytes

__all__ = ["OnnxRuntimeRunner", "export_onnx_bytes"]


def export_onnx_bytes(model: nn.Module, example: torch.Tensor, *, opset: int = 17) -> bytes:
    """Export ``model`` (in eval mode, BatchNorm folded) to ONNX bytes.

    Uses the TorchScript exporter (``dynamo=False``): it folds BatchNorm into the convs
    like the dynamo exporter but takes ~0.1 s per block instead of seconds, which is what
    makes a table of hundreds of keys a matter of minutes.
    """
    was_training = model.training
    model.eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # the TorchScript exporter (dynamo=False) writes to a file object too; the stubs
            # name paths only
            torch.onnx.export(model, (example,), buffer,  # type: ignore[arg-type]
                              dynamo=False, opset_version=opset,
                              input_names=["input"], output_names=["output"],
                              do_constant_folding=True)
    finally:
        model.train(was_training)
    return buffer.getvalue()


class OnnxRuntimeRunner(Runner):
    """Times models with onnxruntime's CPU execution provider.

    Args:
        threads: Intra-op threads (1 = run on the calling thread; the default and the
            setting whose per-block timings add up best to whole networks).
        clock: ``cpu`` (default; thread CPU time, steady on a shared machine; only valid
            with 1 thread) or ``wall``.
        cpus: Pin the process to these CPUs (as ``taskset -c``); None leaves it free.
        optimization: onnxruntime graph optimisation level: ``all`` (default),
            ``extended``, ``basic`` or ``disable``.
    """

    name = "onnxruntime"
    # On the Zen 4 (1 MiB L2) the linear weights term validated at 5.6-6.1% MAPE, the
    # threshold (w0 = 1.3 M) at 2.4-3.6% (README, "Accuracy of the onnxruntime host tables")
    weights_threshold = True

    def __init__(self, *, threads: int = 1, clock: str = "cpu",
                 cpus: Sequence[int] | None = None, optimization: str = "all") -> None:
        try:
            import onnxruntime
        except ImportError:
            raise MnasError("the onnxruntime runner needs onnxruntime: "
                            "`pip install onnxruntime==1.32.0`") from None
        check_threads_and_clock(threads, clock)
        levels = {"all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
                  "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                  "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                  "disable": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL}
        if optimization not in levels:
            raise ValueError(f"optimization must be one of {', '.join(levels)}, got "
                             f"{optimization!r}")
        self._ort = onnxruntime
        self._level = levels[optimization]
        self._optimization = optimization
        self.threads = threads
        self.clock = clock
        self._mask = set_cpu_affinity(cpus) if cpus is not None else None

    def info(self) -> RunnerInfo:
        """onnxruntime version, threads and this host's CPU."""
        return RunnerInfo(
            runtime="onnxruntime", runtime_version=self._ort.__version__, threads=self.threads,
            device=host_device_name(), cpu=cpu_model(), cpu_mask=self._mask, clock=self.clock,
            extra={"optimization": self._optimization, "exporter": "torch.onnx TorchScript, "
                   "opset 17", "process_affinity": cpu_affinity_mask()})

    def session(self, model: nn.Module, example: torch.Tensor) -> object:
        """An onnxruntime session of ``model`` set up as this runner times it."""
        return self._session(export_onnx_bytes(model, example))

    def _session(self, onnx_bytes: bytes) -> Any:
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = self._level
        options.log_severity_level = 3
        try:
            return self._ort.InferenceSession(onnx_bytes, options,
                                              providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own types
            raise MnasError(f"onnxruntime could not load the exported model ({err})") from None

    def _prepared(self, session: Any, example: np.ndarray) -> Prepared:
        """Time ``session`` through an IO binding: the input bound once, the output left to
        onnxruntime's allocator, so a run pays no Python-side copies (a lone block and a
        whole network alike)."""
        binding = session.io_binding()
        binding.bind_cpu_input("input", example)
        binding.bind_output("output")
        run_with_iobinding = session.run_with_iobinding
        return CallablePrepared(lambda: run_with_iobinding(binding), clock=self.clock)

    def prepare(self, model: nn.Module, example: torch.Tensor) -> Prepared:
        """Export to ONNX and open a session (see :meth:`_prepared`)."""
        return self._prepared(self.session(model, example),
                              example.detach().cpu().contiguous().numpy())

    def prepare_key(self, key: OpKey, *, batch: int = 1) -> Prepared:
        """The unit ``key`` as the graph ``torch.onnx`` exports for it, written directly
        (:func:`~mnas.latency.runners._onnx_graphs.key_onnx_bytes`: about 1 ms instead of
        40-150 ms of export), on a seeded random input."""
        rng = np.random.default_rng(0)
        example = rng.standard_normal((batch, key.in_channels, key.in_size, key.in_size),
                                      dtype=np.float32)
        return self._prepared(self._session(key_onnx_bytes(key, batch=batch)), example)

    def prepare_arch(self, arch: Arch, *, batch: int = 1) -> Prepared:
        """The whole network as the graph ``torch.onnx`` exports for it, written directly
        (:func:`~mnas.latency.runners._onnx_graphs.network_onnx_bytes`: 20-60 ms instead of
        1-3 s of export), on a seeded random image."""
        rng = np.random.default_rng(0)
        example = rng.standard_normal((batch, 3, arch.resolution, arch.resolution),
                                      dtype=np.float32)
        return self._prepared(self._session(network_onnx_bytes(arch, batch=batch)), example)
