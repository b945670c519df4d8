"""``export(..., fresh_process=False, check_resolution=64)``: the check ``mnas search`` runs on
``best/model.py``: the same load and comparison in this process, on a smaller input."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnas.export import export
from mnas.export._verify import load_generated_module
from mnas.models import get_arch


def test_checked_in_this_process_on_a_small_input(tmp_path: Path) -> None:
    import torch

    arch = get_arch("mobilenet_v3_small")
    threads = torch.get_num_threads()
    result = export(arch, format="pytorch", path=tmp_path / "m.py", fresh_process=False,
                    check_resolution=64)
    assert torch.get_num_threads() == threads  # one thread while checking, then restored
    assert result.checked_in == "this process" and result.check_input == (2, 3, 64, 64)
    assert result.max_abs_diff <= result.tolerance and result.output_scale > 1e-3
    assert any("checked in this process" in line for line in result.summary_lines())
    model = load_generated_module(tmp_path / "m.py").build()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)  # any resolution runs


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"format": "onnx", "path": "m.onnx", "fresh_process": False}, "own runtime"),
    ({"format": "pytorch", "path": "m.py", "check_resolution": 16}, ">= 32"),
])
def test_misused_options_are_refused(kwargs: dict, error: str, tmp_path: Path) -> None:
    kwargs = {**kwargs, "path": tmp_path / kwargs["path"]}
    with pytest.raises(ValueError, match=error):
        export(get_arch("mobilenet_v3_small"), **kwargs)
    assert not list(tmp_path.iterdir())
