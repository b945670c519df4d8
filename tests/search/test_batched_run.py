"""End to end, a batched search (an analytic estimate on the default sampler): the run folder,
the hard budget, what ``--trials`` counts, exact resume, SIGKILL, a damaged record, Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnas.arch import load_arch
from mnas.cli import main
from mnas.latency import TablePredictor, resolve_target
from mnas.search import SearchConfig, search
from mnas.search._batched import EVALUATIONS_FILE, EvaluationLog
from mnas.spaces import ParamCodec, load_space

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
ARGS = ["search", "--target", "pixel4", "--budget", "12ms", "--proxy", "flops",
        "--no-progress", "--seed", "1", "--top", "3"]


def _cli(runs: Path, name: str, *extra: str) -> int:
    return main([*ARGS, "--runs-dir", str(runs), "--name", name, *extra])


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "trials.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _batches(run_dir: Path) -> list[dict]:
    lines = (run_dir / EVALUATIONS_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    assert _cli(runs, "b", "--trials", "700") == 0
    return runs / "b"


def test_run_folder_is_complete_without_a_study(run_dir: Path) -> None:
    for name in ("config.json", EVALUATIONS_FILE, "trials.csv", "pareto.csv", "pareto.png",
                 "zoo.csv", "report.md", "best/arch.json", "best/model.py", "top/rank_01.json"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "study.log").exists()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["sampler"] == "auto" and config["trials"] == 700
    compile((run_dir / "best" / "model.py").read_text(), "model.py", "exec")
    report = (run_dir / "report.md").read_text()
    assert "batched evolution" in report and "700 distinct candidates scored in batches" in report
    assert "evaluations.jsonl" in report and "study.log" not in report


def test_trials_count_distinct_evaluations_within_the_budget(run_dir: Path) -> None:
    rows = _rows(run_dir)
    assert len(rows) == 700 and [int(r["number"]) for r in rows] == list(range(700))
    assert len({r["arch_hash"] for r in rows}) == 700  # nothing scored twice
    assert all(r["feasible"] == "True" and float(r["latency_ms"]) <= 12.0 for r in rows)
    assert {r["state"] for r in rows} == {"COMPLETE"} and {r["estimator"] for r in rows} == {"flops"}
    space = load_space("mobilenetv3")
    codec = ParamCodec(space)
    predictor = TablePredictor(resolve_target("pixel4"))
    log = EvaluationLog(run_dir / EVALUATIONS_FILE, codec).read()
    assert len(log) == 700 and log.batches == len(_batches(run_dir))
    from mnas.proxies import get_proxy

    flops = get_proxy("flops")
    for i in (0, 350, 699):  # the recorded numbers are those of the architecture itself
        arch = space.replay(codec.decode(log.codes[i]))
        assert float(rows[i]["score"]) == pytest.approx(flops.score(arch), rel=1e-12)
        assert float(rows[i]["latency_ms"]) == pytest.approx(predictor.predict_ms(arch),
                                                             rel=1e-9)


def test_best_is_the_highest_score_within_the_budget(run_dir: Path) -> None:
    rows = _rows(run_dir)
    best = load_arch(run_dir / "best" / "arch.json")
    assert best.extra["search"]["score"] == pytest.approx(max(float(r["score"]) for r in rows))
    predictor = TablePredictor(resolve_target("pixel4"))
    tops = sorted((run_dir / "top").glob("rank_*.json"))
    assert len(tops) == 3
    scores = [load_arch(p).extra["search"]["score"] for p in tops]
    assert scores == sorted(scores, reverse=True)
    assert all(predictor.predict_ms(load_arch(p)) <= 12.0 for p in tops)
    front = list(csv.DictReader((run_dir / "pareto.csv").open()))
    lat = [float(r["latency_ms"]) for r in front]
    score = [float(r["score"]) for r in front]
    assert lat == sorted(lat) and score == sorted(score)  # non-dominated, by latency


def test_resume_continues_exactly_as_one_run(tmp_path: Path) -> None:
    import shutil

    assert _cli(tmp_path, "whole", "--trials", "900") == 0
    whole = (tmp_path / "whole" / EVALUATIONS_FILE).read_text().splitlines()
    assert len(whole) > 4
    # as if killed after its third batch: the record up to there, nothing else
    (tmp_path / "cut").mkdir()
    shutil.copy(tmp_path / "whole" / "config.json", tmp_path / "cut" / "config.json")
    (tmp_path / "cut" / EVALUATIONS_FILE).write_text("\n".join(whole[:4]) + "\n")
    assert _cli(tmp_path, "cut", "--trials", "900") == 0
    resumed = (tmp_path / "cut" / EVALUATIONS_FILE).read_text().splitlines()
    strip = [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in whole]
    assert [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in resumed] == strip
    assert _rows(tmp_path / "cut")[1:3] == _rows(tmp_path / "whole")[1:3]


def test_other_settings_are_refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli(run_dir.parent, "b", "--trials", "800", "--sampler", "predictor")
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "other settings" in err and "sampler" in err and "\n" not in err


def test_batch_sampler_needs_an_analytic_estimate(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*ARGS, "--runs-dir", str(tmp_path), "--name", "z", "--proxy", "zen",
                 "--sampler", "batch", "--trials", "2"])
    assert code == 2
    err = capsys.readouterr().err
    assert "needs an analytic estimator" in err and "'forward'" in err


def test_an_expensive_estimate_keeps_optuna_trials(tmp_path: Path) -> None:
    config = SearchConfig(target="pixel4", budget_ms=40.0, space=str(REPO / "tests" / "data"
                                                                        / "tiny_space.yaml"),
                          proxy="zen", trials=2, runs_dir=str(tmp_path), name="zen")
    result = search(config, progress=False)
    assert not result.batched and result.finished == 2
    assert (tmp_path / "zen" / "study.log").exists()
    assert not (tmp_path / "zen" / EVALUATIONS_FILE).exists()


def test_a_damaged_record_is_one_line_and_a_torn_tail_is_dropped(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "runs" / "b"
    shutil.copytree(run_dir, copy)
    log = copy / EVALUATIONS_FILE
    good = log.read_bytes()
    lines = good.splitlines(keepends=True)
    lines[2] = lines[2][: len(lines[2]) // 2] + b"\n"  # a middle line cut short
    log.write_bytes(b"".join(lines))
    assert _cli(tmp_path / "runs", "b", "--trials", "700") == 2
    err = capsys.readouterr().err.strip()
    assert "damaged at line 3" in err and "\n" not in err
    log.write_bytes(good + b'{"batch": 99, "codes": ["01')  # a kill in the middle of a write
    assert _cli(tmp_path / "runs", "b", "--trials", "720") == 0
    assert log.read_bytes().startswith(good) and len(_rows(copy)) == 720


def test_sigkill_loses_at_most_the_batch_in_flight(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mnas.cli", *ARGS, "--runs-dir", str(tmp_path), "--name", "k"]
    proc = subprocess.Popen([*cmd, "--trials", "200000"], cwd=REPO, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = tmp_path / "k" / EVALUATIONS_FILE
    deadline = time.monotonic() + 120
    try:
        while not log.exists() or log.read_bytes().count(b"\n") < 4:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no batches recorded in 120 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = log.read_bytes()
    complete = before[: before.rfind(b"\n") + 1]
    n = sum(len(json.loads(line)["codes"]) for line in complete.splitlines()[1:])
    done = subprocess.run([*cmd, "--trials", str(n + 100)], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"evaluated 100 candidates more in batches ({n + 100:,} in total)" in done.stdout
    assert log.read_bytes().startswith(complete)  # every recorded batch kept as it was
    assert len(_rows(tmp_path / "k")) == n + 100


def test_ctrl_c_is_one_line_and_keeps_the_finished_batches(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mnas.cli", *ARGS, "--runs-dir", str(tmp_path), "--name", "c",
           "--trials", "200000"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    log = tmp_path / "c" / EVALUATIONS_FILE
    deadline = time.monotonic() + 120
    while not log.exists() or log.read_bytes().count(b"\n") < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "no batches recorded"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), err[-3000:]
    recorded = sum(len(b["codes"]) for b in _batches(tmp_path / "c"))
    assert recorded >= 2 and len(_rows(tmp_path / "c")) == recorded  # outputs written


def test_timeout_stops_and_the_next_invocation_goes_on(tmp_path: Path) -> None:
    config = SearchConfig(target="pixel4", budget_ms=12.0, proxy="flops", trials=10**7,
                          timeout_s=1.0, runs_dir=str(tmp_path), name="t")
    start = time.monotonic()
    first = search(config, progress=False)
    assert first.batched and 0 < first.finished < 10**7
    assert time.monotonic() - start < 60
    again = search(config, progress=False)
    assert again.resumed and again.finished > first.finished


def test_ray_runs_no_batches(run_dir: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(tmp_path, "r", "--trials", "10", "--backend", "ray", "--sampler", "batch") == 2
    assert "--sampler batch" in capsys.readouterr().err
    assert _cli(run_dir.parent, "b", "--trials", "700", "--backend", "ray") == 2
    err = capsys.readouterr().err.strip()
    assert "holds a search in batches" in err and "\n" not in err


def test_the_default_estimate_reads_as_a_top1_everywhere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The headline's outputs with the default estimate: a top-1 % under its recipe with
    its ±, in the CLI, --json, trials.csv and report.md; the zoo beside its published top-1;
    the report says what the estimate has evidence for."""
    args = ["search", "--target", "pixel4", "--budget", "20ms", "--no-progress",
            "--trials", "600", "--runs-dir", str(tmp_path), "--name", "d"]
    assert main(args) == 0
    out = capsys.readouterr().out
    best_line = next(line for line in out.splitlines() if line.startswith("best:"))
    assert re.search(r"top-1 \d\d\.\d % \(±\d\.\d, tfslim_v2\) \[imagenet\]", best_line)
    run = tmp_path / "d"
    rows = _rows(run)
    assert {r["recipe"] for r in rows} == {"tfslim_v2"}
    assert all(float(r["spread"]) > 0 for r in rows[:50])
    estimate = json.loads((run / "best" / "arch.json").read_text())["search"]["estimate"]
    assert estimate["recipe"] == "tfslim_v2" and estimate["error"] > 0
    assert estimate["score"] == pytest.approx(max(
        float(r["score"]) for r in rows if r["feasible"] == "True"))
    report = (run / "report.md").read_text()
    assert "accuracy estimate (default, imagenet): **top-1 " in report
    assert "What the estimate has evidence for" in report
    assert "swish-type activation at /16-/32: " in report
    assert "| mobilenet_v3_large | " in report and "75.2 (TF-slim" in report
    assert main([*args, "--json"]) == 0  # the same run: nothing left to do
    best = json.loads(capsys.readouterr().out)["best"]
    assert best["estimate"] == estimate
