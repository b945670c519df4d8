"""Host runner: ``.tflite`` (litert-torch) timed with LiteRT's interpreter and XNNPACK.

This is the runtime Android apps ship, run here on the host CPU: the same converted
file a phone would get (:mod:`mnas.latency.runners._litert_convert`; key models with
NHWC input and output, whole networks NCHW as exported), in
``ai_edge_litert.interpreter.Interpreter`` with its default XNNPACK delegate and a fixed
thread count. With 1 thread XNNPACK runs on the calling thread, so the default clock is
the thread's CPU time, as for onnxruntime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
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
from mnas.latency.runners._litert_convert import (
    TfliteCache,
    io_example,
    io_layout,
    litert_available,
    litert_missing,
)

__all__ = ["LiteRTRunner", "litert_interpreter", "litert_version"]


def litert_version() -> str:
    """The installed ai-edge-litert version."""
    from importlib.metadata import version

    return version("ai-edge-litert")


def litert_interpreter(model: bytes | str, *, threads: int = 1) -> Any:
    """A LiteRT interpreter (XNNPACK delegate, ``threads`` threads) with tensors allocated.

    Args:
        model: ``.tflite`` bytes or a file path.
        threads: Interpreter threads.

    Raises:
        MnasInputError: ai-edge-litert is not installed.
        MnasError: LiteRT cannot load the model.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise litert_missing("running a .tflite file") from None
    try:
        if isinstance(model, bytes):
            interpreter = Interpreter(model_content=model, num_threads=threads)
        else:
            interpreter = Interpreter(model_path=model, num_threads=threads)
        interpreter.allocate_tensors()
    except Exception as err:  # noqa: BLE001 - LiteRT raises ValueError / RuntimeError
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise MnasError(f"LiteRT could not load the .tflite model ({first})") from None
    return interpreter


class LiteRTRunner(Runner):
    """Times models converted to ``.tflite`` in LiteRT's interpreter (XNNPACK) on this CPU.

    Args:
        threads: Interpreter threads (1 = the calling thread; the default).
        clock: ``cpu`` (default; only with 1 thread) or ``wall``.
        cpus: Pin the process to these CPUs (as ``taskset -c``); None leaves it free.
        cache: Where converted models are kept (default: a :class:`TfliteCache` in
            ``~/.cache/mnas``).

    Raises:
        MnasInputError: The ``litert`` extra is not installed (names it), bad settings.
    """

    name = "litert"
    converts_ahead = True
    weights_threshold = True  # networks to ~0.8 M weights add up (benchmarks/litert_cache.py)

    def __init__(self, *, threads: int = 1, clock: str = "cpu",
                 cpus: Sequence[int] | None = None, cache: TfliteCache | None = None) -> None:
        if not litert_available():
            raise litert_missing("--runner litert")
        check_threads_and_clock(threads, clock)
        self.threads = threads
        self.clock = clock
        self.cache = cache or TfliteCache()
        self._mask = set_cpu_affinity(cpus) if cpus is not None else None

    def info(self) -> RunnerInfo:
        """ai-edge-litert version, threads, converter and this host's CPU."""
        return RunnerInfo(
            runtime="litert", runtime_version=litert_version(), threads=self.threads,
            device=host_device_name(), cpu=cpu_model(), cpu_mask=self._mask, clock=self.clock,
            extra={"delegate": "XNNPACK (LiteRT's default CPU delegate)",
                   "converter": self.cache.version,
                   "layout": "key models in their layout inside a converted network "
                   "(blocks NHWC in and out, stem NCHW in and NHWC out, head NHWC in: "
                   "litert_torch.to_channel_last_io); whole networks NCHW as exported",
                   "key_io_layout": "nhwc",
                   "process_affinity": cpu_affinity_mask()})

    def convert_ahead(self, items: Sequence[tuple[nn.Module, torch.Tensor]], *,
                      on_progress: Callable[[int, int], None] | None = None) -> int:
        """Convert every model not in the cache yet, in the cache's worker processes."""
        return self.cache.convert_many(items, on_progress=on_progress)

    def prepare(self, model: nn.Module, example: torch.Tensor) -> Prepared:
        """Convert (or take from the cache), load, bind the input; timing runs ``invoke``.

        A key model may take its input NHWC (:func:`io_layout`): ``example`` is permuted.
        """
        interpreter = litert_interpreter(self.cache.get(model, example), threads=self.threads)
        detail = interpreter.get_input_details()[0]
        data = io_example(example.detach().cpu(), io_layout(model)).contiguous().numpy(
            ).astype(np.float32)
        if tuple(detail["shape"]) != data.shape:
            raise MnasError(f"the .tflite model takes input {tuple(detail['shape'])}, the "
                            f"example is {data.shape}")
        interpreter.set_tensor(detail["index"], data)
        return CallablePrepared(interpreter.invoke, clock=self.clock)
