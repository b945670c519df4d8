"""The shipped ``note10`` target: once-for-all's measured Note10 entries reproduce its own
latency sums, keep both measurements where 176 and 192 px share a shape, and say which
units are measured (``table``) and which come from the device model."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from mnas.errors import MnasInputError
from mnas.latency import LatencyTable, ScreeningPredictor, TablePredictor, op_keys, resolve_target
from mnas.spaces import ParamCodec, load_space

REPO = Path(__file__).resolve().parents[2]


def _benchmark(name: str) -> ModuleType:
    """A module of ``benchmarks/`` (importable by its name, as the scripts import it)."""
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def note10() -> TablePredictor:
    return TablePredictor(resolve_target("note10"))


def test_header_says_estimated_with_its_source_and_band(note10: TablePredictor) -> None:
    header = note10.table.header
    assert header.provenance == "estimated" and header.missing_keys == "device_model"
    assert 0.03 <= header.error_band <= 0.15
    assert "once-for-all" in header.extra["source"]
    assert "measured on the phone by once-for-all" in header.extra["entries_are"]
    assert header.extra["measured_resolutions"] == [160, 176, 192, 224]
    assert all(e.n > 0 for e in note10.table.entries.values())  # only measured entries


def test_measured_entries_reproduce_once_for_alls_sums(note10: TablePredictor,
                                                       shared_dir: Path) -> None:
    lut = _benchmark("_note10")
    table = _benchmark("note10_table")
    entries = lut.read_note10(shared_dir / "data" / "ofa_note10_lut")
    measured = table.per_resolution(entries)
    for resolution in (160, 176, 192, 224):
        for arch in table.subnets(resolution, 20, seed=11):
            estimate = note10.predict(arch)
            assert {b.source for b in estimate.per_block} == {"table"}
            truth = table.truth_ms(arch, measured[resolution])
            assert estimate.latency_ms == pytest.approx(truth, rel=1e-6)


def test_176_and_192_px_keep_their_own_measurements(note10: TablePredictor) -> None:
    entries = note10.table.entries
    by_resolution = [k for k in entries if "@" in k]
    assert len(by_resolution) == 22
    key = "head-in:6x6x1152-conv:none-pool_conv_act-hidden:1536-out:1000-hswish"
    assert key not in entries
    assert entries[key + "@176px"].median_ms != entries[key + "@192px"].median_ms
    space = load_space("ofa-mbv3")
    codec = ParamCodec(space)
    row = codec.random(np.random.default_rng(0), 1)[0]
    heads = {}
    for resolution in (176, 192):
        params = codec.decode(row) | {"resolution": resolution}
        heads[resolution] = note10.predict(space.replay(params)).per_block[-1]
    assert heads[176].key.endswith("@176px") and heads[192].key.endswith("@192px")
    assert heads[176].ms == entries[key + "@176px"].median_ms


def test_other_resolutions_use_the_device_model_and_say_so(note10: TablePredictor) -> None:
    space = load_space("ofa-mbv3")
    arch = space.random_arch(__import__("random").Random(1)).replace(resolution=208)
    sources = [b.source for b in note10.predict(arch).per_block]
    assert "device_model" in sources and "table" in sources  # 7x7 last stage: as at 224


def test_the_screen_reads_entries_by_resolution(note10: TablePredictor) -> None:
    space = load_space("ofa-mbv3")
    screen = ScreeningPredictor(space, note10)
    codes = screen.codec.random(np.random.default_rng(5), 300)
    expected = [note10.predict_ms(space.replay(screen.codec.decode(r))) for r in codes]
    assert np.allclose(screen.predict_codes(codes), expected, rtol=1e-12)


def test_a_bad_resolution_suffix_is_refused() -> None:
    data = resolve_target("note10").to_dict()
    key = next(iter(data["entries"]))
    data["entries"][key + "@176"] = data["entries"][key]
    with pytest.raises(MnasInputError, match="@<R>px"):
        LatencyTable.from_dict(data, source="t.json")


def test_op_keys_of_an_ofa_subnet_are_note10_keys(shared_dir: Path) -> None:
    lut = _benchmark("_note10")
    entries = lut.read_note10(shared_dir / "data" / "ofa_note10_lut", (160,))
    keys = {str(e.key) for e in entries}
    arch = load_space("ofa-mbv3").random_arch(__import__("random").Random(2)).replace(
        resolution=160)
    assert {str(k) for k in op_keys(arch)} <= keys


def test_a_search_on_note10_runs_on_defaults(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from mnas.cli import main

    assert main(["search", "--target", "note10", "--budget", "20ms", "--trials", "600",
                 "--runs-dir", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "evaluated 600 candidates in batches" in out and "Samsung Galaxy Note10" in out
    assert (tmp_path / "note10-20ms" / "best" / "arch.json").is_file()
