"""The README's Python API block runs verbatim."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _api_block() -> str:
    text = README.read_text(encoding="utf-8")
    after = text.split("The Python API mirrors the CLI:", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.S)
    assert match is not None, "the README lost its Python API block"
    return match.group(1)


def test_python_api_block_runs_as_written(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(_api_block(), str(README), "exec"), {})  # our own README
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "ArchCosts(params=5483032, macs=216589760)" in out and "estimated" in out
    assert (tmp_path / "m.onnx").is_file() and "imagenet" in out
