"""CLI: zoo, arch show, space show/sample; exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnas.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_arch_show_json_reports_torchvision_param_count(capsys):
    code, out, _ = _run(capsys, "arch", "show", "mobilenet_v3_large", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["params"] == 5_483_032
    assert data["name"] == "mobilenet_v3_large" and data["resolution"] == 224
    assert abs(data["macs"] / 217e6 - 1) < 0.03 and len(data["blocks"]) == 16


def test_arch_show_timm_and_table(capsys):
    code, out, _ = _run(capsys, "arch", "show", "mobilenet_v3_small", "--format", "timm")
    assert code == 0 and json.loads(out)[0] == ["ds_r1_k3_s2_c16_se0.25_nre"]
    code, out, _ = _run(capsys, "arch", "show", "mobilenet_v2")
    assert code == 0 and "3.505M params" in out


def test_zoo_list(capsys):
    code, out, _ = _run(capsys, "zoo", "list")
    assert code == 0 and "mobilenet_v3_large" in out and "mnasnet_a1" in out


def test_space_show_and_sample(tmp_path: Path, capsys):
    code, out, _ = _run(capsys, "space", "show", "mobilenetv3", "--json")
    assert code == 0 and json.loads(out)["size"] > 1e30
    code, out, _ = _run(capsys, "space", "sample", "mobilenetv3", "--n", "3", "--seed", "4",
                        "-o", str(tmp_path), "--json")
    files = json.loads(out)
    assert code == 0 and len(files) == 3
    code, out, _ = _run(capsys, "arch", "show", files[0], "--json")
    assert code == 0 and json.loads(out)["params"] > 0


@pytest.mark.parametrize("content,fragment", [
    ('{"format": "mnas-arch/1",', "not valid JSON"),
    ('{"format": "mnas-arch/1", "name": "x", "resolution": 32, "num_classes": 10, '
     '"stem": {"channels": 16, "stride": 2}, "blocks": [["ir_r1_k3_s1_e6_c16_zz9"]]}',
     "unknown option 'zz9'"),
    ('{"format": "mnas-arch/1", "name": "x", "resolution": 32, "num_classes": 10, '
     '"stem": {"channels": -16, "stride": 2}, "blocks": [["ir_r1_k3_s1_e6_c16"]]}',
     "stem.channels"),
])
def test_bad_arch_files_exit_2_with_one_line(tmp_path: Path, capsys, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, out, err = _run(capsys, "arch", "show", str(path))
    assert code == 2 and out == ""
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_zoo_name_and_bad_usage_exit_2(capsys):
    code, _, err = _run(capsys, "arch", "show", "mobilenet_v9")
    assert code == 2 and "unknown architecture 'mobilenet_v9'" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "zoo", "lst")
    assert code == 2 and err.count("\n") == 1
    code, _, err = _run(capsys, "space", "sample", "mobilenetv3", "--n", "0", "-o", "x")
    assert code == 2 and "--n must be >= 1" in err


def test_console_script_runs_in_a_subprocess():
    result = subprocess.run([sys.executable, "-m", "mnas.cli", "arch", "show", "nope.json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: nope.json: no such arch file")
    assert "Traceback" not in result.stderr
