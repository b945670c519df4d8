"""End to end: the run folder, the hard budget, resume after SIGKILL, ``mnas report``.

A search of Optuna trials (``--sampler predictor``: what an expensive estimate gets); the
same for a batched search is ``test_batched_run.py``."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from mnas.arch import load_arch
from mnas.cli import main
from mnas.latency import TablePredictor, resolve_target
from mnas.search import open_storage

REPO = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    code = main(["search", "--target", "pixel4", "--budget", "9ms", "--proxy", "flops",
                 "--trials", "16", "--runs-dir", str(runs), "--name", "small", "--top", "3",
                 "--no-progress", "--seed", "1", "--sampler", "predictor"])
    assert code == 0
    return runs / "small"


def test_run_folder_is_complete(run_dir: Path) -> None:
    for name in ("config.json", "study.log", "trials.csv", "pareto.csv", "pareto.png",
                 "zoo.csv", "report.md", "best/arch.json", "best/model.py",
                 "top/rank_01.json"):
        assert (run_dir / name).is_file(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["budget_ms"] == 9.0 and config["proxy"] == "flops"
    assert config["extra"]["versions"]["optuna"] == optuna.__version__
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert len(rows) == 16
    assert {"latency_ms", "score", "feasible", "band", "width", "resolution"} <= set(rows[0])
    assert (run_dir / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    compile((run_dir / "best" / "model.py").read_text(), "model.py", "exec")


def test_hard_budget_respected(run_dir: Path) -> None:
    predictor = TablePredictor(resolve_target("pixel4"))
    tops = sorted((run_dir / "top").glob("rank_*.json"))
    assert tops
    for path in [run_dir / "best" / "arch.json", *tops]:
        assert predictor.predict_ms(load_arch(path)) <= 9.0
    scores = [load_arch(p).extra["search"]["score"] for p in tops]
    assert scores == sorted(scores, reverse=True)
    best = load_arch(run_dir / "best" / "arch.json").extra["search"]
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    feasible = [float(r["score"]) for r in rows if r["feasible"] == "True"]
    assert best["score"] == pytest.approx(max(feasible))


def test_report_renders(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "report.md").unlink()
    assert main(["report", str(run_dir)]) == 0
    text = (run_dir / "report.md").read_text()
    assert "estimated ±25% on Google Pixel 4" in text
    assert "measured ±" not in text
    assert "## Zoo models under the same budget" in text
    assert "| s1.b1 ir |" in text


def test_resume_keeps_trials(run_dir: Path) -> None:
    runs = run_dir.parent
    assert main(["search", "--target", "pixel4", "--budget", "9ms", "--proxy", "flops",
                 "--trials", "18", "--runs-dir", str(runs), "--name", "small", "--top", "3",
                 "--no-progress", "--seed", "1", "--sampler", "predictor"]) == 0
    rows = list(csv.DictReader((run_dir / "trials.csv").open()))
    assert len(rows) == 18 and [int(r["number"]) for r in rows] == list(range(18))


def test_resume_with_other_settings_is_refused(run_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["search", "--target", "pixel4", "--budget", "10ms", "--proxy", "flops",
                 "--runs-dir", str(run_dir.parent), "--name", "small", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "other settings" in err and "\n" not in err


def _finished(db: Path) -> list[optuna.trial.FrozenTrial]:
    if not db.exists():
        return []
    try:
        study = optuna.load_study(study_name="mnas", storage=open_storage(db.parent))
    except Exception:  # noqa: BLE001 - the writer may be creating the schema
        return []
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def test_resume_after_sigkill(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mnas.cli", "search", "--target", "pixel4", "--budget",
           "20ms", "--proxy", "flops", "--runs-dir", str(tmp_path), "--name", "killed",
           "--no-progress", "--timeout", "0", "--sampler", "predictor"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*cmd, "--trials", "2000"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = tmp_path / "killed" / "study.log"
    deadline = time.monotonic() + 60
    try:
        while len(_finished(db)) < 6:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "search did not finish 6 trials in 60 s"
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = {t.number: (t.params, t.value) for t in _finished(db)}
    n = len(before)
    done = subprocess.run([*cmd, "--trials", str(n + 3)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"kept {n} finished trials, ran 3 more" in done.stdout
    after = {t.number: (t.params, t.value) for t in _finished(db)}
    assert len(after) == n + 3
    for number, record in before.items():
        assert after[number] == record
