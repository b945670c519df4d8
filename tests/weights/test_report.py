"""A run's report says whether its best architecture has weights in a known supernet."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from mnas.arch import save_arch
from mnas.search._report import render_report
from mnas.weights import SUPERNETS

EXAMPLE = Path(__file__).resolve().parents[2] / "runs" / "example-pixel4-20ms"


def test_the_report_names_the_supernet_and_the_command(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(EXAMPLE, run)
    text = render_report(run).read_text()
    assert "- trained weights: none from a known supernet" in text  # a mobilenetv3-space arch
    w12 = SUPERNETS["ofa-mbv3-w1.2"]
    save_arch(w12.arch(w12.random_subnet(random.Random(1))), run / "top" / "rank_01.json")
    text = render_report(run).read_text()
    line = next(x for x in text.splitlines() if x.startswith("- trained weights"))
    assert "available — a subnet of once-for-all's `ofa_mbv3_d234_e346_k357_w1.2`" in line
    assert f"mnas weights extract --supernet ofa-mbv3-w1.2=PATH --arch {run}" in line
    assert text.index(line) < text.index("## Runners-up")
