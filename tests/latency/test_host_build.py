"""A host table's life: estimated, measured most-used keys first within a time budget,
interrupted and resumed, complete; what each state says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from latency_fakes import FakeRunner, kill_script

from mnas.cli import main
from mnas.errors import MnasInputError
from mnas.latency import TableBuildOptions, TablePredictor, build_latency_table, load_table
from mnas.latency._build_job import format_budget_s, parse_time_budget
from mnas.latency._build_progress import BuildProgress, format_duration
from mnas.latency._build_state import build_state, status_note
from mnas.latency._builder import BuildSettings, TableBuilder, journal_path
from mnas.latency._host_model import HostModelSettings
from mnas.latency._opkey import op_keys, unique_op_keys
from mnas.models import get_arch
from mnas.spaces import load_space

HERE = Path(__file__).resolve().parent
FAST = BuildSettings(warmup=0, repeats=2, sentinel_repeats=1, calibration_networks=0,
                     checkpoint_s=0.0, passes=2)


def _keys() -> list:
    archs = [get_arch(n).replace(resolution=32) for n in
             ("mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2")]
    return unique_op_keys(archs)


def test_time_budget_stops_the_keys_heaviest_first_and_says_so(tmp_path: Path) -> None:
    keys = _keys()
    priority = {str(k): float(i) for i, k in enumerate(keys)}  # the last keys weigh most
    path = tmp_path / "t.json"
    report = TableBuilder(path=path, runner=FakeRunner(sleep_s=0.02), target="t", keys=keys,
                          settings=replace(FAST, time_budget_s=0.6), priority=priority,
                          how_to_measure="mnas latency build --target t").run()
    table = load_table(path)
    assert report.stopped and 0 < len(table.entries) < len(keys)
    measured = {k for k in table.entries}
    heaviest = {str(k) for k in keys[-len(measured):]}
    assert measured == heaviest  # most weight first
    state = build_state(table)
    assert state is not None and state.state == "stopped" and state.time_budget_s == 0.6
    assert state.measured == len(measured) and state.keys == len(keys)
    note = status_note(table)
    assert note is not None and "time budget" in note and "measures the rest" in note
    # rerunning without a budget finishes it
    done = TableBuilder(path=path, runner=FakeRunner(), target="t", keys=keys, settings=FAST,
                        how_to_measure="mnas latency build --target t").run()
    assert not done.stopped and done.kept >= len(measured)
    assert build_state(load_table(path)).state == "complete"  # type: ignore[union-attr]
    assert status_note(load_table(path)) is None




def test_a_killed_build_is_interrupted_and_says_rerun_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "build.py"
    script.write_text(kill_script(str(HERE), checkpoint_s=0.1, sleep_s=0.05, how_to_measure="mnas latency build --target t --space mobilenetv3"))
    path = tmp_path / "t.json"
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if path.exists() and len(load_table(path).entries) >= 5:
                break
            time.sleep(0.05)
        state = build_state(load_table(path))
        assert state is not None and state.state == "running" and state.pid == proc.pid
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    table = load_table(path)
    state = build_state(table)
    assert state is not None and state.state == "interrupted"
    assert table.header.provenance == "measured" and table.header.missing_keys == "error"
    # a network whose keys were all measured: measured, with a one-line note on stderr
    small = get_arch("mobilenet_v3_small").replace(resolution=32)
    missing = next(k for k in op_keys(small) if str(k) not in table.entries)
    # an architecture that needs a key the build did not reach: one line, exit 2
    arch_file = tmp_path / "small.json"
    from mnas.arch import save_arch

    save_arch(small, arch_file)
    assert main(["predict", "--target", str(path), "--arch", str(arch_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "interrupted" in err and str(missing) in err
    assert "rerun `mnas latency build --target t --space mobilenetv3`" in err
    note = status_note(table)
    assert note is not None and "interrupted" in note and "rerun `mnas latency build" in note
    assert journal_path(path).parent == path.parent


def test_the_host_flow_estimate_then_budget_then_complete(tmp_path: Path) -> None:
    """Real onnxruntime timings, reduced: a space's table starts as the host model's
    estimate, a budgeted build measures part of it, the next one all of it."""
    out = tmp_path / "host.json"
    small = HostModelSettings(probes=12, probe_passes=1, networks=6, repeats=5,
                              network_rounds=2, network_repeats=3)
    options = TableBuildOptions(
        target="host-t", out=out, spaces=("mobilenetv1",), resolutions=(32,), zoo=False,
        warmup=0, repeats=3, passes=2, calibration_networks=6, host_model=small)
    lines: list[str] = []
    build_latency_table(replace(options, time_budget_s=0.1), on_status=lines.append)
    assert any("estimating" in line for line in lines)
    table = load_table(out)
    assert table.header.provenance == "estimated" and table.header.missing_keys == "device_model"
    assert build_state(table).state == "stopped"  # type: ignore[union-attr]
    report = build_latency_table(options)
    assert not report.stopped
    table = load_table(out)
    header = table.header
    assert header.provenance == "measured" and header.missing_keys == "device_model"
    assert 0 < header.extra["model_error_band"] < 1
    assert header.error_band == header.extra["entries_error_band"]
    assert status_note(table) is None
    predictor = TablePredictor(table)
    arch = load_space("mobilenetv1").random_arch(__import__("random").Random(3)).replace(
        resolution=32)
    assert predictor.predict(arch).provenance == "measured"
    zoo = predictor.predict(get_arch("mnasnet_a1"))  # never asked for: the host model's
    assert zoo.provenance == "estimated" and zoo.band == header.extra["model_error_band"]


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("90s", 90), ("1.5h", 5400),
                                               ("600", 600), ("2min", 120)])
def test_time_budget_parses_and_prints_back(text: str, seconds: float) -> None:
    assert parse_time_budget(text) == seconds
    assert parse_time_budget(format_budget_s(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "ten minutes", "inf", "nan", "9999h"])
def test_bad_time_budget_is_an_input_error(text: str) -> None:
    with pytest.raises(MnasInputError, match="--time-budget"):
        parse_time_budget(text)


def test_time_left_is_the_plan_at_the_measured_rate_capped_by_the_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(float(t) for t in range(100))
    monkeypatch.setattr("mnas.latency._build_progress.time.monotonic", lambda: next(clock))
    progress = BuildProgress(False)
    assert progress.seconds_left() is None  # nothing timed yet: no guess
    progress.plan(done=0, planned=100, networks_s=30.0, deadline=None)
    progress.timed(1.0, 0)  # t=0
    progress.timed(1.0, 0)  # t=1: one second per timing
    assert progress.seconds_left() == pytest.approx(98 * 1.0 + 30.0)
    progress.plan(done=2, planned=100, networks_s=30.0, deadline=40.0)
    assert progress.seconds_left() == pytest.approx(40.0 - 2.0)  # t=2
    assert format_duration(250) == "4 min 10 s" and format_duration(7500) == "2 h 05 min"
