"""The host model: fitted on this machine's own timings, labelled estimated, with a band that
holds on networks it did not fit."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnas.errors import MnasInputError
from mnas.latency import OpKey, TablePredictor, load_table, op_keys, resolve_target
from mnas.latency._build_state import build_state, status_note
from mnas.latency._device_model import PhoneCpuModel
from mnas.latency._host_estimate import estimate_host_table
from mnas.latency._host_model import (
    HostModelSettings,
    fit_host_model,
    fit_kernel_model,
    model_band,
    probe_candidates,
    select_probe_keys,
)
from mnas.latency._table import LatencyTable
from mnas.latency._validate import validation_archs
from mnas.latency.runners import OnnxRuntimeRunner
from mnas.models import get_arch
from mnas.spaces import load_space

ROOT = Path(__file__).resolve().parents[2]
ZEN4 = ROOT / "latency_tables" / "host-amd-epyc-f25m17-onnxruntime-1t.json"
VALIDATION = [ROOT / "benchmarks" / "results" / "latency_validate_zen4_w0.json",
              ROOT / "benchmarks" / "results" / "latency_validate_zen4_w0_seed1.json"]


def test_probes_cover_every_kind_activation_and_size_of_the_space() -> None:
    space = load_space("mobilenetv3")
    candidates = probe_candidates(space)
    probes = select_probe_keys(candidates, 48)
    assert len(probes) == 48 == len({str(k) for k in probes})
    kinds = {k.kind for k in candidates}
    assert kinds == {k.kind for k in probes}  # stem, ir, head, and the zoo's ds, dsa, cn
    assert {k.act for k in candidates} == {k.act for k in probes}
    assert {k.kernel for k in candidates if k.kind == "ir"} <= {k.kernel for k in probes}
    sizes = {k.in_size for k in probes}
    assert min(sizes) <= 7 and max(sizes) >= 224
    assert select_probe_keys(candidates, 48) == probes  # seeded


def test_kernel_model_recovers_the_constants_behind_its_data() -> None:
    truth = PhoneCpuModel(gmacs={"conv": 30.0, "pw": 60.0, "dw": 12.0, "fc": 8.0},
                          bandwidth_gbs=40.0, eltwise_gbs=15.0, hswish_gbs=9.0,
                          overhead_us=3.0)
    keys = select_probe_keys(probe_candidates(load_space("mobilenetv3")), 64)
    fitted = fit_kernel_model([(k, truth.predict_ms(k)) for k in keys])
    assert fitted.fit["unit_mape"] < 1e-3
    for key in op_keys(get_arch("mnasnet_a1")):  # units it never saw
        assert fitted.predict_ms(key) == pytest.approx(truth.predict_ms(key), rel=0.01)


def test_kernel_model_needs_enough_positive_times() -> None:
    key = OpKey.parse("stem-in:224x224x3-out:112x112x16-k3-s2-hswish")
    with pytest.raises(MnasInputError, match="at least 8"):
        fit_kernel_model([(key, 1.0)] * 3)
    with pytest.raises(MnasInputError, match="positive"):
        fit_kernel_model([(key, 0.0)] * 9)


def test_band_is_the_worst_held_out_error_rounded_up() -> None:
    assert model_band([0.012, -0.071, 0.03]) == 0.08
    assert model_band([0.01, -0.02]) == 0.05  # never below 5%
    assert model_band([0.9]) == 0.5


def test_model_from_48_probes_of_the_zen4_table_holds_its_band_on_60_stored_networks() -> None:
    """Offline, on real timings: the Zen 4 table's entries stand in for probes timed now, 16
    of its calibration networks for the estimate's, and the 60 networks its validation
    timed end to end (benchmarks/results) are the test."""
    full = load_table(ZEN4)
    space = load_space("mobilenetv3")
    probes = select_probe_keys([k for k in probe_candidates(space) if str(k) in full.entries],
                               48)
    table = LatencyTable(header=replace(full.header, provenance="estimated",
                                        missing_keys="device_model"),
                         entries={str(k): full.entries[str(k)] for k in probes})
    records = dict(list(full.header.extra["calibration_networks"].items())[:16])
    model, calibration, errors = fit_host_model(table, records, weights_threshold=True)
    band = model_band(errors)
    table.device_model, table.calibration = model.to_dict(), calibration
    predictor = TablePredictor(table)
    errors_now = []
    for path, seed in zip(VALIDATION, (0, 1), strict=True):
        rows = json.loads(path.read_text())["rows"]
        for arch, row in zip(validation_archs(space, 30, seed=seed), rows, strict=True):
            errors_now.append(predictor.predict_ms(arch) / row["measured_ms"] - 1)
    errors_now = np.abs(errors_now)
    assert errors_now.mean() < 0.08  # 4.2% when written
    assert (errors_now <= band).mean() >= 0.9  # 95% within ±13% when written


@pytest.fixture(scope="module")
def estimated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, small estimate of this machine (onnxruntime, a reduced number of timings)."""
    path = tmp_path_factory.mktemp("host") / "host-test.json"
    settings = HostModelSettings(probes=16, probe_passes=1, networks=6, repeats=5,
                                 network_rounds=2, network_repeats=3)
    result = estimate_host_table(runner=OnnxRuntimeRunner(), path=path, target="host-test",
                                 space=load_space("mobilenetv3"),
                                 how_to_measure="mnas latency build --target host",
                                 settings=settings)
    assert result.probes == 16 and result.networks == 6 and path.exists()
    return path


def test_estimate_is_an_estimated_table_with_measured_probes(estimated: Path) -> None:
    table = load_table(estimated)
    header = table.header
    assert header.provenance == "estimated" and header.missing_keys == "device_model"
    assert header.extra["entries"] == "measured" and len(table.entries) == 16
    assert 0.05 <= header.error_band == header.extra["model_error_band"] <= 0.5
    assert table.calibration is not None and table.calibration.n == 6
    assert build_state(table) is not None and build_state(table).state == "estimate"
    note = status_note(table)
    assert note and "estimate" in note and "mnas latency build --target host" in note


def test_a_prediction_is_measured_only_when_every_unit_was_measured(estimated: Path) -> None:
    table = load_table(estimated)
    zoo = TablePredictor(table).predict(get_arch("mobilenet_v3_large"))
    assert zoo.provenance == "estimated" and zoo.band == table.header.extra["model_error_band"]
    assert any(b.source == "device_model" for b in zoo.per_block)
    assert 0.5 < zoo.latency_ms < 50
    # once every unit of a network has a measured entry, its prediction says measured
    some = next(iter(table.entries.values()))
    table.entries.update({str(k): some for k in op_keys(get_arch("mobilenet_v3_large"))})
    again = TablePredictor(table).predict(get_arch("mobilenet_v3_large"))
    assert again.provenance == "measured" and all(b.source == "table" for b in again.per_block)


def test_host_target_resolves_the_estimate(estimated: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    from mnas.latency import _predictor

    monkeypatch.setenv("MNAS_TABLES", str(estimated.parent))
    monkeypatch.setattr(_predictor, "host_target_name", lambda: estimated.stem)
    assert resolve_target("host").header.provenance == "estimated"


def test_a_measured_table_with_a_device_model_needs_its_model_band(estimated: Path,
                                                                    tmp_path: Path) -> None:
    data = json.loads(estimated.read_text())
    data["header"]["provenance"] = "measured"
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(data))
    table = load_table(ok)
    assert TablePredictor(table).predict(get_arch("mnasnet_a1")).provenance == "estimated"
    del data["header"]["model_error_band"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(MnasInputError, match="model_error_band.*set provenance to 'estimated'"):
        load_table(bad)
    data["header"]["model_error_band"] = 1.5
    bad.write_text(json.dumps(data))
    with pytest.raises(MnasInputError, match="'model_error_band' must be a fraction"):
        load_table(bad)
