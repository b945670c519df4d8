"""Nothing in an input file executes: pickles posing as weights, code in arch fields.

(YAML python tags are refused in ``test_fuzz_loaders.py``.) Each payload would create
a marker file if it ran; the tests assert the marker never appears.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from mnas.arch import arch_from_dict
from mnas.errors import MnasInputError

from ._faults import TINY_ARCH, one_error_line


class _Payload:
    """Unpickling this calls ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _malicious_weights(tmp_path: Path, marker: Path) -> Path:
    """A file that ``torch.load(weights_only=False)`` would turn into a code call.

    It looks like a real state_dict (the tiny arch's tensors) with one poisoned value.
    """
    from mnas.models import build

    state = dict(build(arch_from_dict(TINY_ARCH)).state_dict())
    state["stem.conv.weight"] = _Payload(marker)  # type: ignore[assignment]
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    return path


def test_the_payload_is_live(tmp_path: Path) -> None:
    """Control: the crafted file does run code under an unsafe load (so the tests mean it)."""
    marker = tmp_path / "control"
    path = _malicious_weights(tmp_path, marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("fmt", ["pytorch", "state_dict"])
def test_pickle_as_weights_is_refused_and_never_runs(cli, tmp_path: Path, fmt: str) -> None:
    marker = tmp_path / "executed"
    weights = _malicious_weights(tmp_path, marker)
    arch = tmp_path / "tiny.json"
    arch.write_text(json.dumps(TINY_ARCH))
    out = tmp_path / ("m.py" if fmt == "pytorch" else "m.safetensors")
    code, _out, err = cli("export", str(arch), "--format", fmt, "-o", str(out), "--weights",
                          str(weights))
    assert code == 2
    assert "weights" in one_error_line(err)
    assert not marker.exists()
    assert not out.exists()


def test_load_weights_api_refuses_the_pickle(tmp_path: Path) -> None:
    from mnas.export import load_weights

    marker = tmp_path / "executed"
    with pytest.raises(MnasInputError):
        load_weights(_malicious_weights(tmp_path, marker))
    assert not marker.exists()


_CODE = "__import__('os').system('touch {m}')"
PAYLOADS = [
    '"""\n' + _CODE + '\n"""',
    "'''\n" + _CODE + "\n'''",
    "x\n" + _CODE + "\n#",
    "x'; " + _CODE + "; '",
    'x"); ' + _CODE + ' #',
    "x\\\n" + _CODE,
    "x\r" + _CODE,
    "x\u2028" + _CODE,
    "{{" + _CODE + "}}",
]


def _names_called(tree: ast.AST) -> set[str]:
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return called


_FAST = {0, 3}  # each export imports its file in a fresh process (seconds): the rest is slow


@pytest.mark.parametrize("payload", [
    pytest.param(p, id=str(i), marks=() if i in _FAST else pytest.mark.slow)
    for i, p in enumerate(PAYLOADS)])
def test_code_in_the_arch_name_stays_inert_text(cli, tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "executed"
    doc = dict(TINY_ARCH, name=payload.replace("{m}", str(marker)))
    arch = tmp_path / "evil.json"
    arch.write_text(json.dumps(doc))
    out = tmp_path / "evil_model.py"
    code, _out, err = cli("export", str(arch), "--format", "pytorch", "-o", str(out))
    if code == 2:  # refused is fine: one line, nothing written
        one_error_line(err)
        assert not out.exists()
        assert not marker.exists()
        return
    assert code == 0, err
    assert not marker.exists()  # the export's own fresh-process check imported it
    source = out.read_text()
    tree = ast.parse(source)
    assert not {"system", "__import__"} & _names_called(tree)
    # The payload's code may only survive as inert text: never as an executable line.
    for line in source.splitlines():
        if "system" in line:
            assert line.lstrip().startswith("#") or "?" in line, line
    spec = importlib.util.spec_from_file_location("evil_model_under_test", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("evil_model_under_test", None)
    spec.loader.exec_module(module)
    assert not marker.exists()


@pytest.mark.parametrize("field", ["act_default", "se_gate", "head", "stem"])
def test_code_in_other_arch_fields_is_refused(tmp_path: Path, field: str) -> None:
    marker = tmp_path / "executed"
    doc = json.loads(json.dumps(TINY_ARCH))
    evil = _CODE.format(m=marker)
    doc[field] = ({"channels": 8, "stride": 2, "act": evil} if field == "stem"
                  else {"type": evil} if field == "head" else evil)
    with pytest.raises(MnasInputError):
        arch_from_dict(doc)
    assert not marker.exists()


def test_code_in_a_block_token_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    doc = dict(TINY_ARCH, blocks=[[f"ir_r1_k3_s1_e6_c16_{_CODE.format(m=marker)}"]])
    with pytest.raises(MnasInputError):
        arch_from_dict(doc)
    assert not marker.exists()


def test_raw_pickle_as_weights_prints_one_line_only(cli, tmp_path: Path) -> None:
    import pickle
    import warnings

    marker = tmp_path / "executed"
    weights = tmp_path / "weights.pt"
    weights.write_bytes(pickle.dumps({"stem.conv.weight": _Payload(marker)}, protocol=4))
    arch = tmp_path / "tiny.json"
    arch.write_text(json.dumps(TINY_ARCH))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # what a user's interpreter prints to stderr
        code, _out, err = cli("export", str(arch), "--format", "pytorch", "-o",
                              str(tmp_path / "m.py"), "--weights", str(weights))
    assert code == 2
    one_error_line(err)
    assert not marker.exists()
    assert not caught, [str(w.message)[:80] for w in caught]
