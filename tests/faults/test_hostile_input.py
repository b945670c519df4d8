"""Hostile input, tried from outside: every size bounded, nothing hangs, no unjustified number.

The cases follow the classes of issue 15: inputs that blew up memory or hung, inputs
that ended in a traceback, inputs that printed a number they did not justify, and
misleading messages. They all run through the real CLI entry point in one child
process (``_hostile_runner``) under a 1.5 GiB memory limit with 10 s per case, so a
regression fails its case instead of freezing the machine. Each must exit 2 with one
``error:`` line naming the problem (or exit 0 where the input is legitimate).

Resume and Ctrl-C need a run folder or a real process: they are the tests at the end.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ._faults import (
    ENV,
    REPO,
    TINY_ARCH,
    TINY_SPACE,
    count_finished_lines,
    mnas_cmd,
    with_options,
)
from ._hostile_runner import CASE_SECONDS, MEMORY_LIMIT

PIXEL4 = REPO / "latency_tables" / "pixel4.json"
HOST = REPO / "latency_tables" / "host-amd-epyc-onnxruntime-1t.json"


# ------------------------------------------------------------------ input files
def _arch(**changes: Any) -> str:
    doc = json.loads(json.dumps(TINY_ARCH))
    doc.update(changes)
    return json.dumps(doc)


def _tokens(*tokens: str) -> str:
    return _arch(blocks=[list(tokens)])


def _table(mutate: Callable[[dict], None], source: Path = PIXEL4) -> str:
    doc = json.loads(source.read_text())
    mutate(doc)
    return json.dumps(doc)


def _entries(value: Any) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        for entry in doc["entries"].values():
            entry["median_ms"] = value
    return mutate


def _cal(**terms: float) -> Callable[[dict], None]:
    return lambda doc: doc.update(calibration={"a": 1.0, "b": 0.0, "c": 0.0, **terms})


def _header(**changes: Any) -> Callable[[dict], None]:
    return lambda doc: doc["header"].update(changes)


def _drop_header(field: str) -> Callable[[dict], None]:
    return lambda doc: doc["header"].pop(field)


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nname: *a11\n"


def _nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def _space(old: str, new: str) -> str:
    assert old in TINY_SPACE
    return TINY_SPACE.replace(old, new, 1)


FILES: dict[str, str | bytes] = {
    # class 1: sizes that blew up memory or never answered
    "e1000000.json": _tokens("ir_r1_k3_s1_e1000000_c8"),
    "r1000000.json": _tokens("ir_r1000000_k3_s1_e6_c8"),
    "blocks10000.json": _tokens(*["ds_r1_k3_s1_c8"] * 10_000),
    "blocks1025.json": _tokens(*["ds_r64_k3_s1_c8"] * 16, "ds_r1_k3_s1_c8"),
    "at_bounds.json": _tokens("ir_r1_k15_s1_e32_c8", "ir_r2_k3_s1_e1_c8", "ds_r1_k3_s8_c8192"),
    "e33.json": _tokens("ir_r1_k3_s1_e33_c8"),
    "r65.json": _tokens("ir_r65_k3_s1_e1_c8"),
    "k17.json": _tokens("ir_r1_k17_s1_e1_c8"),
    "s9.json": _tokens("ir_r1_k3_s9_e1_c8"),
    "c8193.json": _tokens("ir_r1_k3_s1_e1_c8193"),
    "resolution2049.json": _arch(resolution=2049),
    "classes100001.json": _arch(num_classes=100_001),
    "blocks100000.json": _tokens(*["ds_r1_k3_s1_c8"] * 100_000),
    "stages1e6.yaml": _space("stages:\n", "stages:\n" + "  - {channels: 16}\n" * 1_000_000),
    "stages100.yaml": _space("stages:\n", "stages:\n" + "  - {channels: 16}\n" * 100),
    "laughs.yaml": _billion_laughs(),
    "flat.yaml": "name: [" + ",".join(["1"] * 400_000) + "]\n",
    # class 2: values that ended in a traceback
    "channels1e9.json": _arch(stem={"channels": 10**9, "stride": 2}),
    "token_c1e9.json": _tokens("ir_r1_k3_s1_e6_c1000000000"),
    "classes1e9.json": _arch(num_classes=10**9),
    "resolution1e6.json": _arch(resolution=10**6),
    "digits400.json": _arch(resolution=int("9" * 400)),
    "digits5000.json": '{"format": "mnas-arch/1", "resolution": ' + "9" * 5000 + "}",
    "token_digits.json": _tokens("ir_r1_k3_s1_e6_c" + "9" * 5000),
    "token_digits19.json": _tokens("ir_r1_k3_s1_e6_c" + "9" * 19),
    "nested.json": _nested_json(100_000),
    "nested.yaml": "name: " + _nested_json(100_000) + "\n",
    "surrogate.json": _arch(name="\ud800"),
    "space_surrogate.yaml": _space("name: tiny", 'name: "\\ud800"'),
    "depth100000.yaml": _space("depth: [1, 2]", "depth: [100000]"),
    "space_digits.yaml": _space("num_classes: 10", "num_classes: " + "9" * 400),
    "space_channels.yaml": _space("stem: {channels: 16}", "stem: {channels: 1000000000}"),
    "space_resolution.yaml": _space("resolution: [32]", "resolution: [1000000]"),
    "space_wide.yaml": _space("channels: 24,", "channels: 8000,"),
    "table_1e308.json": _table(_entries(1e308)),
    # class 3: numbers the input did not justify
    "table_a_neg.json": _table(_cal(a=-1.0)),
    "table_b_neg.json": _table(_cal(b=-1000.0)),
    "table_a_1e308.json": _table(_cal(a=1e308)),
    "table_bool_median.json": _table(_entries(True)),
    "table_no_provenance.json": _table(_drop_header("provenance"), HOST),
    "table_measured_model.json": _table(_header(provenance="measured")),
    "table_no_band.json": _table(_drop_header("error_band")),
    "table_band_zero.json": _table(_header(error_band=0)),
    "table_bad_model.json": _table(lambda d: d["device_model"].update(bandwidth_gbs=-1)),
    # class 6: messages
    "bn_eps_zero.json": _arch(bn={"eps": 0}),
    "ok.json": json.dumps(TINY_ARCH),
    "non_ascii.json": _arch(name="caf\u00e9 \u2603"),
    "cal_1e308.csv": "arch,ms\nmobilenet_v2,1e308\n",
    "cal_bom.csv": "\ufeffarch,ms\nmobilenet_v2,41.7\nmobilenet_v3_large,25.3\n",
    "tiny.yaml": TINY_SPACE,
}

SEARCH = ["search", "--target", "pixel4", "--budget", "40ms", "--space", "{tmp}/tiny.yaml",
          "--trials", "1", "--timeout", "0", "--no-progress", "--proxy", "params",
          "--runs-dir", "{tmp}/runs"]


def _search(*changes: str) -> list[str]:
    return with_options(SEARCH, *changes)


def _show(path: str) -> list[str]:
    return ["arch", "show", "{tmp}/" + path]


def _in_tmp(path: str) -> str:
    """A file of the case folder, unless ``path`` is absolute, a name or the folder itself."""
    return path if path.startswith(("/", "{tmp}")) or "." not in path else "{tmp}/" + path


def _space_show(path: str) -> list[str]:
    return ["space", "show", _in_tmp(path)]


def _predict(table: str) -> list[str]:
    return ["predict", "--target", _in_tmp(table), "--arch", "mobilenet_v3_small"]


def _export(weights: str) -> list[str]:
    return ["export", "{tmp}/ok.json", "-f", "pytorch", "-o", "{tmp}/out/m.py", "--weights",
            _in_tmp(weights)]


def _calibrate(csv: str) -> list[str]:
    return ["latency", "calibrate", "--target", "pixel4", "--measurements", "{tmp}/" + csv,
            "-o", "{tmp}/calibrated.json"]


#: (case id, argv, expected exit code, a fragment the one line must hold)
CASES: list[tuple[str, list[str], int, str]] = [
    # 1. memory blow-ups and hangs
    ("arch expansion e1000000", _show("e1000000.json"), 2, "over the bound of 32"),
    ("arch repeats r1000000", _show("r1000000.json"), 2, "over the bound of 64"),
    ("arch 10,000 blocks", _show("blocks10000.json"), 2, "at most 1024 tokens"),
    ("arch 1025 blocks by repeats", _show("blocks1025.json"), 2, "more than 1024 blocks"),
    ("arch at every token bound", _show("at_bounds.json"), 0, ""),
    ("arch e33", _show("e33.json"), 2, "over the bound of 32"),
    ("arch r65", _show("r65.json"), 2, "over the bound of 64"),
    ("arch k17", _show("k17.json"), 2, "over the bound of 15"),
    ("arch s9", _show("s9.json"), 2, "over the bound of 8"),
    ("arch c8193", _show("c8193.json"), 2, "over the bound of 8192"),
    ("arch resolution 2049", _show("resolution2049.json"), 2, "[1, 2048]"),
    ("arch num_classes 100001", _show("classes100001.json"), 2, "[1, 100000]"),
    ("arch 100,000 blocks", _show("blocks100000.json"), 2, "over the 1,048,576-byte bound"),
    ("space 10^6 stages", _space_show("stages1e6.yaml"), 2, "byte bound"),
    ("space 100 stages", _space_show("stages100.yaml"), 2, "at most 64 stages"),
    ("arch FIFO without writer", _show("fifo.json"), 2, "named pipe (FIFO)"),
    ("space FIFO without writer", _space_show("fifo.yaml"), 2, "named pipe (FIFO)"),
    ("arch /dev/zero", ["arch", "show", "/dev/zero"], 2, "character device"),
    ("space /dev/zero", _space_show("/dev/zero"), 2, "character device"),
    ("space billion laughs", _space_show("laughs.yaml"), 2, "expands to more than"),
    ("space 400,000-item list", _space_show("flat.yaml"), 2, "more than 20,000 nodes"),
    # 2. tracebacks
    ("arch stem channels 10^9", _show("channels1e9.json"), 2, "stem.channels"),
    ("arch token c10^9", _show("token_c1e9.json"), 2, "over the bound of 8192"),
    ("arch num_classes 10^9", _show("classes1e9.json"), 2, "num_classes"),
    ("arch resolution 10^6", _show("resolution1e6.json"), 2, "resolution"),
    ("score stem channels 10^9", ["score", "--arch", "{tmp}/channels1e9.json", "--proxy",
                                  "params"], 2, "stem.channels"),
    ("arch 400-digit integer", _show("digits400.json"), 2, "digits"),
    ("arch 5000-digit integer", _show("digits5000.json"), 2, "digits"),
    ("arch 5000-digit token option", _show("token_digits.json"), 2, "over the bound of 200"),
    ("arch 19-digit token option", _show("token_digits19.json"), 2, "has 19 digits"),
    ("arch JSON nested 100,000 deep", _show("nested.json"), 2, "nested more than 32"),
    ("space YAML nested 100,000 deep", _space_show("nested.yaml"), 2, "nested more than 32"),
    ("arch lone surrogate in name", _show("surrogate.json"), 2, "lone surrogate"),
    ("space lone surrogate in name", _space_show("space_surrogate.yaml"), 2, "surrogate"),
    ("space depth [100000]", _space_show("depth100000.yaml"), 2, "depth[0]"),
    ("space 400-digit integer", _space_show("space_digits.yaml"), 2, "digits"),
    ("space stem channels 10^9", _space_show("space_channels.yaml"), 2, "stem.channels"),
    ("space resolution 10^6", _space_show("space_resolution.yaml"), 2, "resolution"),
    ("space channels x expansion", _space_show("space_wide.yaml"), 2, "at most 8192"),
    ("search table entries 1e308", _search("--target", "{tmp}/table_1e308.json"), 2,
     "at most 1e+06 ms"),
    ("search seed 2^32", _search("--seed", "4294967296"), 2, "[0, 4294967295]"),
    ("calibrate 1e308 ms", _calibrate("cal_1e308.csv"), 2, "in (0, 1e+06]"),
    # 3. numbers the input did not justify
    ("predict calibration a = -1", _predict("table_a_neg.json"), 2, "slope 'a'"),
    ("predict calibration b = -1000", _predict("table_b_neg.json"), 2, "term 'b'"),
    ("predict entries 1e308", _predict("table_1e308.json"), 2, "at most 1e+06 ms"),
    ("predict calibration a = 1e308", _predict("table_a_1e308.json"), 2, "slope 'a'"),
    ("predict median_ms true", _predict("table_bool_median.json"), 2, "numeric median_ms"),
    ("predict no provenance", _predict("table_no_provenance.json"), 2, "'provenance' is missing"),
    ("predict measured beside device_model", _predict("table_measured_model.json"), 2,
     "set provenance to 'estimated'"),
    ("predict no error_band", _predict("table_no_band.json"), 2, "'error_band' is missing"),
    ("predict error_band 0", _predict("table_band_zero.json"), 2, "in (0, 1)"),
    ("search calibration a = -1", _search("--target", "{tmp}/table_a_neg.json"), 2,
     "slope 'a'"),
    ("calibrate calibration a = -1", ["latency", "calibrate", "--target",
                                      "{tmp}/table_a_neg.json", "--measurements",
                                      "{tmp}/cal_bom.csv", "-o", "{tmp}/c2.json"], 2,
     "slope 'a'"),
    ("predict shipped estimated table", _predict("pixel4"), 0, ""),
    # 5. weights
    ("export NaN weights", _export("nan.pt"), 2, "NaN or infinite"),
    ("export int64 weights", _export("int64.pt"), 2, "not floating point"),
    # 6. messages
    ("run name '.'", _search("--name", "."), 2, "must start with a letter or a digit"),
    ("run name '..'", _search("--name", ".."), 2, "must start with a letter or a digit"),
    ("run name '-rf'", [*SEARCH, "--name=-rf"], 2, "must start with a letter or a digit"),
    ("table is a directory", _predict("{tmp}"), 2, "got a directory"),
    ("table is a FIFO", _predict("fifo.json"), 2, "named pipe (FIFO)"),
    ("table is /dev/zero", _predict("/dev/zero"), 2, "character device"),
    ("weights is a directory", _export("{tmp}"), 2, "got a directory"),
    ("weights is a FIFO", _export("fifo.json"), 2, "named pipe (FIFO)"),
    ("weights is /dev/zero", _export("/dev/zero"), 2, "character device"),
    ("budget 1e309ms", _search("--budget", "1e309ms"), 2, "above the one-hour bound"),
    ("bn.eps 0", _show("bn_eps_zero.json"), 2, "a number in (0.0, 1.0)"),
    ("calibration CSV with a BOM", _calibrate("cal_bom.csv"), 0, ""),
    ("device model names the table", _predict("table_bad_model.json"), 2,
     "table_bad_model.json: device_model.bandwidth_gbs"),
]


#: (case id, argv, stdout kind of ``_hostile_runner``): cases about the output stream.
STREAM_CASES: list[tuple[str, list[str], str]] = [
    ("stdout closed by its reader", ["zoo", "list", "--json"], "broken"),
    ("non-ASCII name on an ASCII terminal", _show("non_ascii.json"), "ascii"),
]


def _materialise(tmp: Path) -> None:
    for name, content in FILES.items():
        path = tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
    for name in ("fifo.json", "fifo.yaml"):
        os.mkfifo(tmp / name)
    import torch

    from mnas.arch import arch_from_dict
    from mnas.models import build

    state = build(arch_from_dict(TINY_ARCH)).state_dict()
    nan = dict(state)
    first = next(k for k, v in state.items() if v.is_floating_point())
    nan[first] = torch.full_like(state[first], float("nan"))
    torch.save(nan, tmp / "nan.pt")
    torch.save({k: v.to(torch.int64) for k, v in state.items()}, tmp / "int64.pt")


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every case's result, from one bounded child process."""
    tmp = tmp_path_factory.mktemp("hostile")
    _materialise(tmp)
    cases = [{"id": case_id, "argv": [a.replace("{tmp}", str(tmp)) for a in argv]}
             for case_id, argv, _code, _fragment in CASES]
    cases += [{"id": case_id, "argv": [a.replace("{tmp}", str(tmp)) for a in argv],
               "stdout": stdout} for case_id, argv, stdout in STREAM_CASES]
    (tmp / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.faults._hostile_runner", str(tmp / "cases.json"),
         str(tmp / "results.json")], cwd=REPO, env=ENV, capture_output=True, text=True,
        timeout=60 + CASE_SECONDS * len(cases) / 4, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp / "results.json").read_text())
    for result in results.values():
        result["stderr"] = result["stderr"].replace(str(tmp), "TMP")
    return results


@pytest.mark.parametrize(("argv", "code", "fragment"),
                         [pytest.param(a, c, f, id=i) for i, a, c, f in CASES])
def test_hostile_input_is_one_line_within_bounds(hostile_results: dict[str, dict[str, Any]],
                                                 request: pytest.FixtureRequest,
                                                 argv: list[str], code: int,
                                                 fragment: str) -> None:
    case_id = request.node.callspec.id
    result = hostile_results[case_id]
    assert result["code"] == code, result["stderr"]
    assert result["seconds"] < CASE_SECONDS
    assert result["peak_rss_mb"] * (1 << 20) < MEMORY_LIMIT
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    if code == 0:
        assert not any(line.startswith("error:") for line in lines), result["stderr"]
        return
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"]
    assert fragment in lines[0], lines[0]


def test_predict_of_an_estimated_table_says_estimated(hostile_results) -> None:
    out = hostile_results["predict shipped estimated table"]["stdout"]
    assert "ms (estimated ±25%" in out and "(measured" not in out, out


def test_bom_calibration_fits_both_rows(hostile_results) -> None:
    out = hostile_results["calibration CSV with a BOM"]["stdout"]
    assert "over 2 networks" in out, out


# ------------------------------------------------------------------- resume
#: The resumed search: relative paths, run from the (copied) folder that holds them. Optuna
#: trials (its journal, study.log, is what these tests damage); the batched search's
#: record is tested in tests/search/test_batched_run.py.
RESUME = ["search", "--target", "table.json", "--budget", "40ms", "--space", "tiny.yaml",
          "--trials", "2", "--timeout", "0", "--no-progress", "--proxy", "params",
          "--runs-dir", "runs", "--name", "r", "--sampler", "predictor"]


@pytest.fixture(scope="module")
def finished_tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a finished 2-trial search of the tiny space on a copy of pixel4."""
    from mnas.cli import main

    tmp = tmp_path_factory.mktemp("resume")
    (tmp / "tiny.yaml").write_text(TINY_SPACE)
    shutil.copy(PIXEL4, tmp / "table.json")
    cwd = Path.cwd()
    os.chdir(tmp)
    try:
        assert main(RESUME) == 0
    finally:
        os.chdir(cwd)
    return tmp


def _copy_run(run: Path, dest: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the run's folder, made the working directory."""
    shutil.copytree(run, dest / "w")
    monkeypatch.chdir(dest / "w")
    return dest / "w"


@pytest.mark.parametrize(("edit", "what"), [
    (lambda d: (d / "tiny.yaml").write_text(TINY_SPACE.replace("kernel: [3, 5]", "kernel: [3, 7]")),
     "search-space definition"),
    (lambda d: (d / "table.json").write_text(
        (d / "table.json").read_text().replace('"a": 1.0', '"a": 30.0', 1)), "latency table"),
])
def test_resume_refuses_edited_inputs(cli, finished_tiny_run, tmp_path: Path, monkeypatch,
                                      edit: Callable[[Path], None], what: str) -> None:
    work = _copy_run(finished_tiny_run, tmp_path, monkeypatch)
    study = (work / "runs" / "r" / "study.log").read_bytes()
    edit(work)
    code, _out, err = cli(*RESUME)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert what in err and "another --name" in err, err
    assert (work / "runs" / "r" / "study.log").read_bytes() == study  # nothing touched


def test_resume_with_unchanged_inputs_goes_on(cli, finished_tiny_run, tmp_path: Path,
                                              monkeypatch) -> None:
    work = _copy_run(finished_tiny_run, tmp_path, monkeypatch)
    # reformatting the space file (a comment) changes no definition
    (work / "tiny.yaml").write_text("# a comment\n" + TINY_SPACE)
    code, out, err = cli(*RESUME)
    assert code == 0 and "resumed" in out, err


@pytest.mark.parametrize(("damage", "fragment"), [
    (lambda r: (r / "config.json").write_text("{ not json"), "not valid JSON"),
    (lambda r: (r / "config.json").unlink(), "no config.json"),
    (lambda r: (r / "config.json").write_text(
        (r / "config.json").read_text().replace('"trials": 2', '"trials": -1')),
     "stored by an earlier run, not this command line"),
])
def test_damaged_config_is_one_line(cli, finished_tiny_run, tmp_path: Path, monkeypatch,
                                    damage: Callable[[Path], None], fragment: str) -> None:
    work = _copy_run(finished_tiny_run, tmp_path, monkeypatch)
    damage(work / "runs" / "r")
    code, _out, err = cli(*RESUME)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert fragment in err, err


def test_torn_middle_line_of_study_log_is_named(cli, finished_tiny_run, tmp_path: Path,
                                                monkeypatch) -> None:
    work = _copy_run(finished_tiny_run, tmp_path, monkeypatch)
    journal = work / "runs" / "r" / "study.log"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1][: len(lines[1]) // 2] + b"\n"
    journal.write_bytes(b"".join(lines))
    code, _out, err = cli(*RESUME)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"line 2 of {len(lines)}" in err and "delete its last line" not in err, err


def test_report_on_trials_csv_missing_a_column(cli, finished_tiny_run, tmp_path: Path,
                                               monkeypatch) -> None:
    work = _copy_run(finished_tiny_run, tmp_path, monkeypatch)
    trials = work / "runs" / "r" / "trials.csv"
    with trials.open(newline="") as handle:
        rows = list(csv.reader(handle))
    drop = rows[0].index("state")
    with trials.open("w", newline="") as handle:
        csv.writer(handle).writerows(r[:drop] + r[drop + 1:] for r in rows)
    code, _out, err = cli("report", str(work / "runs" / "r"))
    assert code == 2 and "'state' column" in err and "trials.csv" in err, err


# ------------------------------------------------------- processes and pipes
def test_ctrl_c_is_one_line_exit_130_and_keeps_finished_trials(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY_SPACE)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in _search("--trials", "100000",
                                                               "--name", "c", "--sampler",
                                                               "predictor")]
    run_dir = tmp_path / "runs" / "c"
    proc = subprocess.Popen(mnas_cmd(*argv), cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while count_finished_lines(run_dir) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "no trials finished"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    before = count_finished_lines(run_dir)
    assert proc.returncode == 130, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), err[-3000:]
    assert before >= 3 and (run_dir / "trials.csv").read_text().count("\n") >= before


def test_closed_stdout_exits_quietly(hostile_results) -> None:
    result = hostile_results["stdout closed by its reader"]
    assert result["code"] == 141 and result["stderr"] == "", result


def test_ascii_terminal_shows_non_ascii_names_escaped(hostile_results) -> None:
    result = hostile_results["non-ASCII name on an ASCII terminal"]
    assert result["code"] == 0, result["stderr"]
    assert "caf\\xe9 \\u2603" in result["stdout"], result["stdout"]
