"""``mnas accuracy fit|show`` and ``mnas score --proxy MODEL|labels:SRC`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnas.cli import main


@pytest.fixture
def labels_dir(accel_folder: Path) -> Path:
    """40 labelled Accel-NASBench arch files (the shared ``accel_folder`` fixture)."""
    return accel_folder


def test_fit_show_score(labels_dir: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.json"
    assert main(["accuracy", "fit", "--labels", str(labels_dir), "--space", "accel-nasbench",
                 "--family", "ridge", "-o", str(model)]) == 0
    out = capsys.readouterr()
    assert "Kendall tau" in out.out and "candidate ridge" in out.err
    assert main(["accuracy", "show", str(model)]) == 0
    shown = capsys.readouterr().out
    assert "label_count   40" in shown and "encoding      space" in shown

    arch = sorted(labels_dir.glob("*.json"))[0]
    assert main(["score", "--arch", str(arch), "--proxy", str(model), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    truth = json.loads(arch.read_text())["truth"]["accuracy"]
    assert row["estimator"] == "m" and "5-fold cross-validation" in row["quality"]
    assert abs(row["score"] - truth) < 3.0

    assert main(["score", "--arch", str(arch), "--proxy", f"labels:{labels_dir}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == truth


def test_shipped_models_are_listed_and_shown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accuracy", "show", "imagenet-arch", "--json"]) == 0
    header = json.loads(capsys.readouterr().out)
    assert header["encoding"] == "arch" and header["space"] is None
    assert header["label_count"] == 3864 and header["quality"]["n"] == 3864


@pytest.mark.parametrize("args, match", [
    (["--labels", "/no/such/labels"], "no such labels folder"),
    (["--labels", "{empty}"], "no arch files"),
    (["--labels", "{labels}", "--space", "mobilenetv3"], "is not in space 'mobilenetv3'"),
])
def test_bad_fits_exit_2_with_one_line(labels_dir: Path, tmp_path: Path, args: list[str],
                                       match: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty", labels=labels_dir) for a in args]
    assert main(["accuracy", "fit", *args, "-o", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()


def test_unlabelled_arch_is_one_line(labels_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--arch", "mobilenet_v2", "--proxy", f"labels:{labels_dir}"]) == 2
    err = capsys.readouterr().err
    assert "is not labelled" in err and err.count("\n") == 1
