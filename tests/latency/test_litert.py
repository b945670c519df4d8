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


def _ops(data: bytes) -> list[str]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data, num_threads=1)
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()]


def _nhwc(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 2, 3, 1).contiguous() if t.ndim == 4 else t


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


def test_key_models_carry_their_layout_inside_a_network() -> None:
    """Blocks and the head are NHWC at their input (and a block at its output), the stem
    takes the NCHW image; a whole network has no mark and stays NCHW as exported."""
    from mnas.latency.runners._litert_convert import io_example, io_layout
    from mnas.models import build, zoo

    stem = OpKey.parse("stem-in:224x224x3-out:112x112x16-k3-s2-relu")
    head = OpKey.parse("head-in:7x7x512-conv:none-conv_bn_act_pool-hidden:none-out:1000-relu")
    assert io_layout(key_model(KEY)) == "nhwc" and io_layout(key_model(head)) == "nhwc"
    assert io_layout(key_model(stem)) == "nchw-nhwc"
    assert io_layout(build(zoo.mobilenet_v1(0.25, resolution=64))) == "nchw"
    x = key_example(KEY)
    assert io_example(x, "nhwc").shape == (1, 16, 16, 16)
    assert io_example(x, "nhwc").equal(x.permute(0, 2, 3, 1))
    assert io_example(x, "nchw-nhwc") is x and io_example(x, "nchw") is x


def test_layout_is_in_the_digest_and_nchw_digests_are_unchanged() -> None:
    """An NHWC file is another file; an NCHW one keeps the digest it had before files had
    a layout (its cached file is still right), pinned here. (The module tree is part of
    the digest: it changed once, when the layers moved to ``mnas.models._torchnet``.)"""
    from mnas.latency.runners._litert_convert import model_digest

    model, x = key_model(KEY), key_example(KEY)
    nchw = model_digest(model, x, version="v", layout="nchw")
    assert nchw == "ab18b81ac256086c388c922309bfbf0f"  # no layout tag for NCHW files
    assert model_digest(model, x, version="v") == model_digest(model, x, version="v",
                                                               layout="nhwc") != nchw
    assert model_digest(model, x, version="v", layout="nchw-nhwc") not in (nchw, model_digest(
        model, x, version="v"))
    with pytest.raises(MnasInputError, match="layout must be one of"):
        model_digest(model, x, version="v", layout="chw")


def test_resuming_a_table_of_the_other_key_layout_is_refused(tmp_path: Path) -> None:
    """A LiteRT table whose keys were converted NCHW (before key layouts; no
    ``key_io_layout``) is not resumed by a runner converting them NHWC."""
    from mnas.latency._builder import _check_same_setup, new_table_header
    from mnas.latency._table import LatencyTable
    from mnas.latency.runners._base import RunnerInfo

    def info(extra: dict[str, str]) -> RunnerInfo:
        return RunnerInfo(runtime="litert", runtime_version="2.3.0", threads=1, device="d",
                          cpu="c", cpu_mask=None, clock="cpu", extra=extra)

    old = LatencyTable(header=new_table_header(info({"layout": "NCHW"}), target="t",
                                          how_to_measure="", statistic="min"))
    new = info({"key_io_layout": "nhwc"})
    with pytest.raises(MnasInputError, match="key model layout 'nchw' but this run uses 'nhwc'"):
        _check_same_setup(old, new, tmp_path / "t.json", "min")
    same = LatencyTable(header=new_table_header(new, target="t", how_to_measure="",
                                           statistic="min"))
    _check_same_setup(same, new, tmp_path / "t.json", "min")


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
        expected = _nhwc(model(x))
    got = _run_tflite(data, _nhwc(x))
    assert got.shape == expected.shape  # NHWC in and out, as inside a network
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
            expected = _nhwc(model(x))
        got = _run_tflite(cache.path(model, x).read_bytes(), _nhwc(x))
        assert float((got - expected).abs().max()) <= 1e-4


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


@pytest.mark.parametrize("text", [
    pytest.param("stem-in:32x32x3-out:16x16x16-k3-s2-hswish", marks=needs_litert),
    pytest.param("dsa-in:16x16x16-out:8x8x32-mid:16-k3-s2-skip0-se0-relu", marks=needs_litert),
    pytest.param(str(KEY), marks=needs_litert),
    pytest.param("head-in:4x4x64-conv:none-conv_bn_act_pool-hidden:none-out:10-relu",
                 marks=needs_litert),
    pytest.param("head-in:4x4x32-conv:96-pool_conv_act-hidden:64-out:10-hswish",
                 marks=needs_litert),
    pytest.param("head-in:4x4x32-conv:96-conv_bn_act_pool-hidden:64-out:10-hswish",
                 marks=needs_litert)])
def test_key_files_have_no_transposes_a_network_does_not_run(text: str, tmp_path: Path) -> None:
    """Each key's file has the layout of its unit inside a converted network: a block or
    a head has no TRANSPOSE at all, the stem only the one on the image (as the network's
    first op), and each computes what the PyTorch unit computes (NHWC where it is)."""
    from mnas.latency.runners._litert_convert import TfliteCache, io_example, io_layout

    key = OpKey.parse(text)
    model, x = key_model(key), key_example(key)
    data = TfliteCache(tmp_path, workers=1).get(model, x)
    ops = [op for op in _ops(data) if op != "DELEGATE"]
    assert ops.count("TRANSPOSE") == (1 if key.kind == "stem" else 0), ops
    if key.kind == "stem":
        assert ops[0] == "TRANSPOSE"
    layout = io_layout(model)
    with torch.no_grad():
        expected = _nhwc(model(x))
    got = _run_tflite(data, io_example(x, layout))
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= 1e-4
