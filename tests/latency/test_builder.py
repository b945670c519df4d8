"""The table builder: measure, resume, drift re-timing, calibration, missing keys."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from latency_fakes import FakeRunner, kill_script

from mnas.errors import MissingLatencyKeyError, MnasInputError
from mnas.latency import OpKey, TablePredictor, load_table, op_keys, unique_op_keys
from mnas.latency._builder import (
    BuildSettings,
    TableBuilder,
    enumerate_space_keys,
    journal_path,
)
from mnas.models import get_arch
from mnas.spaces import load_space

HERE = Path(__file__).resolve().parent
SETTINGS = BuildSettings(warmup=0, repeats=3, sentinel_repeats=1, calibration_networks=0,
                         checkpoint_s=0.0, passes=2)


def _archs() -> list:
    return [get_arch(n).replace(resolution=32) for n in
            ("mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2", "mnasnet_a1")]


def test_build_measures_every_key_and_fits_calibration(tmp_path: Path) -> None:
    archs = _archs()
    path = tmp_path / "t.json"
    report = TableBuilder(path=path, runner=FakeRunner(), target="t", keys=[],
                          networks=archs, settings=SETTINGS).run()
    keys = {str(k) for k in unique_op_keys(archs)}
    table = load_table(path)
    assert set(table.entries) == keys and report.measured == len(keys)
    assert not journal_path(path).exists()
    cal = table.calibration
    assert cal is not None and cal.n == len(archs) and cal.mape is not None
    assert table.header.cpu == "Fake CPU" and table.header.provenance == "measured"
    assert table.header.extra["sentinel"]["key"] in keys
    assert len(table.header.extra["calibration_networks"]) == len(archs)
    # two passes of 3 runs each, combined
    assert all(e.n == 6 and e.passes == 2 and e.min_ms is not None
               for e in table.entries.values())
    assert table.header.statistic == "min" and report.retimed == len(keys)
    # the predictor reads it back
    assert TablePredictor(table).predict_ms(archs[0]) > 0


class _CachedWeightsRunner(FakeRunner):
    """A runtime whose networks add up until their weights outgrow the cache (LiteRT's,
    onnxruntime's)."""

    weights_threshold = True


@pytest.mark.parametrize("runner", [FakeRunner, _CachedWeightsRunner])
def test_build_fits_the_weights_threshold_when_the_runner_asks(tmp_path: Path, runner) -> None:
    from mnas.latency.runners import LiteRTRunner, OnnxRuntimeRunner

    assert LiteRTRunner.weights_threshold and OnnxRuntimeRunner.weights_threshold
    archs = [*_archs(), *(get_arch(n).replace(resolution=32) for n in
                          ("mobilenet_v1", "mnasnet_b1", "mobilenet_v3_small_075"))]
    TableBuilder(path=tmp_path / "t.json", runner=runner(), target="t", keys=[],
                 networks=archs, settings=SETTINGS).run()
    cal = load_table(tmp_path / "t.json").calibration
    assert cal is not None and cal.n == len(archs) >= 6
    assert ("beyond a fitted w0" in cal.source) == runner.weights_threshold
    if not runner.weights_threshold:
        assert cal.w0 == 0


def test_resume_measures_only_what_is_missing(tmp_path: Path) -> None:
    archs = _archs()
    keys = unique_op_keys(archs)
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys[:10],
                 settings=SETTINGS).run()
    runner = FakeRunner()
    report = TableBuilder(path=path, runner=runner, target="t", keys=keys,
                          settings=SETTINGS).run()
    assert report.already == 10 and report.measured == len(keys) - 10
    assert set(load_table(path).entries) == {str(k) for k in keys}


def test_resume_replays_the_journal(tmp_path: Path) -> None:
    archs = _archs()
    keys = unique_op_keys(archs)
    path = tmp_path / "t.json"
    once = replace(SETTINGS, passes=1)
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys[:5],
                 settings=once).run()
    # entries finished after the last table rewrite live in the journal, last line torn;
    # an entry without min_ms cannot serve a min table and is measured again
    lines = [json.dumps({"key": str(k), "entry": {"median_ms": 1.5, "p90_ms": 1.6, "n": 3,
                                                  "std_ms": 0.0, "min_ms": 1.4}})
             for k in keys[5:8]]
    lines.append(json.dumps({"key": str(keys[8]), "entry": {"median_ms": 1.5, "p90_ms": 1.6,
                                                            "n": 3, "std_ms": 0.0}}))
    journal_path(path).write_text("\n".join(lines) + '\n{"key": "ir-in:1x1', encoding="utf-8")
    report = TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys[:12],
                          settings=once).run()
    assert report.already == 8 and report.measured == 4
    table = load_table(path)
    assert table.entries[str(keys[6])].median_ms == 1.5
    assert table.entries[str(keys[6])].min_ms == 1.4
    assert table.entries[str(keys[8])].median_ms != 1.5


def test_resume_refuses_a_different_setup(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    keys = op_keys(_archs()[0])
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys, settings=SETTINGS).run()

    class OtherRunner(FakeRunner):
        def info(self):
            from dataclasses import replace
            return replace(super().info(), runtime_version="2.0")

    with pytest.raises(MnasInputError, match="runtime_version"):
        TableBuilder(path=path, runner=OtherRunner(), target="t", keys=keys,
                     settings=SETTINGS).run()


def test_drift_triggers_a_retry_and_keeps_the_clean_timing(tmp_path: Path) -> None:
    keys = op_keys(_archs()[0])[:4]
    # call 1 primes the sentinel, 2 is its first check; make the first key's first
    # measurement (calls 2-4: check, key, check) slow
    runner = FakeRunner(slow_calls={3, 4})
    path = tmp_path / "t.json"
    report = TableBuilder(path=path, runner=runner, target="t", keys=keys,
                          settings=SETTINGS).run()
    ratios = [r for _, r in report.drift]
    assert len(ratios) == 2 * len(keys) and max(ratios) <= 1.05  # two passes
    clean = FakeRunner()
    path2 = tmp_path / "u.json"
    TableBuilder(path=path2, runner=clean, target="t", keys=keys, settings=SETTINGS).run()
    assert load_table(path).entries == load_table(path2).entries


def test_missing_key_error_names_key_and_command(tmp_path: Path) -> None:
    archs = _archs()
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=op_keys(archs[0]),
                 settings=SETTINGS, how_to_measure="mnas latency build --target t").run()
    predictor = TablePredictor(load_table(path))
    missing = next(k for k in op_keys(archs[1]) if str(k) not in predictor.table.entries)
    with pytest.raises(MissingLatencyKeyError) as err:
        predictor.predict(archs[1])
    message = str(err.value)
    assert "\n" not in message
    assert "mnas latency build --target t" in message and str(path) in message
    assert any(str(k) in message for k in op_keys(archs[1]))
    assert isinstance(missing, OpKey)


def test_memoised_prediction_matches_the_keys(tmp_path: Path) -> None:
    space = load_space("mobilenetv3")
    keys, coverage = enumerate_space_keys(space, chunk=10, quiet_chunks=1, max_samples=20,
                                          resolutions=[32])
    assert coverage.samples == 20 and coverage.keys == len(keys)
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys,
                 settings=SETTINGS).run()
    table = load_table(path)
    predictor = TablePredictor(table)
    # the fake runner's pass-through model costs its 0.01 ms per call, paid once per unit
    overhead = table.header.extra["call_overhead_ms"]
    assert overhead == pytest.approx(0.01)
    import random

    rng = random.Random(0)  # the same stream enumerate_space_keys used
    for _ in range(20):
        arch = space.random_arch(rng).replace(resolution=32)
        expected = sum(table.entries[str(k)].min_ms - overhead for k in op_keys(arch))
        assert predictor.predict_ms(arch) == pytest.approx(expected)
        assert predictor.predict_ms(arch) == pytest.approx(expected)  # from the memo
        estimate = predictor.predict(arch)
        assert [b.key for b in estimate.per_block] == [str(k) for k in op_keys(arch)]




def _finished(path: Path) -> dict[str, dict]:
    done = {}
    if path.exists():
        done.update({k: v for k, v in json.loads(path.read_text())["entries"].items()})
    journal = journal_path(path)
    if journal.exists():
        for line in journal.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "key" in record:
                done[record["key"]] = record["entry"]
    return done


def test_sigkill_mid_build_loses_no_finished_entry(tmp_path: Path) -> None:
    """A real subprocess is SIGKILLed mid-build; the rerun keeps every finished entry."""
    script = tmp_path / "build.py"
    script.write_text(kill_script(str(HERE), checkpoint_s=0.3, sleep_s=0.02))
    path = tmp_path / "t.json"
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_finished(path)) < 8:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(path)
    assert len(before) >= 8, "the build made no progress before the kill"
    load_table(path)  # the table file is valid after the kill
    result = subprocess.run([sys.executable, str(script), str(path)], env=env, timeout=120)
    assert result.returncode == 0
    table = load_table(path)
    for key, entry in before.items():  # every entry finished before the kill survives
        assert table.entries[key].median_ms == entry["median_ms"]
    assert not journal_path(path).exists()


def test_a_later_pass_keeps_the_fastest_run(tmp_path: Path) -> None:
    """A slow spell during the whole first pass does not reach the table."""
    keys = op_keys(_archs()[0])[:5]
    once = BuildSettings(warmup=0, repeats=3, sentinel_repeats=1, calibration_networks=0,
                         checkpoint_s=0.0, attempts=1, passes=1)
    clean = tmp_path / "clean.json"
    TableBuilder(path=clean, runner=FakeRunner(), target="t", keys=keys, settings=once).run()
    # the first pass (sentinel prime + 3 calls per key) runs 30% slow
    slow = FakeRunner(slow_calls=set(range(1, 1 + 3 * len(keys) + 1)))
    path = tmp_path / "t.json"
    report = TableBuilder(path=path, runner=slow, target="t", keys=keys,
                          settings=replace(once, passes=2)).run()
    assert report.measured == len(keys) and report.retimed == len(keys)
    got, want = load_table(path).entries, load_table(clean).entries
    for key in want:
        assert got[key].min_ms == pytest.approx(want[key].min_ms)
        assert got[key].median_ms == pytest.approx(want[key].median_ms)  # the calmer pass
        assert got[key].passes == 2 and got[key].n == 6


def test_more_passes_later_only_retime(tmp_path: Path) -> None:
    keys = op_keys(_archs()[0])[:6]
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys,
                 settings=replace(SETTINGS, passes=1)).run()
    assert all(e.passes == 1 for e in load_table(path).entries.values())
    report = TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys,
                          settings=replace(SETTINGS, passes=3, min_passes=3)).run()
    assert report.already == len(keys) and report.measured == 0
    assert report.retimed == 2 * len(keys) and report.kept == len(keys)
    assert all(e.passes == 3 and e.n == 9 for e in load_table(path).entries.values())


class _FirstTimingSlowRunner(FakeRunner):
    """Times one key 30% slow the first time it is prepared (a slow spell on its first pass)."""

    def __init__(self, slow_key: str) -> None:
        super().__init__()
        self.slow_key = slow_key
        self.seen: set[str] = set()

    def prepare_key(self, key, *, batch=1):  # type: ignore[no-untyped-def]
        prepared = super().prepare_key(key, batch=batch)
        if str(key) == self.slow_key and str(key) not in self.seen:
            prepared.cost *= 1.3
        self.seen.add(str(key))
        return prepared


def test_a_key_is_retimed_only_while_its_fastest_run_improves(tmp_path: Path) -> None:
    """Every key gets the minimum passes; one whose second pass ran faster than its first
    (the first was slow) gets a third, the steady ones stop (adaptive passes)."""
    keys = op_keys(_archs()[0])[:5]
    settings = replace(SETTINGS, passes=4, min_passes=2, attempts=1)
    runner = _FirstTimingSlowRunner(str(keys[0]))  # the stem: never the sentinel (a block)
    path = tmp_path / "t.json"
    report = TableBuilder(path=path, runner=runner, target="t", keys=keys,
                          settings=settings).run()
    passes = sorted(e.passes for e in load_table(path).entries.values())
    assert passes == [2, 2, 2, 2, 3]
    assert report.retimed == len(keys) + 1 and report.stable == len(keys)


def test_resuming_with_another_statistic_is_refused(tmp_path: Path) -> None:
    keys = op_keys(_archs()[0])[:3]
    path = tmp_path / "t.json"
    TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys,
                 settings=replace(SETTINGS, statistic="median")).run()
    assert load_table(path).header.statistic == "median"
    with pytest.raises(MnasInputError, match="statistic"):
        TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys,
                     settings=SETTINGS).run()


class _ConvertingRunner(FakeRunner):
    """Records what the builder asks it to convert ahead, and what it then prepares."""

    converts_ahead = True

    def __init__(self) -> None:
        super().__init__()
        self.ahead: list[list[str]] = []
        self.prepared: list[str] = []

    def convert_ahead(self, items, *, on_progress=None) -> int:  # type: ignore[no-untyped-def]
        self.ahead.append([repr(model) + str(tuple(x.shape)) for model, x in items])
        if on_progress is not None:
            on_progress(len(items), len(items))
        return len(items)

    def prepare(self, model, example):  # type: ignore[no-untyped-def]
        self.prepared.append(repr(model) + str(tuple(example.shape)))
        return super().prepare(model, example)


def test_keys_and_networks_are_converted_ahead_of_timing(tmp_path: Path) -> None:
    """A runner with a slow conversion (LiteRT) gets every key the build will time, then
    every whole network, before it prepares any of them; a finished table asks for none."""
    archs = _archs()[:2]
    settings = replace(SETTINGS, calibration_networks=2, network_rounds=1, network_repeats=1)
    runner = _ConvertingRunner()
    TableBuilder(path=tmp_path / "t.json", runner=runner, target="t", keys=[], networks=archs,
                 settings=settings, progress=True).run()
    keys, networks = runner.ahead
    assert len(keys) == len(unique_op_keys(archs)) and len(networks) == len(archs)
    timed = [p for p in runner.prepared if not p.startswith("_PassThrough")]  # call overhead
    assert set(timed) == set(keys) | set(networks)
    again = _ConvertingRunner()
    TableBuilder(path=tmp_path / "t.json", runner=again, target="t", keys=[], networks=archs,
                 settings=settings).run()
    assert again.ahead == [] and again.prepared == []
