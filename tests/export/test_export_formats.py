"""Every format round-trips: written, loaded in a fresh process, outputs within 1e-4."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from mnas.errors import MnasInputError
from mnas.export import FORMATS, TOLERANCE, export
from mnas.models import get_arch, list_archs
from mnas.models.torchvision_compat import torchvision_config

from ._helpers import SUFFIX, fixture_arch, trained_like_weights

HAS_EXECUTORCH = importlib.util.find_spec("executorch") is not None
_SKIP_ET = pytest.mark.skipif(not HAS_EXECUTORCH, reason="executorch not installed")
HAS_LITERT = all(importlib.util.find_spec(n) is not None for n in ("litert_torch",
                                                                    "ai_edge_litert"))
_SKIP_LITERT = pytest.mark.skipif(not HAS_LITERT, reason="pip install 'mnas[litert]'")
_OPTIONAL = {"executorch": _SKIP_ET, "tflite": _SKIP_LITERT}


def _formats() -> list[object]:
    # torchvision and state_dict are covered fast by tests/cli/test_export.py (a run
    # folder's best and rank-2 archs); ExecuTorch lowering alone takes about a minute.
    slow = {"torchvision": [pytest.mark.slow], "state_dict": [pytest.mark.slow],
            "executorch": [pytest.mark.slow, _SKIP_ET], "tflite": [pytest.mark.slow, _SKIP_LITERT]}
    return [pytest.param(f, marks=slow.get(f, [])) for f in FORMATS]


@pytest.mark.parametrize("fmt", _formats())
def test_searched_arch_round_trips_with_weights(fmt: str, tmp_path: Path) -> None:
    arch = fixture_arch("searched_v3")
    weights = tmp_path / "trained.safetensors"
    save_file(trained_like_weights(arch), str(weights))
    out = tmp_path / f"model{SUFFIX[fmt]}"
    result = export(arch, format=fmt, path=out, weights=weights)
    assert result.max_abs_diff <= TOLERANCE
    assert result.output_scale > 0.5  # the comparison is between outputs of real size
    assert result.files[0] == out and out.is_file()
    if fmt in ("pytorch", "torchvision", "timm"):
        assert result.files == (out, out.with_suffix(".pt"))
        assert out.with_suffix(".pt").is_file()
    else:
        assert result.files == (out,)
    if fmt in ("onnx", "executorch", "tflite"):
        assert result.host_latency is not None and result.host_latency.measured_ms > 0
        line = "\n".join(result.summary_lines())
        runtime = {"onnx": "onnxruntime", "executorch": "executorch", "tflite": "litert"}[fmt]
        fastest = result.host_latency.fastest_ms
        assert fastest is not None and 0 < fastest <= result.host_latency.measured_ms
        assert f"ms fastest) of {result.host_latency.repeats} runs measured on host ({runtime} " \
            in line
        assert "predicted: " in line
    else:
        assert result.host_latency is None
    assert (result.opset == 17) == (fmt == "onnx")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cls"), [("mobilenet_v3_small", "MobileNetV3"),
                                           ("mobilenet_v2_035", "MobileNetV2")])
def test_zoo_model_exports_a_genuine_torchvision_model(name: str, cls: str, tmp_path: Path
                                                       ) -> None:
    import torchvision.models

    arch = get_arch(name).replace(resolution=64)
    result = export(arch, format="torchvision", path=tmp_path / "tv.py")
    assert result.max_abs_diff <= TOLERANCE
    model = _import(tmp_path / "tv.py").build()  # type: ignore[attr-defined]
    assert isinstance(model, getattr(torchvision.models, cls))


def test_weights_that_do_not_fit_are_a_one_line_input_error(tmp_path: Path) -> None:
    arch = fixture_arch("searched_v3")
    other = trained_like_weights(fixture_arch("searched_mnas"))
    weights = tmp_path / "w.pt"
    torch.save(other, weights)
    with pytest.raises(MnasInputError, match="do not fit arch") as info:
        export(arch, format="state_dict", path=tmp_path / "m.safetensors", weights=weights)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "m.safetensors").exists()


def test_existing_file_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"keep me")
    with pytest.raises(MnasInputError, match="already exists; pass --force"):
        export(fixture_arch("searched_mnas"), format="state_dict", path=out)
    assert out.read_bytes() == b"keep me"


def test_existing_weights_beside_the_source_file_is_refused(tmp_path: Path) -> None:
    arch = fixture_arch("searched_mnas")
    (tmp_path / "m.pt").write_bytes(b"keep me")
    weights = tmp_path / "w.safetensors"
    save_file(trained_like_weights(arch), str(weights))
    with pytest.raises(MnasInputError, match=r"m\.pt already exists"):
        export(arch, format="pytorch", path=tmp_path / "m.py", weights=weights)
    assert not (tmp_path / "m.py").exists()
    assert (tmp_path / "m.pt").read_bytes() == b"keep me"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"format": "caffe", "path": "m.py"}, "format must be one of"),
    ({"format": "onnx", "path": "m.py"}, "must end in .onnx"),
    ({"format": "pytorch", "path": "m.py", "opset": 13}, "opset applies to format onnx"),
    ({"format": "onnx", "path": "m.onnx", "opset": 9}, "opset must be an int in 14..20"),
])
def test_bad_requests_are_input_errors(kwargs: dict, message: str, tmp_path: Path) -> None:
    kwargs = dict(kwargs, path=tmp_path / kwargs["path"])
    with pytest.raises(MnasInputError, match=message):
        export(fixture_arch("searched_mnas"), **kwargs)


def test_arch_that_does_not_fit_torchvision_names_the_block(tmp_path: Path) -> None:
    with pytest.raises(MnasInputError, match=r"does not fit torchvision"):
        export(fixture_arch("searched_mnas"), format="torchvision", path=tmp_path / "m.py")
    assert not (tmp_path / "m.py").exists()


def test_missing_executorch_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    import mnas.export._api as api

    monkeypatch.setattr(api, "executorch_available", lambda: False)
    with pytest.raises(MnasInputError, match=r"pip install 'mnas\[executorch\]'"):
        export(fixture_arch("searched_mnas"), format="executorch", path=tmp_path / "m.pte")


def test_missing_litert_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "litert_torch" else real(name, *a))
    with pytest.raises(MnasInputError, match=r"format tflite needs LiteRT.*'mnas\[litert\]'"):
        export(fixture_arch("searched_mnas"), format="tflite", path=tmp_path / "m.tflite")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@_SKIP_LITERT
def test_mobilenet_v3_small_tflite_runs_in_litert(tmp_path: Path) -> None:
    """The issue's check: the written file, run by ai_edge_litert's Interpreter here, within
    1e-4 of the built model (mnas's own check ran in a fresh process too)."""
    from ai_edge_litert.interpreter import Interpreter

    from mnas.export._api import check_batch, reference_model

    arch = get_arch("mobilenet_v3_small")
    out = tmp_path / "m.tflite"
    weights = trained_like_weights(arch)
    result = export(arch, format="tflite", path=out, weights=weights)
    assert result.max_abs_diff <= TOLERANCE and result.host_latency is not None
    assert "litert" in result.host_latency.runtime
    interpreter = Interpreter(model_path=str(out), num_threads=1)
    interpreter.allocate_tensors()
    batch = check_batch(arch)
    with torch.no_grad():
        expected = reference_model(arch, weights)(batch)
    outs = []
    for image in batch:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None].numpy())
        interpreter.invoke()
        outs.append(torch.from_numpy(
            interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()))
    assert float((torch.cat(outs) - expected).abs().max()) <= TOLERANCE
    assert float(expected.abs().max()) > 0.5


# ------------------------------------------------------------------ slow: the whole zoo
def _zoo_cases() -> list[object]:
    cases = []
    for name in list_archs():
        for fmt in FORMATS:
            marks = [pytest.mark.slow] + ([_OPTIONAL[fmt]] if fmt in _OPTIONAL else [])
            cases.append(pytest.param(name, fmt, marks=marks, id=f"{name}-{fmt}"))
    return cases


@pytest.mark.parametrize(("name", "fmt"), _zoo_cases())
def test_zoo_round_trips(name: str, fmt: str, tmp_path: Path) -> None:
    arch = get_arch(name).replace(resolution=96)
    if fmt == "torchvision":
        try:
            torchvision_config(arch)
        except MnasInputError:
            pytest.skip(f"{name} does not fit a torchvision class")
    result = export(arch, format=fmt, path=tmp_path / f"m{SUFFIX[fmt]}")
    assert result.max_abs_diff <= TOLERANCE
