"""Disk and file faults: read-only folders, a full disk, truncated files, two writers.

Each fault must end in one clear ``error:`` line (exit 1 or 2) or a safe outcome, and
never in a corrupted file: where a file existed before, it is checked intact after.

Read-only folders and full disks are real: small tmpfs mounts (the tests skip where
mounting is not allowed) and ``RLIMIT_FSIZE`` set in a child process (``ulimit -f``;
Python ignores SIGXFSZ, so writes past the limit fail with EFBIG).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from mnas.latency import load_table
from mnas.latency._builder import journal_path

from ._faults import (
    ENV,
    REPO,
    TINY_ARCH,
    TINY_SPACE,
    count_finished_lines,
    finished_trials,
    limit_file_size,
    mnas_cmd,
    one_error_line,
    run_mnas,
)

PIXEL4 = REPO / "latency_tables" / "pixel4.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_SPACE = Path(tempfile.gettempdir()) / "mnas-faults-tiny-space.yaml"


def _search(runs: Path, name: str = "r", trials: int = 4) -> list[str]:
    space = _SPACE  # one fixed path: run folders copied elsewhere still match their config
    if not space.exists() or space.read_text() != TINY_SPACE:
        space.write_text(TINY_SPACE)
    return ["search", "--target", "pixel4", "--budget", "40ms", "--space", str(space),
            "--proxy", "params", "--sampler", "random", "--seed", "1", "--trials", str(trials),
            "--timeout", "0", "--no-progress", "--runs-dir", str(runs), "--name", name]


def _build(arch: Path, out: Path, *resolutions: int) -> list[str]:
    args = ["latency", "build", "--target", "faults", "--arch", str(arch), "--no-zoo",
            "--out", str(out), "--warmup", "0", "--repeats", "2", "--calibration-networks",
            "1", "--no-progress"]
    for r in resolutions:
        args += ["--resolution", str(r)]
    return args


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small finished search run folder (made in this process: no import cost)."""
    from mnas.cli import main

    base = tmp_path_factory.mktemp("finished_run")
    assert main(_search(base / "runs")) == 0
    return base / "runs" / "r"


@pytest.fixture(scope="module")
def small_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny measured host table (resolution 32) and the arch file it covers."""
    from mnas.cli import main

    base = tmp_path_factory.mktemp("small_table")
    arch = base / "tiny.json"
    arch.write_text(json.dumps(TINY_ARCH))
    assert main(_build(arch, base / "t.json", 32)) == 0
    return base / "t.json", arch


# ------------------------------------------------------------------ read-only folders
def test_search_into_read_only_runs_dir(mount_tmpfs, cli, tmp_path: Path) -> None:
    runs = mount_tmpfs(read_only=True)
    code, _out, err = cli(*_search(runs))
    assert code in (1, 2)
    assert "read-only" in one_error_line(err).lower() or "permission" in err.lower()


def test_resume_in_read_only_run_folder_keeps_it_intact(mount_tmpfs, cli,
                                                        finished_run: Path) -> None:
    runs = mount_tmpfs(4 << 20, read_only=True, populate=lambda p: shutil.copytree(
        finished_run, p / "r"))
    study_before = _digest(runs / "r" / "study.log")
    code, _out, err = cli(*_search(runs, trials=6))
    assert code in (1, 2)
    one_error_line(err)
    assert _digest(runs / "r" / "study.log") == study_before


def test_latency_build_into_read_only_folder(mount_tmpfs, cli, small_table) -> None:
    table, arch = small_table
    folder = mount_tmpfs(read_only=True, populate=lambda p: shutil.copy(table, p / "t.json"))
    before = _digest(folder / "t.json")
    code, _out, err = cli(*_build(arch, folder / "t.json", 32, 40))
    assert code in (1, 2)
    one_error_line(err)
    assert _digest(folder / "t.json") == before


def test_export_into_read_only_folder(mount_tmpfs, cli, tmp_path: Path) -> None:
    folder = mount_tmpfs(read_only=True)
    arch = tmp_path / "tiny.json"
    arch.write_text(json.dumps(TINY_ARCH))
    code, _out, err = cli("export", str(arch), "--format", "pytorch", "-o",
                          str(folder / "m.py"))
    assert code in (1, 2)
    one_error_line(err)


# ------------------------------------------------------------------ full disk
def test_latency_build_on_full_disk_keeps_old_table(mount_tmpfs, cli, small_table) -> None:
    """The table is rewritten through a temp file: ENOSPC leaves the old one whole."""
    table, arch = small_table
    size = table.stat().st_size
    folder = mount_tmpfs(size + 8192, populate=lambda p: shutil.copy(table, p / "t.json"))
    before = _digest(folder / "t.json")
    try:
        code, _out, err = cli(*_build(arch, folder / "t.json", 32, 40))
    finally:  # whatever the CLI does, the old table is whole
        assert _digest(folder / "t.json") == before
        load_table(folder / "t.json")
    assert code in (1, 2)
    one_error_line(err)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")], "temp file left"


def test_latency_build_past_file_size_limit_keeps_old_table(small_table,
                                                            tmp_path: Path) -> None:
    """``ulimit -f`` in the child: the subprocess sees EFBIG, the old table stays whole."""
    table, arch = small_table
    shutil.copy(table, tmp_path / "t.json")
    before = _digest(tmp_path / "t.json")
    done = run_mnas(*_build(arch, tmp_path / "t.json", 32, 40), cwd=tmp_path,
                    preexec_fn=limit_file_size(table.stat().st_size // 2))
    assert _digest(tmp_path / "t.json") == before  # the old table is whole
    assert done.returncode in (1, 2), done.stderr
    one_error_line(done.stderr)


def test_search_on_full_disk_keeps_finished_trials(mount_tmpfs, cli,
                                                   finished_run: Path) -> None:
    used = sum(-(-p.stat().st_size // 4096) * 4096 + 4096 for p in finished_run.rglob("*"))
    runs = mount_tmpfs(used + 65536, populate=lambda p: shutil.copytree(finished_run, p / "r"))
    before = finished_trials(runs / "r")
    try:
        code, _out, err = cli(*_search(runs, trials=400))
    finally:  # whatever the CLI does, the trials finished before are kept
        after = finished_trials(runs / "r")
        for number, record in before.items():
            assert after[number] == record
    if code == 0:  # a safe outcome: it fitted
        assert len(after) == 400
    else:
        one_error_line(err)


def test_export_on_full_disk(mount_tmpfs, cli, tmp_path: Path) -> None:
    folder = mount_tmpfs(32 << 10)
    arch = tmp_path / "tiny.json"
    arch.write_text(json.dumps(TINY_ARCH))
    code, _out, err = cli("export", str(arch), "--format", "onnx", "-o", str(folder / "m.onnx"))
    assert code in (1, 2)
    one_error_line(err)
    assert list(folder.iterdir()) == [], "a partial export or its staging folder was left"


# ------------------------------------------------------------------ truncated files
@pytest.mark.parametrize("fraction", [0.0, 0.37, 0.99])
def test_truncated_table_is_one_line_error(cli, tmp_path: Path, fraction: float) -> None:
    data = PIXEL4.read_bytes()
    bad = tmp_path / "pixel4.json"
    bad.write_bytes(data[: int(len(data) * fraction)])
    code, _out, err = cli("predict", "--target", str(bad), "--arch", "mobilenet_v3_small")
    assert code == 2
    assert "pixel4.json" in one_error_line(err)


def test_latency_build_over_truncated_table_does_not_destroy_it(cli, small_table,
                                                                tmp_path: Path) -> None:
    table, arch = small_table
    data = table.read_bytes()
    bad = tmp_path / "t.json"
    bad.write_bytes(data[: len(data) // 2])
    code, _out, err = cli(*_build(arch, bad, 32))
    if code == 0:  # rebuilt: the result must be whole
        load_table(bad)
    else:
        one_error_line(err)
        assert bad.read_bytes() == data[: len(data) // 2], "the damaged file was changed"


def test_torn_last_journal_line_of_a_build_is_ignored(cli, small_table,
                                                      tmp_path: Path) -> None:
    table, arch = small_table
    shutil.copy(table, tmp_path / "t.json")
    journal_path(tmp_path / "t.json").write_text('{"key": "ir-in:32x32x8-out', encoding="utf-8")
    code, _out, err = cli(*_build(arch, tmp_path / "t.json", 32))
    assert code == 0, err
    assert load_table(tmp_path / "t.json").entries.keys() == load_table(table).entries.keys()


@pytest.mark.parametrize("cut", [
    "half_line", "garbage_line"])
def test_truncated_study_log_resumes_or_says_so(cli, finished_run: Path, tmp_path: Path,
                                               cut: str) -> None:
    run = tmp_path / "runs" / "r"
    shutil.copytree(finished_run, run)
    log = run / "study.log"
    lines = log.read_bytes().splitlines(keepends=True)
    kept = finished_trials(finished_run)
    if cut == "half_line":  # a write cut short: the last trial is torn
        log.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    else:
        log.write_bytes(b"".join(lines) + b"\x00\x00garbage{\n")
    code, _out, err = cli(*_search(tmp_path / "runs", trials=6))
    if code != 0:
        assert "study.log" in one_error_line(err)
        return
    after = finished_trials(run)
    assert len(after) == 6
    intact = dict(list(kept.items())[:-1]) if cut == "half_line" else kept
    for number, record in intact.items():
        assert after[number] == record


# ------------------------------------------------------------------ two writers
def test_second_search_in_the_same_run_folder_is_refused(cli, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = subprocess.Popen(mnas_cmd(*_search(runs, trials=5000)), cwd=tmp_path, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while count_finished_lines(runs / "r") < 1:  # the first writer is inside its loop
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        code, _out, err = cli(*_search(runs, trials=5000))
        alive = proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    assert alive, "the first search ended before the second one started"
    assert code == 2
    assert "another search is running" in one_error_line(err)
    json.loads((runs / "r" / "config.json").read_text())
    assert finished_trials(runs / "r")
