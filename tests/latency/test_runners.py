"""Conformance of the host runners with the Runner contract (tiny models, few runs)."""

from __future__ import annotations

import pytest
from torch import nn

from mnas.errors import MnasInputError
from mnas.latency import OpKey
from mnas.latency._key_model import key_example, key_model
from mnas.latency.runners import Runner, Timing, make_host_runner, time_callable

KEY = OpKey.parse("ir-in:16x16x16-out:16x16x16-mid:48-k3-s1-skip1-se16.relu.hsig-hswish")


# ExecuTorch lowering takes a minute or more on 2 busy cores: slow variant only.
@pytest.mark.parametrize("name", ["onnxruntime", "torch",
                                  pytest.param("executorch", marks=pytest.mark.slow)])
def test_runner_contract(name: str) -> None:
    if name == "executorch":
        pytest.importorskip("executorch.runtime")
    runner = make_host_runner(name)
    assert isinstance(runner, Runner)
    info = runner.info()
    assert info.runtime == name and info.threads == 1 and info.cpu and info.runtime_version
    model = key_model(KEY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    timing = runner.time(model, key_example(KEY), warmup=1, repeats=4)
    assert isinstance(timing, Timing) and timing.n == 4
    assert 0 < timing.median_ms <= timing.p90_ms and timing.std_ms >= 0
    assert all(v.equal(before[k]) for k, v in model.state_dict().items())  # not mutated
    prepared = runner.prepare(model, key_example(KEY))
    assert prepared.time(warmup=0, repeats=2).n == 2
    assert prepared.time(warmup=0, repeats=3).n == 3
    prepared.close()


def test_onnxruntime_times_a_conv_and_its_input_is_bound() -> None:
    runner = make_host_runner("onnxruntime", clock="wall")
    timing = runner.time(nn.Conv2d(3, 8, 3), key_example(
        OpKey.parse("stem-in:16x16x3-out:8x8x8-k3-s2-relu")), warmup=1, repeats=3)
    assert timing.n == 3 and timing.median_ms > 0


def test_timing_statistics() -> None:
    timing = Timing(samples_ms=tuple(float(x) for x in range(1, 11)))
    assert timing.median_ms == 5.5 and timing.p90_ms == 9 and timing.n == 10
    entry = timing.to_entry()
    assert entry.median_ms == 5.5 and entry.n == 10
    with pytest.raises(ValueError):
        Timing(samples_ms=())


def test_bad_runner_settings_are_input_errors() -> None:
    with pytest.raises(MnasInputError, match="unknown host runner"):
        make_host_runner("tensorrt")
    with pytest.raises(MnasInputError, match="threads must be 1"):
        make_host_runner("onnxruntime", threads=2, clock="cpu")
    with pytest.raises(ValueError, match="repeats"):
        time_callable(lambda: None, warmup=0, repeats=0)
