"""The Ray backend against a real Ray cluster on loopback (``@pytest.mark.ray``).

One module-scoped cluster (``ray start --head`` on 127.0.0.1, ports of its own, a
temp dir of its own) serves every test; the finaliser kills exactly the processes
that cluster started (its process group, then any process naming its temp dir), so
other Ray clusters on the machine are never touched.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray.tune")
sys.path.insert(0, str(Path(__file__).parent))

from _doubles import SyntheticTrainingProxy

from mnas.errors import MnasInputError
from mnas.search import (
    STUDY_FILE,
    RayOptions,
    SearchConfig,
    load_study,
    run_ray_search,
)

pytestmark = pytest.mark.ray

RUN_FILES = ("config.json", STUDY_FILE, "trials.csv", "pareto.csv", "pareto.png", "zoo.csv",
             "report.md", "best/arch.json", "best/model.py", "top/rank_01.json")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kill_cluster(pgid: int, temp_dir: str) -> None:
    """Kill the processes of our cluster only: its process group, then stragglers by temp dir."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        time.sleep(1.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if temp_dir in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Ray head on 127.0.0.1 with 2 CPUs; yields its address."""
    ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if ray_bin is None:
        pytest.skip("the `ray` command is not installed")
    temp_dir = tempfile.mkdtemp(prefix="mnr", dir="/tmp")  # short: unix socket paths
    port = _free_port()
    # the workers import the test doubles (tests/search/_doubles.py) from this folder
    python_path = os.pathsep.join(p for p in (str(Path(__file__).resolve().parent),
                                              os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": python_path}
    cmd = [ray_bin, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
           "--num-cpus", "2", "--num-gpus", "0", "--temp-dir", temp_dir,
           "--include-dashboard", "false", "--dashboard-port", str(_free_port()),
           "--disable-usage-stats"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=90)
        if proc.returncode != 0:
            pytest.fail(f"ray start failed ({proc.returncode}): {out[-2000:]}")
        os.environ["RAY_AUTH_MODE"] = "disabled"
        yield f"127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        _kill_cluster(proc.pid, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture()
def quick_model_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the checked ``best/model.py`` export (~15 s; the cluster test keeps it)."""
    import mnas.search._outputs as outputs

    def write(arch, path):  # a stand-in with write_model_source's signature
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {arch.name}: export skipped in this test\n")
        return "test stub"

    monkeypatch.setattr(outputs, "write_model_source", write)


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "trials.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _study_trials(run_dir: Path) -> list:
    return load_study(run_dir).trials


def test_cluster_search_runs_in_workers_and_survives_a_crash(cluster: str, tmp_path: Path) -> None:
    proxy = SyntheticTrainingProxy(epochs=2, crash_once_path=str(tmp_path / "crash-once"))
    config = SearchConfig(target="pixel4", budget_ms=20, trials=5, name="cluster",
                          proxy="synthetic-train",
                          runs_dir=str(tmp_path / "runs"), seed=0)
    result = run_ray_search(config, options=RayOptions(address=cluster, workers=2),
                            progress=False, proxy=proxy)

    run_dir = result.run_dir
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    rows = _rows(run_dir)
    assert len(rows) == 5
    states = sorted(row["state"] for row in rows)
    assert states.count("FAIL") == 1, states  # the crashed worker: a failed trial
    assert (tmp_path / "crash-once").exists()
    finished = [t for t in _study_trials(run_dir) if t.state.name == "COMPLETE"]
    assert finished
    pids = {t.user_attrs["worker_pid"] for t in finished}
    assert os.getpid() not in pids and all(pid > 0 for pid in pids)
    failed = [t for t in _study_trials(run_dir) if t.state.name == "FAIL"]
    assert "died" in failed[0].user_attrs["error"] or "Actor" in failed[0].user_attrs["error"]
    assert result.best is not None and result.best.feasible
    assert result.best.latency_ms <= 20
    stored = json.loads((run_dir / "config.json").read_text())
    assert stored["extra"]["backend"] == "ray"
    best = json.loads((run_dir / "best" / "arch.json").read_text())
    assert best["search"]["trial"] == result.best.number


def test_asha_stops_a_poor_trial_early(cluster: str, tmp_path: Path,
                                      quick_model_source: None) -> None:
    proxy = SyntheticTrainingProxy(epochs=4)
    # random candidates: the predictor's prior (the default estimate) would propose six
    # equally good networks, and ASHA has nothing poor to stop
    config = SearchConfig(target="pixel4", budget_ms=20, trials=6, name="asha",
                          proxy="synthetic-train", sampler="random",
                          runs_dir=str(tmp_path / "runs"), seed=0)
    result = run_ray_search(config, options=RayOptions(address=cluster, workers=1,
                                                       scheduler="asha"),
                            progress=False, proxy=proxy)
    trials = _study_trials(result.run_dir)
    stopped = [t for t in trials if t.user_attrs.get("stopped_at_epoch")]
    full = [t for t in trials if t.state.name == "COMPLETE" and len(t.intermediate_values) == 4]
    assert stopped, [(t.state.name, t.intermediate_values) for t in trials]
    assert all(t.state.name == "PRUNED" and len(t.intermediate_values) < 4 for t in stopped)
    assert full
    rows = {row["number"]: row for row in _rows(result.run_dir)}
    assert rows[str(stopped[0].number)]["state"] == "PRUNED"


def test_interrupted_search_resumes_keeping_finished_trials(
        cluster: str, tmp_path: Path, quick_model_source: None) -> None:
    proxy = SyntheticTrainingProxy(epochs=2, sleep_s=0.4)
    config = SearchConfig(target="pixel4", budget_ms=20, trials=6, name="resume",
                          proxy="synthetic-train",
                          runs_dir=str(tmp_path / "runs"), seed=1)
    finished: list[dict] = []

    def interrupt_after_two_trials(result: dict) -> None:  # Ctrl-C mid-search
        finished.append(result)
        if len(finished) == 2:
            os.kill(os.getpid(), signal.SIGUSR1)  # Tune's stop signal, like SIGINT

    first = run_ray_search(config, options=RayOptions(address=cluster, workers=1),
                           progress=False, proxy=proxy, on_trial=interrupt_after_two_trials)
    kept = {t.user_attrs["arch_hash"]: t.number for t in _study_trials(first.run_dir)
            if t.state.name == "COMPLETE"}
    assert 2 <= len(kept) < 6, kept

    with pytest.raises(MnasInputError, match="--resume"):
        run_ray_search(config, options=RayOptions(address=cluster), progress=False, proxy=proxy)
    second = run_ray_search(config, options=RayOptions(address=cluster, workers=1, resume=True),
                            progress=False, proxy=proxy)
    assert second.resumed
    trials = _study_trials(second.run_dir)
    assert len(trials) == 6
    after = {t.user_attrs.get("arch_hash"): t.number for t in trials}
    assert all(digest in after for digest in kept)  # every finished trial was kept
    assert len(_rows(second.run_dir)) == 6


def test_unreachable_address_is_one_line_input_error(tmp_path: Path) -> None:
    port = _free_port()
    config = SearchConfig(target="pixel4", budget_ms=20, trials=2, name="nowhere",
                          runs_dir=str(tmp_path / "runs"))
    with pytest.raises(MnasInputError) as info:
        run_ray_search(config, options=RayOptions(address=f"127.0.0.1:{port}"), progress=False)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "ray start --head" in message
    assert "\n" not in message


def test_asha_needs_a_training_proxy(tmp_path: Path) -> None:
    config = SearchConfig(target="pixel4", budget_ms=20, trials=2, proxy="flops", name="x",
                          runs_dir=str(tmp_path / "runs"))
    with pytest.raises(MnasInputError, match="asha"):
        run_ray_search(config, options=RayOptions(scheduler="asha"), progress=False)


def test_predictor_sampler_learns_from_trained_trials_on_the_cluster(
        cluster: str, tmp_path: Path, quick_model_source: None) -> None:
    """``--backend ray --sampler predictor --proxy train``: Ray's OptunaSearch asks the
    predictor sampler; each trained trial's accuracy is a label of its surrogate."""
    proxy = SyntheticTrainingProxy(epochs=1)
    config = SearchConfig(target="pixel4", budget_ms=20, trials=13, name="predictor",
                          proxy="synthetic-train", sampler="predictor", prior="params",
                          runs_dir=str(tmp_path / "runs"), seed=2)
    result = run_ray_search(config, options=RayOptions(address=cluster, workers=2),
                            progress=False, proxy=proxy)
    trials = _study_trials(result.run_dir)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(done) == 13
    assert all(t.user_attrs["feasible"] for t in done)  # every proposal was within budget
    assert len({t.user_attrs["arch_hash"] for t in done}) == 13  # and new
    stored = json.loads((result.run_dir / "config.json").read_text())
    assert stored["sampler"] == "predictor" and stored["extra"]["backend"] == "ray"
