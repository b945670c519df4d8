"""Validation metrics and the validate loop (with a deterministic runner)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from latency_fakes import FakeRunner

from mnas.errors import MnasInputError
from mnas.latency import load_table
from mnas.latency._builder import BuildSettings, TableBuilder
from mnas.latency._validate import kendall_tau, runner_for_table, validate_table
from mnas.spaces import load_space


def test_kendall_tau_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    x = [rng.random() for _ in range(30)]
    y = [v + rng.gauss(0, 0.2) for v in x]
    y[3] = y[4]  # a tie
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert kendall_tau([1, 2, 3], [1, 2, 3]) == 1.0
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0


def test_validate_reports_metrics(tmp_path: Path) -> None:
    space = load_space("mobilenetv3")
    rng = random.Random(5)
    archs = [space.random_arch(rng).replace(resolution=32, name=f"a{i}") for i in range(4)]
    settings = BuildSettings(warmup=0, repeats=2, sentinel_repeats=1, checkpoint_s=0.0,
                             network_repeats=2)
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=[], networks=archs,
                 settings=settings).run()
    table = load_table(path)
    report = validate_table(table, archs, runner=FakeRunner(), settings=settings)
    assert report.n == 4 and len(report.rows) == 4
    assert report.mape == pytest.approx(table.calibration.mape)
    assert 0 <= report.within_10pct <= 1 and -1 <= report.kendall_tau <= 1
    data = report.to_dict()
    assert {"n", "mape", "within_10pct", "kendall_tau", "max_abs_pct_err", "rows"} <= set(data)


def test_validate_refuses_a_table_from_another_cpu(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=[],
                 settings=BuildSettings(calibration_networks=0)).run()
    with pytest.raises(MnasInputError, match="Fake CPU"):
        runner_for_table(load_table(path))
