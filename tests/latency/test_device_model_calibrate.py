"""``mnas latency calibrate``: a user's whole-network timings correct an estimated table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mnas.cli import main
from mnas.errors import MnasInputError
from mnas.latency import TablePredictor, load_table
from mnas.latency._phone_calibrate import calibrate_table, read_measurements
from mnas.models._registry import get_arch

SHIPPED = Path(__file__).resolve().parents[2] / "latency_tables" / "pixel4.json"
NETS = ["mobilenet_v3_small", "mobilenet_v3_large_075", "mobilenet_v3_large", "mobilenet_v2",
        "mnasnet_a1", "mobilenet_v1", "mnasnet_b1", "mobilenet_v2_035", "efficientnet_lite0"]


@pytest.fixture
def table(tmp_path: Path) -> Path:
    copy = tmp_path / "pixel4.json"
    shutil.copy(SHIPPED, copy)
    return copy


def _write_csv(path: Path, scale: float, names: list[str], table: Path) -> Path:
    predictor = TablePredictor(load_table(table))
    lines = ["arch,ms"] + [f"{n},{scale * predictor.predict(get_arch(n)).latency_ms:.4f}"
                           for n in names]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recovers_a_uniform_speed_difference(table: Path, tmp_path: Path) -> None:
    """A phone 30% slower than the estimate on every network: a = 1.3, b = 0, tiny error."""
    before = SHIPPED.read_bytes()
    csv = _write_csv(tmp_path / "mine.csv", 1.3, NETS, table)
    out = tmp_path / "my-pixel4.json"
    result = calibrate_table(target=str(table), measurements=csv, output=out)
    assert result.calibration.a == pytest.approx(1.3, rel=1e-3)
    assert result.calibration.b == pytest.approx(0.0, abs=1e-3)
    assert result.calibration.n == len(NETS) and result.error_band == 0.03
    new = load_table(out)
    assert new.header.extra["calibrated"] is True and new.header.extra["calibration_n"] == 9
    assert new.header.provenance == "estimated"  # calibrating never makes an estimate measured
    assert new.header.target == "my-pixel4" and new.header.error_band == 0.03
    assert new.entries == load_table(table).entries and new.device_model
    ms = TablePredictor(new).predict(get_arch("mobilenet_v3_large")).latency_ms
    old = TablePredictor(load_table(table)).predict(get_arch("mobilenet_v3_large")).latency_ms
    assert ms == pytest.approx(1.3 * old, rel=1e-3)
    assert SHIPPED.read_bytes() == before


def test_few_networks_fit_a_slope_only_and_band_reflects_error(table: Path,
                                                               tmp_path: Path) -> None:
    csv = tmp_path / "few.json"
    csv.write_text(json.dumps({"mobilenet_v3_large": 19.0, "mobilenet_v2": 24.5,
                               "mobilenet_v3_small": 6.9}))
    result = calibrate_table(target=str(table), measurements=csv, output=tmp_path / "o.json")
    assert result.calibration.b == 0.0 and result.calibration.n == 3
    worst = max(abs(r["after_ms"] / r["measured_ms"] - 1) for r in result.rows)
    assert result.error_band >= worst


def test_never_overwrites_without_force(table: Path, tmp_path: Path) -> None:
    csv = _write_csv(tmp_path / "m.csv", 1.1, NETS[:4], table)
    with pytest.raises(MnasInputError, match="pass -o OUT.json"):
        calibrate_table(target=str(table), measurements=csv)
    out = tmp_path / "exists.json"
    out.write_text("{}")
    with pytest.raises(MnasInputError, match="exists; pass --force"):
        calibrate_table(target=str(table), measurements=csv, output=out)
    calibrate_table(target=str(table), measurements=csv, force=True)  # in place, asked for
    assert load_table(table).header.extra["calibrated"] is True


def test_measurement_formats_agree(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("name,latency_ms\nmobilenet_v2,20.5\nmnasnet_a1, 22\n")
    listed = tmp_path / "b.json"
    listed.write_text(json.dumps([{"arch": "mobilenet_v2", "ms": 20.5},
                                  {"arch": "mnasnet_a1", "measured_ms": 22}]))
    wrapped = tmp_path / "c.json"
    wrapped.write_text(json.dumps({"measurements": json.loads(listed.read_text())}))
    assert read_measurements(csv) == read_measurements(listed) == read_measurements(wrapped)


@pytest.mark.parametrize(("text", "match"), [
    ("arch,speed\nmobilenet_v2,3\n", "latency column"),
    ("arch,ms\nmobilenet_v2,-3\n", "row 1: latency must be a number of ms in \\(0, 1e\\+06\\]"),
    ("arch,ms\nmobilenet_v2,fast\n", "row 1: latency must be a number"),
    ("arch,ms\n", "no measurements"),
])
def test_bad_measurement_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MnasInputError, match=match):
        read_measurements(path)


def test_arch_files_relative_to_the_measurements(table: Path, tmp_path: Path) -> None:
    arch = get_arch("mobilenet_v2").replace(name="mine", resolution=160)
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "mine.json").write_text(arch.to_json())
    csv = tmp_path / "m.csv"
    csv.write_text("arch,ms\nnets/mine.json,12.0\nmobilenet_v2,23.0\nnope_net,3\n")
    with pytest.raises(MnasInputError, match="'nope_net'.*neither a zoo name"):
        calibrate_table(target=str(table), measurements=csv, output=tmp_path / "o.json")
    csv.write_text("arch,ms\nnets/mine.json,12.0\nmobilenet_v2,23.0\n")
    result = calibrate_table(target=str(table), measurements=csv, output=tmp_path / "o.json")
    assert [r["arch"] for r in result.rows] == ["nets/mine.json", "mobilenet_v2"]


def test_cli_exit_codes(table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _write_csv(tmp_path / "m.csv", 0.9, NETS[:5], table)
    out = tmp_path / "cal.json"
    assert main(["latency", "calibrate", "--target", str(table), "--measurements", str(csv),
                 "-o", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"] == pytest.approx(0.9, rel=1e-3) and data["n"] == 5
    assert main(["latency", "calibrate", "--target", str(table), "--measurements",
                 str(csv)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-o OUT.json" in err
