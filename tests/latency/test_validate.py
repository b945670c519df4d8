"""Validation metrics and the validate loop (with a deterministic runner)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from latency_fakes import FakeRunner

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.latency import load_table, unique_op_keys
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


class _OrderRunner(FakeRunner):
    """Records which prepared model each timing call ran."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.order: list[int] = []

    def prepare(self, model, example):
        prepared = super().prepare(model, example)
        index = self.prepared_count = getattr(self, "prepared_count", 0) + 1
        inner = prepared.time

        def timed(*, warmup: int, repeats: int):
            self.order.append(index)
            return inner(warmup=warmup, repeats=repeats)

        prepared.time = timed
        return prepared


def test_networks_are_timed_round_robin_and_a_slow_spell_does_not_count() -> None:
    from mnas.latency._builder import time_networks

    space = load_space("mobilenetv3")
    rng = random.Random(2)
    archs = [space.random_arch(rng).replace(resolution=32) for _ in range(4)]
    settings = BuildSettings(network_warmup=1, network_repeats=3, network_rounds=5)
    clean = time_networks(FakeRunner(), archs, settings=settings)
    # calls 1-4 are the warm-ups; the spell covers the first two rounds (calls 5-12)
    runner = _OrderRunner(slow_calls=set(range(5, 13)))
    timed = time_networks(runner, archs, settings=settings)
    assert runner.order == [1, 2, 3, 4] + [1, 2, 3, 4] * 5  # warm-up, then round-robin
    for got, want in zip(timed, clean, strict=True):
        assert got.timing.n == 15
        assert got.timing.min_ms == pytest.approx(want.timing.min_ms)  # the spell is gone
        assert got.timing.median_ms == pytest.approx(want.timing.median_ms)  # 9 of 15 calm
        assert got.spread == pytest.approx(1.3) and want.spread == pytest.approx(1.0)
    # in groups of 3, the fourth network is loaded after the first three are done
    grouped = _OrderRunner()
    time_networks(grouped, archs, settings=settings, group=3)
    assert grouped.order == [1, 2, 3] + [1, 2, 3] * 5 + [4] + [4] * 5


VALIDATE_SETTINGS = BuildSettings(warmup=0, repeats=2, sentinel_repeats=1, checkpoint_s=0.0,
                                  network_repeats=2, network_rounds=2, passes=1)


def _fake_table(tmp_path: Path, *, calibration: int, tested: int
                ) -> tuple[Path, list[Arch], list[Arch]]:
    """A table built on the fake device with ``calibration`` networks of ``mobilenetv3`` (32
    px), and ``tested`` other networks it has every key of: ``(path, calibration, tested)``."""
    from mnas.latency._builder import calibration_archs

    space = load_space("mobilenetv3")
    calib = [a.replace(resolution=32) for a in calibration_archs(space, calibration, seed=0)]
    rng = random.Random(7)
    archs = [space.random_arch(rng).replace(resolution=32, name=f"a{i}") for i in range(tested)]
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t",
                 keys=unique_op_keys([*archs, *calib]), networks=calib,
                 settings=VALIDATE_SETTINGS).run()
    return path, calib, archs


class _SlowerRunner(FakeRunner):
    """The same fake device, now running ``factor`` times slower throughout."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def slowdown(self) -> float:
        return self.factor


def test_reference_networks_scale_predictions_to_the_speed_now(tmp_path: Path) -> None:
    path, calib, archs = _fake_table(tmp_path, calibration=6, tested=5)
    settings = VALIDATE_SETTINGS
    table = load_table(path)
    steady = validate_table(table, archs, runner=FakeRunner(), settings=settings)
    slow = validate_table(table, archs, runner=_SlowerRunner(1.25), settings=settings,
                          references=calib[:4])
    assert steady.references == 0 and steady.speed_factor == 1.0 and steady.scaled is None
    assert slow.references == 4 and slow.speed_factor == pytest.approx(1.25)
    # scaled, the predictions are exactly as good as on the steady machine; raw, 25% off
    assert slow.scaled["mape"] == pytest.approx(steady.mape)
    assert [r.scaled_pct_err for r in slow.rows] == pytest.approx(
        [r.pct_err for r in steady.rows])
    assert slow.mape > steady.mape + 0.1
    # references are never networks under test
    again = validate_table(table, calib[:3], runner=FakeRunner(), settings=settings,
                           references=calib[:4])
    assert again.references == 1


def test_reference_archs_are_the_tables_own_calibration_networks(tmp_path: Path) -> None:
    from mnas.latency._builder import arch_id, calibration_archs
    from mnas.latency._validate import reference_archs

    space = load_space("mobilenetv3")
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=[],
                 settings=BuildSettings(calibration_networks=0)).run()
    table = load_table(path)
    assert reference_archs(table, space, 8) == []  # no calibration networks: no references
    drawn = calibration_archs(space, 24, seed=0)
    table.header.extra["calibration_networks"] = {
        arch_id(a): {"measured_ms": 1.0} for a in (drawn[5], drawn[2], drawn[9])}
    assert reference_archs(table, space, 8) == [drawn[2], drawn[5], drawn[9]]
    assert reference_archs(table, space, 2) == [drawn[2], drawn[5]]


def test_recalibrating_refits_the_calibration_on_the_references_timed_now(
        tmp_path: Path) -> None:
    path, calib, archs = _fake_table(tmp_path, calibration=8, tested=5)
    settings = VALIDATE_SETTINGS
    table = load_table(path)
    stored = table.calibration
    steady = validate_table(table, archs, runner=FakeRunner(), settings=settings,
                            references=calib, recalibrate=True)
    slow = validate_table(table, archs, runner=_SlowerRunner(1.25), settings=settings,
                          references=calib, recalibrate=True)
    # on the machine of the build the re-fit is the stored calibration
    assert steady.recalibration["n"] == 8 == stored.n
    assert steady.recalibration["a"] == pytest.approx(stored.a)
    assert [r.recalibrated_ms for r in steady.rows] == pytest.approx(
        [r.predicted_ms for r in steady.rows])
    # 25% slower throughout: every coefficient is re-fitted 1.25x, so its predictions are as
    # good as the stored calibration's on the steady machine, and the table is unchanged
    assert slow.recalibration["a"] == pytest.approx(1.25 * stored.a)
    assert [r.recalibrated_ms for r in slow.rows] == pytest.approx(
        [1.25 * r.predicted_ms for r in slow.rows])
    assert slow.recalibrated["mape"] == pytest.approx(steady.mape)
    assert slow.mape > steady.mape + 0.1 and load_table(path).calibration == stored
    assert slow.to_dict()["recalibration"]["n"] == 8
    assert validate_table(table, archs, runner=FakeRunner(),
                          settings=settings).recalibrated is None
    with pytest.raises(MnasInputError, match="at least 6"):
        validate_table(table, archs, runner=FakeRunner(), settings=settings,
                       references=calib[:5], recalibrate=True)


def test_references_share_the_round_robin_of_the_networks_under_test(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mnas.latency import _validate
    from mnas.latency._builder import arch_id, time_networks

    path, calib, archs = _fake_table(tmp_path, calibration=6, tested=9)
    settings = VALIDATE_SETTINGS
    calls: list[tuple[list[str], int]] = []

    def recording(runner, networks, **kwargs):
        calls.append(([arch_id(a) for a in networks], kwargs["group"]))
        return time_networks(runner, networks, **kwargs)

    monkeypatch.setattr(_validate, "time_networks", recording)
    plain = validate_table(load_table(path), archs, runner=FakeRunner(), settings=settings)
    mixed = validate_table(load_table(path), archs, runner=FakeRunner(), settings=settings,
                           references=calib)
    (order, group), = calls[1:]
    refs = {arch_id(a) for a in calib}
    assert group == 15 == len(order)  # all 15 in one round-robin
    flags = [ident in refs for ident in order]
    assert flags != sorted(flags) and not flags[0]  # spread among them, not appended
    # the rows come back in the order of the networks under test, with their own timings
    assert [r.name for r in mixed.rows] == [a.name for a in archs]
    assert [r.measured_ms for r in mixed.rows] == pytest.approx(
        [r.measured_ms for r in plain.rows])
