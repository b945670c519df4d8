"""Shared helpers of the fault-injection suite: run the real CLI, kill it, read its files."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0"}

TINY_ARCH: dict[str, Any] = {
    "format": "mnas-arch/1", "name": "tiny", "resolution": 32, "num_classes": 10,
    "stem": {"channels": 8, "stride": 2},
    "blocks": [["ds_r1_k3_s1_e1_c8"], ["ir_r1_k3_s2_e3_c16"], ["ir_r2_k5_s2_e3_c24_se0.25"],
               ["ir_r2_k3_s2_e6_c32"]],
}

#: A two-stage space small enough for dozens of trials in seconds (shared with tests/search).
TINY_SPACE = (Path(__file__).resolve().parents[1] / "data" / "tiny_space.yaml").read_text()


def mnas_cmd(*args: str) -> list[str]:
    """The command line that runs ``mnas ARGS`` with this checkout's package."""
    return [sys.executable, "-m", "mnas.cli", *args]


def run_mnas(*args: str, cwd: Path = REPO, timeout: float = 240,
             preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``mnas ARGS`` to completion in a subprocess; capture its output."""
    return subprocess.run(mnas_cmd(*args), cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec_fn, check=False)


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], *,
              timeout: float = 180, extra_delay_s: float = 0.0) -> None:
    """SIGKILL ``proc`` once ``ready()`` holds (then after ``extra_delay_s``).

    Fails the test if the process exits first or ``ready`` never holds.
    """
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"the process ended before the kill point: {err[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("the kill point was not reached in time")
            time.sleep(0.02)
        if extra_delay_s:
            time.sleep(extra_delay_s)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()


def journal_lines(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of an append-only journal (a torn last line is skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def finished_trials(run_dir: Path) -> dict[int, tuple[dict[str, Any], tuple[float, ...] | None]]:
    """``{number: (params, values)}`` of the finished trials in a run folder's study."""
    import optuna

    from mnas.search import open_storage

    if not (run_dir / "study.log").exists():
        return {}
    try:
        study = optuna.load_study(study_name="mnas", storage=open_storage(run_dir))
    except Exception:  # noqa: BLE001 - the writer may be creating the study right now
        return {}
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return {t.number: (t.params, tuple(t.values) if t.values else None)
            for t in study.get_trials(deepcopy=False, states=states)}


def count_finished_lines(run_dir: Path) -> int:
    """Cheap count of finished trials appended to ``study.log`` (no Optuna replay)."""
    return sum(1 for r in journal_lines(run_dir / "study.log")
               if r.get("op_code") == 4 and r.get("state") in (1, 2))  # CREATE_TRIAL, finished


def limit_file_size(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps every file the child writes at ``max_bytes`` (disk full)."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def one_error_line(stderr: str) -> str:
    """Assert ``stderr`` is exactly one ``error: ...`` line without a traceback; return it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def with_options(base: list[str], *changes: str) -> list[str]:
    """``base`` command-line arguments with option values replaced or added (option, value pairs)."""
    args = list(base)
    for option, value in zip(changes[::2], changes[1::2], strict=True):
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    return args
