"""The runner interface: how a latency builder times one model on one device.

A :class:`Runner` takes a small PyTorch model and an example input, runs it on its
device with the runtime it stands for, and returns every timed run as a
:class:`Timing`. The builder (``mnas latency build``), whole-network calibration and
``mnas latency validate`` only ever talk to this interface, so a new device (a phone
over adb, a board over ssh) plugs in by subclassing :class:`Runner`.

Contract every runner keeps (``tests/latency/test_runners.py`` checks the host ones):

* ``info()`` describes the device and runtime without timing anything; its fields
  become the latency table's header, so two tables with the same ``info()`` are
  comparable.
* ``prepare(model, example)`` converts ``model`` once and returns a :class:`Prepared`
  whose ``time(warmup=, repeats=)`` can be called again and again (the builder keeps a
  sentinel model prepared to re-time it cheaply); ``close()`` releases it.
* ``time(model, example, warmup=, repeats=)`` (prepare, time once, close) converts ``model`` for the runtime (e.g.
  ONNX export), runs it ``warmup`` times untimed, then ``repeats`` times timed, and
  returns one sample per timed run in milliseconds (a runner that can only time a batch
  of runs returns the batch mean as one sample per batch and says so in ``Timing.note``).
* It never mutates ``model``; it raises :class:`~mnas.errors.MnasError` (not a bare
  runtime error) when the device or runtime fails, naming what to install or fix.
"""

from __future__ import annotations

import abc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mnas.arch import Arch
from mnas.latency._opkey import OpKey
from mnas.latency._table import LatencyEntry

__all__ = ["CLOCKS", "CallablePrepared", "Prepared", "Runner", "RunnerInfo", "Timing",
           "arch_model", "check_threads_and_clock", "time_callable"]

CLOCKS: tuple[str, ...] = ("cpu", "wall")
"""``cpu``: the calling thread's CPU time (``CLOCK_THREAD_CPUTIME_ID``), which equals wall
time for a single-threaded run on an idle core but does not count time the thread spent
preempted by other processes, so it stays steady on a shared machine; ``wall``:
``time.perf_counter``."""


@dataclass(frozen=True, kw_only=True)
class RunnerInfo:
    """Identity of a device + runtime, written into a latency table's header.

    Attributes:
        runtime: ``onnxruntime``, ``torch``, ``executorch``, ``tflite``, ...
        runtime_version: The runtime's version.
        threads: Threads the runtime uses.
        device: Device identity (host name + CPU, phone model, board).
        cpu: CPU model or SoC.
        cpu_mask: Affinity mask as for ``taskset`` (hex), or None if not pinned.
        dtype: Data type of the timed models.
        batch: Batch size of the timed models.
        clock: What a sample measures (see :data:`CLOCKS`; phones: ``device``).
        extra: Other header fields (OS version, governor, ...).
    """

    runtime: str
    runtime_version: str
    threads: int
    device: str
    cpu: str
    cpu_mask: str | None = None
    dtype: str = "float32"
    batch: int = 1
    clock: str = "wall"
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """E.g. ``AMD EPYC, onnxruntime 1.32.0, 1 thread``."""
        plural = "s" if self.threads != 1 else ""
        return f"{self.cpu}, {self.runtime} {self.runtime_version}, {self.threads} thread{plural}"


@dataclass(frozen=True, kw_only=True)
class Timing:
    """Timed runs of one model.

    Attributes:
        samples_ms: One latency per timed run (or per batch of runs), in ms.
        note: How the samples were taken, when it is not one run per sample.
    """

    samples_ms: tuple[float, ...]
    note: str = ""

    def __post_init__(self) -> None:
        if not self.samples_ms:
            raise ValueError("Timing needs at least one sample, got none")

    @property
    def n(self) -> int:
        """Number of samples."""
        return len(self.samples_ms)

    @property
    def median_ms(self) -> float:
        """Median sample."""
        return float(statistics.median(self.samples_ms))

    @property
    def min_ms(self) -> float:
        """Fastest sample."""
        return float(min(self.samples_ms))

    def value(self, statistic: str) -> float:
        """The ``median`` or the ``min`` sample (a table's ``statistic``)."""
        return self.min_ms if statistic == "min" else self.median_ms

    @property
    def p90_ms(self) -> float:
        """90th percentile (nearest rank)."""
        ordered = sorted(self.samples_ms)
        return float(ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)])

    @property
    def std_ms(self) -> float:
        """Sample standard deviation (0 for one sample)."""
        return float(statistics.stdev(self.samples_ms)) if len(self.samples_ms) > 1 else 0.0

    def to_entry(self) -> LatencyEntry:
        """The table entry of these samples."""
        return LatencyEntry(median_ms=self.median_ms, p90_ms=self.p90_ms, n=self.n,
                            std_ms=self.std_ms, min_ms=self.min_ms)


def check_threads_and_clock(threads: int, clock: str, *, cpu_clock_one_thread: bool = True
                            ) -> None:
    """Refuse a bad thread count or clock (and the cpu clock with several threads).

    Raises:
        ValueError: ``threads`` is not an int >= 1, ``clock`` is not in :data:`CLOCKS`, or
            (with ``cpu_clock_one_thread``) the ``cpu`` clock is asked for with > 1 thread.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    if cpu_clock_one_thread and clock == "cpu" and threads != 1:
        raise ValueError(f"clock 'cpu' measures one thread, so threads must be 1, got "
                         f"{threads}; use clock 'wall' for multi-threaded timing")


def time_callable(run: Callable[[], object], *, warmup: int, repeats: int,
                  clock: str = "cpu") -> Timing:
    """Time ``run()`` ``repeats`` times after ``warmup`` untimed calls.

    Args:
        run: The work of one inference.
        warmup: Untimed calls first (>= 0).
        repeats: Timed calls (>= 1).
        clock: ``cpu`` (this thread's CPU time) or ``wall``; see :data:`CLOCKS`.

    Raises:
        ValueError: For a bad ``warmup``, ``repeats`` or ``clock``.
    """
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {clock!r}")
    now = time.thread_time_ns if clock == "cpu" else time.perf_counter_ns
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = now()
        run()
        samples.append((now() - start) / 1e6)
    return Timing(samples_ms=tuple(samples))


def arch_model(arch: Arch, *, batch: int = 1) -> tuple[nn.Module, torch.Tensor]:
    """A whole network (eval mode) and an example input, its weights seeded from its
    structure (the global RNG is left as it was): the same network in every run, so a
    runner that caches conversions finds it again."""
    import hashlib

    from mnas.latency._key_model import key_example, seed_of
    from mnas.latency._opkey import op_keys
    from mnas.models import build

    keys = op_keys(arch)
    ident = hashlib.sha1("|".join(str(k) for k in keys).encode()).hexdigest()[:12]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_of(ident))
        model = build(arch).eval()
    return model, key_example(keys[0], batch=batch)


class Prepared(abc.ABC):
    """A model converted and loaded by a runner, ready to be timed repeatedly."""

    @abc.abstractmethod
    def time(self, *, warmup: int, repeats: int) -> Timing:
        """``warmup`` untimed runs, then ``repeats`` timed ones."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release the loaded model (default: nothing to release)."""


class CallablePrepared(Prepared):
    """A :class:`Prepared` around a zero-argument ``run`` callable timed on this host.

    Args:
        run: One inference.
        clock: ``cpu`` or ``wall`` (see :data:`CLOCKS`).
    """

    def __init__(self, run: Callable[[], object], *, clock: str) -> None:
        self._run = run
        self.clock = clock

    def time(self, *, warmup: int, repeats: int) -> Timing:
        """Time the callable (see :func:`time_callable`)."""
        return time_callable(self._run, warmup=warmup, repeats=repeats, clock=self.clock)


class Runner(abc.ABC):
    """Times models on one device with one runtime (see the module docstring's contract)."""

    name: str = ""
    converts_ahead: bool = False
    """Whether :meth:`convert_ahead` does work (a runner with a slow, cached conversion):
    then whole networks are built and handed to it before they are prepared."""
    weights_threshold: bool = False
    """Whether the builder's calibration charges only the weights beyond a fitted count
    (``w0``, :func:`mnas.latency.fit_calibration`): for a runtime whose networks run at
    the sum of their blocks until their weights outgrow the cache."""

    @abc.abstractmethod
    def info(self) -> RunnerInfo:
        """Device and runtime identity (no timing)."""

    @abc.abstractmethod
    def prepare(self, model: nn.Module, example: torch.Tensor) -> Prepared:
        """Convert and load ``model`` for timing on ``example``."""

    def prepare_key(self, key: OpKey, *, batch: int = 1) -> Prepared:
        """Convert and load the unit ``key`` for timing (a table's entry).

        Default: :func:`~mnas.latency.key_model` on :func:`~mnas.latency.key_example`
        through :meth:`prepare`. A runner that can write a unit's graph faster than it can
        convert the PyTorch model (onnxruntime) overrides this with the same graph.
        """
        from mnas.latency._key_model import key_example, key_model

        return self.prepare(key_model(key), key_example(key, batch=batch))

    def prepare_arch(self, arch: Arch, *, batch: int = 1) -> Prepared:
        """Convert and load a whole network for timing (a calibration network).

        Default: :func:`arch_model` through :meth:`prepare`. A runner that can write a
        network's graph faster than it can convert the PyTorch model (onnxruntime)
        overrides this with the same graph.
        """
        return self.prepare(*arch_model(arch, batch=batch))

    def time(self, model: nn.Module, example: torch.Tensor, *, warmup: int,
             repeats: int) -> Timing:
        """Time ``model`` on ``example``: ``warmup`` untimed runs, then ``repeats`` timed."""
        prepared = self.prepare(model, example)
        try:
            return prepared.time(warmup=warmup, repeats=repeats)
        finally:
            prepared.close()

    def time_many(self, items: Sequence[tuple[nn.Module, torch.Tensor]], *, warmup: int,
                  repeats: int) -> list[Timing]:
        """Time several models (a runner with a costly per-model setup may batch this)."""
        return [self.time(model, example, warmup=warmup, repeats=repeats)
                for model, example in items]

    def convert_ahead(self, items: Sequence[tuple[nn.Module, torch.Tensor]], *,
                      on_progress: Callable[[int, int], None] | None = None) -> int:
        """Convert models before they are timed (a runner with a slow, cached conversion does
        it here, in parallel); returns how many it converted. Default: nothing, 0.

        Args:
            items: The ``(model, example)`` pairs that will be prepared.
            on_progress: Called with ``(done, total)`` as conversions finish.
        """
        return 0

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release the device (default: nothing to release)."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
