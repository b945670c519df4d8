"""``mnas search --proxy labels:SRC`` refuses bad labels in one line, exit 2, no traceback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mnas.arch import save_arch
from mnas.cli import main
from mnas.models import get_arch


def _labels(folder: Path, accuracy: float | str = 71.9) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arch = get_arch("mobilenet_v2")
    save_arch(dataclasses.replace(arch, extra={**arch.extra, "truth": {"accuracy": accuracy}}),
              folder / "mobilenet_v2.json")
    return folder


def _search(tmp_path: Path, labels: str, space: str = "mobilenetv2") -> list[str]:
    return ["search", "--target", "pixel4", "--budget", "40ms", "--space", space,
            "--proxy", f"labels:{labels}", "--sampler", "random", "--trials", "3",
            "--runs-dir", str(tmp_path / "runs"), "--name", "run", "--no-progress"]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_labels_of_another_space_are_refused_before_any_trial(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = _labels(tmp_path / "labels")
    assert main(_search(tmp_path, str(labels), space="mobilenetv3")) == 2
    err = _one_line(capsys)
    assert "holds no architecture of space 'mobilenetv3'" in err and "--space" in err
    assert not (tmp_path / "runs" / "run" / "trials.csv").exists()


def test_an_unlabelled_architecture_stops_the_search_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = _labels(tmp_path / "labels")  # MobileNetV2 1.0 is in the space, little else is
    assert main(_search(tmp_path, str(labels))) == 2
    err = _one_line(capsys)
    assert "is not labelled in" in err and "mnas accuracy fit" in err


@pytest.mark.parametrize(("source", "message"), [
    ("missing", "no such labels folder"),
    ("empty", "no arch files"),
    ("nan.csv", "finite number"),
])
def test_bad_label_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str,
                           message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "nan.csv").write_text("arch,accuracy\nmobilenet_v2,nan\n")
    assert main(_search(tmp_path, str(tmp_path / source))) == 2
    assert message in _one_line(capsys)
