"""``mnas export``: sources (run folder, rank, file, zoo name), errors, output."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from mnas.arch import Arch, load_arch, save_arch
from mnas.cli import main
from mnas.models import get_arch

ARCHS = Path(__file__).resolve().parents[1] / "export" / "archs"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def run_folder(tmp_path: Path) -> Path:
    """A run folder as `mnas search` leaves it: best/arch.json and top/rank_NN.json."""
    run = tmp_path / "runs" / "example-pixel4-20ms"
    (run / "best").mkdir(parents=True)
    (run / "top").mkdir()
    shutil.copy(ARCHS / "searched_v3.json", run / "best" / "arch.json")
    shutil.copy(ARCHS / "searched_v3.json", run / "top" / "rank_01.json")
    shutil.copy(ARCHS / "searched_mnas.json", run / "top" / "rank_02.json")
    return run


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_run_folder_to_torchvision_gives_a_genuine_mobilenet_v3(
        run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torchvision.models

    out = tmp_path / "m.py"
    assert main(["export", str(run_folder), "--format", "torchvision", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "torchvision.models.MobileNetV3" in printed and "max abs diff" in printed
    spec = importlib.util.spec_from_file_location("m", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.build(), torchvision.models.MobileNetV3)

    # the same path again: refused, one line, exit 2, the file untouched
    before = out.read_bytes()
    assert main(["export", str(run_folder), "--format", "torchvision", "-o", str(out)]) == 2
    assert "already exists; pass --force" in _error_line(capsys)
    assert out.read_bytes() == before


def test_rank_json_and_force(run_folder: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"old")
    argv = ["export", str(run_folder), "--rank", "2", "--format", "state_dict", "-o", str(out),
            "--json", "--force"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arch"] == "searched-mnasnet-like"
    assert result["max_abs_diff"] <= result["tolerance"] == 1e-4 * max(1, result["output_scale"])
    assert result["files"] == [str(out)]
    from safetensors import safe_open

    with safe_open(str(out), "pt") as handle:
        stored = handle.metadata()["mnas.arch"]
    assert Arch.from_dict(json.loads(stored)) == load_arch(ARCHS / "searched_mnas.json")


@pytest.mark.parametrize(("argv", "message"), [
    (["--rank", "9"], "has no architecture of rank 9"),
    (["--format", "onnx", "--opset", "13"], "opset must be an int in 14..20"),
    (["-o", "model.txt"], "must end in .safetensors"),
])
def test_bad_input_is_one_line_exit_2(argv: list[str], message: str, run_folder: Path,
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = {"--format": "state_dict", "-o": str(tmp_path / "m.safetensors")}
    args = ["export", str(run_folder)]
    overrides = dict(zip(argv[::2], argv[1::2], strict=True))
    if "-o" in overrides:
        overrides["-o"] = str(tmp_path / overrides["-o"])
    if overrides.get("--format") == "onnx":
        base["-o"] = str(tmp_path / "m.onnx")
    for key, value in {**base, **overrides}.items():
        args += [key, value]
    assert main(args) == 2
    assert message in _error_line(capsys)


def test_rank_needs_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch_file = tmp_path / "a.json"
    save_arch(get_arch("mobilenet_v3_small"), arch_file)
    assert main(["export", str(arch_file), "--rank", "1", "-f", "onnx",
                 "-o", str(tmp_path / "m.onnx")]) == 2
    assert "--rank applies to a run folder" in _error_line(capsys)


def test_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path), "-f", "onnx", "-o", str(tmp_path / "m.onnx")]) == 2
    assert "not a finished run" in _error_line(capsys)


def test_unknown_format_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    assert main(["export", "mobilenet_v3_small", "-f", "caffe", "-o", str(tmp_path / "m")]) == 2
    assert "invalid choice: 'caffe'" in _error_line(capsys)


def test_missing_executorch_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import mnas.export._api as api

    monkeypatch.setattr(api, "executorch_available", lambda: False)
    assert main(["export", "mobilenet_v3_small", "-f", "executorch",
                 "-o", str(tmp_path / "m.pte")]) == 2
    assert "pip install 'mnas[executorch]'" in _error_line(capsys)
    assert not (tmp_path / "m.pte").exists()
