"""Latency table files: round trip, and one-line errors for corrupted or edited files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnas.errors import MnasInputError
from mnas.latency import Calibration, LatencyEntry, LatencyTable, TableHeader, load_table


def _table() -> LatencyTable:
    header = TableHeader(target="t", device="box", cpu="Fake CPU", runtime="onnxruntime",
                         runtime_version="1.32.0", threads=1, date="2026-11-28",
                         extra={"clock": "cpu"})
    table = LatencyTable(header=header, calibration=Calibration(a=0.9, b=0.1, n=5, mape=0.02,
                                                                max_abs_pct_err=0.04))
    table.entries["stem-in:32x32x3-out:16x16x16-k3-s2-hswish"] = LatencyEntry(
        median_ms=0.05, p90_ms=0.06, n=25, std_ms=0.004)
    return table


def test_round_trip(tmp_path: Path) -> None:
    table = _table()
    path = table.save(tmp_path / "t.json")
    again = load_table(path)
    assert again.entries == table.entries
    assert again.header == table.header
    assert again.calibration == table.calibration
    assert again.to_dict() == table.to_dict()


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: text.replace('"median_ms": 0.05', '"median_ms": "fast"'), "median_ms"),
    (lambda text: text.replace('"threads": 1', '"threads": 0'), "threads"),
    (lambda text: text.replace('"format": "mnas-latency-table/1"', '"format": "x"'), "format"),
    (lambda text: text.replace('"provenance": "measured"', '"provenance": "guessed"'),
     "provenance"),
    (lambda text: text.replace('"statistic": "median"', '"statistic": "mean"'), "statistic"),
    (lambda text: text.replace('"statistic": "median"', '"statistic": "min"'), "min_ms"),
    (lambda text: text.replace('"std_ms": 0.004', '"std_ms": 0.004, "min_ms": 0.07'), "min_ms"),
    (lambda text: text.replace('"std_ms": 0.004', '"std_ms": 0.004, "passes": 0'), "passes"),
    (lambda text: text.replace('"c": 0.0', '"c": NaN'), "'c'"),
    (lambda text: text.replace('"w0": 0.0', '"w0": -1.0'), "'w0'"),
    (lambda text: text.replace('"w0": 0.0', '"w0": "big"'), "'w0'"),
])
def test_corrupted_or_edited_table_is_one_line_error(tmp_path: Path, edit, problem) -> None:
    path = _table().save(tmp_path / "t.json")
    path.write_text(edit(path.read_text()))
    with pytest.raises(MnasInputError) as err:
        load_table(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and problem in message


def test_cli_reports_a_corrupted_table_in_one_line(tmp_path: Path, capsys) -> None:
    from mnas.cli import main

    path = _table().save(tmp_path / "t.json")
    path.write_text(path.read_text()[:100])
    assert main(["latency", "show", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and "JSON" in err
    data = json.loads(_table().save(tmp_path / "u.json").read_text())
    assert data["format"] == "mnas-latency-table/1"


def test_min_entries_round_trip_and_drive_the_prediction(tmp_path: Path) -> None:
    from dataclasses import replace

    from mnas.latency import TablePredictor, op_keys
    from mnas.models import get_arch

    arch = get_arch("mobilenet_v3_small").replace(resolution=32)
    keys = op_keys(arch)
    table = _table()
    table.entries.clear()
    for i, key in enumerate(keys):
        table.entries[str(key)] = LatencyEntry(median_ms=0.2 + i / 100, p90_ms=0.3, n=50,
                                               std_ms=0.01, min_ms=0.1 + i / 100, passes=2)
    table.header = replace(table.header, statistic="min")
    table.calibration = Calibration(a=1.1, b=0.2, c=0.5, n=24)
    again = load_table(table.save(tmp_path / "t.json"))
    assert again.entries == table.entries and again.header.statistic == "min"
    assert again.calibration == table.calibration
    # identical blocks share a key (and so its entry)
    expected = (1.1 * sum(table.entries[str(k)].min_ms for k in keys)
                + 0.5 * sum(k.weights for k in keys) / 1e6 + 0.2)
    predictor = TablePredictor(again)
    assert predictor.predict_ms(arch) == pytest.approx(expected)
    assert predictor.predict(arch).latency_ms == pytest.approx(expected)
    median = TablePredictor(LatencyTable(header=replace(again.header, statistic="median"),
                                         entries=again.entries, calibration=again.calibration))
    assert median.predict_ms(arch) == pytest.approx(expected + 1.1 * 0.1 * len(keys))


def test_weights_threshold_round_trips_and_a_table_without_it_predicts_as_before(
        tmp_path: Path) -> None:
    import json

    from mnas.latency import TablePredictor, op_keys
    from mnas.models import get_arch

    arch = get_arch("mobilenet_v1")
    keys = op_keys(arch)
    table = _table()
    table.entries.clear()
    for i, key in enumerate(keys):
        table.entries[str(key)] = LatencyEntry(median_ms=0.2 + i / 100, p90_ms=0.3, n=50,
                                               std_ms=0.01)
    mweights = sum(k.weights for k in keys) / 1e6
    entries = sum(table.entries[str(k)].median_ms for k in keys)
    table.calibration = Calibration(a=1.1, b=0.2, c=0.5, n=24)
    path = table.save(tmp_path / "old.json")
    # a table written before w0 existed (no field) loads with w0 = 0: the linear term
    data = json.loads(path.read_text())
    del data["calibration"]["w0"]
    path.write_text(json.dumps(data))
    old = load_table(path)
    assert old.calibration is not None and old.calibration.w0 == 0
    linear = 1.1 * entries + 0.5 * mweights + 0.2
    assert TablePredictor(old).predict_ms(arch) == pytest.approx(linear)
    # w0 round-trips and charges only the weights beyond it (and nothing below)
    for w0, expected in ((mweights - 1.0, 1.1 * entries + 0.5 * 1.0 + 0.2),
                         (mweights + 1.0, 1.1 * entries + 0.2)):
        table.calibration = Calibration(a=1.1, b=0.2, c=0.5, w0=w0, n=24)
        again = load_table(table.save(tmp_path / "t.json"))
        assert again.calibration == table.calibration
        predictor = TablePredictor(again)
        assert predictor.predict_ms(arch) == pytest.approx(expected)
        assert predictor.predict(arch).latency_ms == pytest.approx(expected)
        assert again.calibration.apply(entries, mweights) == pytest.approx(expected)


def test_entries_merge_passes() -> None:
    first = LatencyEntry(median_ms=0.5, p90_ms=0.6, n=25, std_ms=0.05, min_ms=0.4)
    second = LatencyEntry(median_ms=0.45, p90_ms=0.5, n=25, std_ms=0.02, min_ms=0.42)
    merged = first.merged(second)
    assert merged == LatencyEntry(median_ms=0.45, p90_ms=0.5, n=50, std_ms=0.02, min_ms=0.4,
                                  passes=2)
