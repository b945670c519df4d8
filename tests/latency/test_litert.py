"""LiteRT: the litert-torch converter, its on-disk cache, the host ``litert`` runner.

Real conversions and LiteRT's real interpreter; no mocks. Converting takes seconds per
model (and a worker process about 15 s to import the converter) on this 2-core VM, so
the tests that convert are ``slow`` and skip without the extra: run them with

    .venv/bin/pip install -e '.[dev,litert]'
    .venv/bin/python -m pytest -m slow tests/latency/test_litert.py tests/latency/test_android.py \
        tests/export/test_export_formats.py -k "(litert or tflite) and not zoo"

The one-line errors without the extra run in the default suite.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import torch

from mnas.errors import MnasInputError
from mnas.latency import OpKey
from mnas.latency._key_model import key_example, key_model

HAS_LITERT = all(importlib.util.find_spec(n) is not None for n in ("litert_torch",
                                                                    "ai_edge_litert"))
needs_litert = [pytest.mark.slow,
                pytest.mark.skipif(not HAS_LITERT, reason="pip install 'mnas[litert]'")]
KEY = OpKey.parse("ir-in:16x16x16-out:16x16x16-mid:48-k3-s1-skip1-se16.relu.hsig-hswish")


def _hide_litert(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the ``litert`` extra were not installed."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in (
        "litert_torch", "ai_edge_litert") else real(name, *a))


def _run_tflite(data: bytes, x: torch.Tensor) -> torch.Tensor:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data, num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.numpy())
    interpreter.invoke()
    return torch.from_numpy(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


# ------------------------------------------------------------------ without the extra
def test_runner_litert_without_the_extra_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    from mnas.cli import main

    _hide_litert(monkeypatch)
    code = main(["latency", "build", "--runner", "litert", "--arch", "mobilenet_v3_small",
                 "--no-zoo", "--out", str(tmp_path / "t.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "--runner litert" in err and "pip install 'mnas[litert]'" in err
    assert not (tmp_path / "t.json").exists()


def test_convert_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from mnas.latency.runners._litert_convert import TfliteCache, convert_tflite_bytes

    _hide_litert(monkeypatch)
    with pytest.raises(MnasInputError, match=r"pip install 'mnas\[litert\]'"):
        convert_tflite_bytes(torch.nn.Conv2d(3, 4, 3), torch.zeros(1, 3, 8, 8))
    with pytest.raises(MnasInputError, match=r"pip install 'mnas\[litert\]'"):
        TfliteCache()


def test_digest_follows_structure_weights_and_input() -> None:
    from mnas.latency.runners._litert_convert import model_digest

    x = key_example(KEY)
    assert model_digest(key_model(KEY), x, version="v") == model_digest(key_model(KEY), x,
                                                                        version="v")
    other = OpKey.parse("ir-in:16x16x16-out:16x16x16-mid:48-k5-s1-skip1-se16.relu.hsig-hswish")
    assert model_digest(key_model(other), key_example(other), version="v") != model_digest(
        key_model(KEY), x, version="v")
    changed = key_model(KEY)
    with torch.no_grad():
        next(changed.parameters()).add_(1.0)
    assert model_digest(changed, x, version="v") != model_digest(key_model(KEY), x, version="v")
    assert model_digest(key_model(KEY), x, version="w") != model_digest(key_model(KEY), x,
                                                                        version="v")
    assert model_digest(key_model(KEY), torch.zeros(2, 16, 16, 16), version="v") != \
        model_digest(key_model(KEY), x, version="v")


def test_key_models_are_reproducible() -> None:
    torch.manual_seed(1)
    state = torch.random.get_rng_state()
    first, second = key_model(KEY).state_dict(), key_model(KEY).state_dict()
    assert all(first[k].equal(second[k]) for k in first)
    assert torch.random.get_rng_state().equal(state)  # the caller's RNG is left alone


# ------------------------------------------------------------------ real conversions
@pytest.mark.parametrize("_", [pytest.param(0, marks=needs_litert)])
def test_cache_converts_once_and_the_file_matches_torch(_: Any, tmp_path: Path) -> None:
    from mnas.latency.runners._litert_convert import TfliteCache

    cache = TfliteCache(tmp_path, workers=1)
    model, x = key_model(KEY), key_example(KEY)
    data = cache.get(model, x)
    assert cache.converted == 1 and cache.path(model, x).read_bytes() == data
    assert TfliteCache(tmp_path, workers=1).get(key_model(KEY), x) == data  # a new process's view
    with torch.no_grad():
        expected = model(x)
    got = _run_tflite(data, x)
    assert got.shape == expected.shape  # NCHW in and out, as in PyTorch
    assert float((got - expected).abs().max()) <= 1e-4
    assert cache.convert_many([(model, x)]) == 0  # already there


@pytest.mark.parametrize("_", [pytest.param(0, marks=needs_litert)])
def test_convert_many_runs_in_parallel_workers(_: Any, tmp_path: Path) -> None:
    from mnas.latency.runners._litert_convert import TfliteCache

    keys = [OpKey.parse(f"ds-in:8x8x{c}-out:8x8x{c}-mid:{c}-k3-s1-skip1-se0-relu")
            for c in (8, 16, 24)]
    items = [(key_model(k), key_example(k)) for k in keys]
    seen: list[tuple[int, int]] = []
    cache = TfliteCache(tmp_path, workers=2)
    assert cache.convert_many(items + items[:1], on_progress=lambda d, t: seen.append((d, t))) == 3
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    for model, x in items:
        with torch.no_grad():
            expected = model(x)
        assert float((_run_tflite(cache.path(model, x).read_bytes(), x) - expected).abs().max()
                     ) <= 1e-4


@pytest.mark.parametrize("_", [pytest.param(0, marks=needs_litert)])
def test_litert_runner_contract(_: Any, tmp_path: Path) -> None:
    from mnas.latency.runners import LiteRTRunner, Runner, Timing, make_host_runner
    from mnas.latency.runners._litert_convert import TfliteCache

    runner = make_host_runner("litert")
    assert isinstance(runner, LiteRTRunner) and isinstance(runner, Runner)
    runner.cache = TfliteCache(tmp_path, workers=1)
    info = runner.info()
    assert info.runtime == "litert" and info.threads == 1 and info.clock == "cpu"
    assert info.runtime_version == "2.3.0" and "XNNPACK" in info.extra["delegate"]
    assert "litert-torch 0.10.0" in info.extra["converter"]
    model = key_model(KEY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    timing = runner.time(model, key_example(KEY), warmup=1, repeats=4)
    assert isinstance(timing, Timing) and timing.n == 4 and 0 < timing.min_ms <= timing.p90_ms
    assert all(v.equal(before[k]) for k, v in model.state_dict().items())  # not mutated
    prepared = runner.prepare(model, key_example(KEY))
    assert prepared.time(warmup=0, repeats=3).n == 3
    prepared.close()
    assert runner.cache.converted == 1  # the second prepare came from the cache
