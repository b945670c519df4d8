"""A deterministic stand-in runner for builder and validation tests (no timing noise)."""

from __future__ import annotations

import time

import torch
from torch import nn

from mnas.latency.runners import Prepared, Runner, RunnerInfo, Timing


def model_cost_ms(model: nn.Module, example: torch.Tensor) -> float:
    """A fake latency: 0.01 ms per unit plus a term in parameters and input size."""
    params = sum(p.numel() for p in model.parameters())
    convs = sum(1 for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    return 0.01 + 1e-6 * params * example.shape[-1] + 0.002 * convs


class FakePrepared(Prepared):
    def __init__(self, runner: FakeRunner, cost: float, is_sentinel_size: bool) -> None:
        self.runner = runner
        self.cost = cost

    def time(self, *, warmup: int, repeats: int) -> Timing:
        self.runner.calls += 1
        if self.runner.sleep_s:
            time.sleep(self.runner.sleep_s)
        factor = self.runner.slowdown()
        return Timing(samples_ms=tuple(self.cost * factor for _ in range(repeats)))


class FakeRunner(Runner):
    """Times a model as :func:`model_cost_ms`; ``slow_calls`` makes some calls 30% slower."""

    name = "fake"

    def __init__(self, *, sleep_s: float = 0.0, slow_calls: set[int] | None = None) -> None:
        self.sleep_s = sleep_s
        self.calls = 0
        self.slow_calls = slow_calls or set()

    def slowdown(self) -> float:
        return 1.3 if self.calls in self.slow_calls else 1.0

    def info(self) -> RunnerInfo:
        return RunnerInfo(runtime="fake", runtime_version="1.0", threads=1, device="test box",
                          cpu="Fake CPU", clock="cpu")

    def prepare(self, model: nn.Module, example: torch.Tensor) -> Prepared:
        return FakePrepared(self, model_cost_ms(model, example), False)


def kill_script(here: str, *, checkpoint_s: float, sleep_s: float, how_to_measure: str = "") -> str:
    """Source of a child process that builds a small table with :class:`FakeRunner` into
    ``sys.argv[1]`` (for tests that kill it mid-build); ``here`` is this folder."""
    how = f", how_to_measure={how_to_measure!r}" if how_to_measure else ""
    return f"""
import sys
sys.path.insert(0, {here!r})
from latency_fakes import FakeRunner
from mnas.latency._builder import BuildSettings, TableBuilder
from mnas.latency import unique_op_keys
from mnas.models import get_arch
archs = [get_arch(n).replace(resolution=32) for n in ("mobilenet_v3_small",
                                                      "mobilenet_v3_large")]
settings = BuildSettings(warmup=0, repeats=2, sentinel_repeats=1, calibration_networks=0,
                         checkpoint_s={checkpoint_s!r})
TableBuilder(path=sys.argv[1], runner=FakeRunner(sleep_s={sleep_s!r}), target="t",
             keys=unique_op_keys(archs), settings=settings{how}).run()
"""
