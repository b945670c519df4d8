"""``mnas search`` / ``mnas report`` bad input: exit code 2 and one line on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnas.cli import main


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    return err


def _search(tmp_path: Path, *extra: str) -> list[str]:
    return ["search", "--runs-dir", str(tmp_path), "--no-progress", "--proxy", "flops",
            "--trials", "2", *extra]


def test_unknown_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, _search(tmp_path, "--target", "nokia3310", "--budget", "20"))
    assert "nokia3310" in err and "pixel4" in err


def test_unknown_space(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, _search(tmp_path, "--target", "pixel4", "--budget", "20ms",
                                          "--space", "nosuchspace"))
    assert "nosuchspace" in err


def test_malformed_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages: [\n  - {type: ir, kernel: [3,\n")
    err = _one_line_error(capsys, _search(tmp_path, "--target", "pixel4", "--budget", "20ms",
                                          "--space", str(bad)))
    assert "bad.yaml" in err


def test_impossible_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, _search(tmp_path, "--target", "pixel4", "--budget", "1ms"))
    assert "fastest" in err and "ms" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("budget", ["fast", "-3ms", "20fps"])
def test_unparseable_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            budget: str) -> None:
    err = _one_line_error(capsys, _search(tmp_path, "--target", "pixel4", "--budget", budget))
    assert "budget" in err


def test_unknown_proxy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(capsys, ["search", "--runs-dir", str(tmp_path), "--target", "pixel4",
                             "--budget", "20ms", "--proxy", "nope", "--no-progress"])


def test_report_on_non_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, ["report", str(tmp_path)])
    assert "not a run folder" in err
