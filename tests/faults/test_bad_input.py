"""The bad-input matrix: every command and file format, each bad input gets exit 2 and one line.

Each case runs the real CLI entry point in this process (``mnas.cli.main``); an
exception escaping it is the traceback a user would see and fails the case. The
files are written into a fresh folder per case from the small templates below.

``python -m tests.faults.test_bad_input`` prints the matrix as a markdown table
(input -> exit code and message), the source of the README's reliability table.
"""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ._faults import REPO, TINY_ARCH, TINY_SPACE, one_error_line, with_options

PIXEL4 = REPO / "latency_tables" / "pixel4.json"


def _arch(**changes: object) -> str:
    doc = json.loads(json.dumps(TINY_ARCH))
    doc.update(changes)
    return json.dumps(doc)


def _table(mutate: Callable[[dict], None]) -> str:
    doc = json.loads(PIXEL4.read_text())
    mutate(doc)
    return json.dumps(doc)


def _first_entry(doc: dict) -> dict:
    return doc["entries"][next(iter(doc["entries"]))]


class _Pickled:
    def __reduce__(self) -> tuple:
        return (print, ("not run",))


#: Files a case may name as {name}: file name -> content (str or bytes).
FILES: dict[str, str | bytes] = {
    "not_json.json": "{ this is not json",
    "empty.json": "",
    "list.json": "[1, 2, 3]",
    "wrong_format.json": _arch(format="mnas-arch/999"),
    "bad_token.json": _arch(blocks=[["ir_r1_k3_s1_e6_c16_zz9"]]),
    "neg_channels.json": _arch(stem={"channels": -16, "stride": 2}),
    "zero_resolution.json": _arch(resolution=0),
    "str_classes.json": _arch(num_classes="ten"),
    "binary.json": b"\x00\xff\xfe\x80garbage",
    "space_bad_yaml.yaml": "stages: [ {channels: 16",
    "space_unknown_key.yaml": TINY_SPACE + "colour: blue\n",
    "space_bad_kernel.yaml": TINY_SPACE.replace("kernel: [3, 5]", "kernel: [4]", 1),
    "space_empty.yaml": "",
    "space_list.yaml": "- 1\n- 2\n",
    "space_tag.yaml": "name: !!python/object/apply:os.system ['true']\n",
    "table_not_json.json": "{\"format\": \"mnas-latency-table/1\", \"header\": {",
    "table_wrong_format.json": _table(lambda d: d.update(format="other/1")),
    "table_no_entries.json": _table(lambda d: d.pop("entries")),
    "table_neg_median.json": _table(lambda d: _first_entry(d).update(median_ms=-1)),
    "table_str_median.json": _table(lambda d: _first_entry(d).update(median_ms="fast")),
    "table_bad_band.json": _table(lambda d: d["header"].update(error_band=7)),
    "table_bad_threads.json": _table(lambda d: d["header"].update(threads=0)),
    "table_inf_n.json": _table(lambda d: _first_entry(d).update(n=float("inf"))),
    "table_nan_cal.json": _table(lambda d: d.update(calibration={"a": float("nan"), "b": 0})),
    "weights_text.pt": "not a state dict",
    "weights_pickle.pt": pickle.dumps({"x": _Pickled()}),
    "weights_list.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage",
    "existing.py": "# already here\n",
}

A = "{tmp}/"
SEARCH = ["search", "--target", "pixel4", "--budget", "20ms", "--trials", "1", "--timeout",
          "0", "--no-progress", "--proxy", "params", "--runs-dir", "{tmp}/runs"]


def _search(*changes: str) -> list[str]:
    """``SEARCH`` with option values replaced/added (pairs of option, value)."""
    return with_options(SEARCH, *changes)


#: (case id, argv). Every one must exit 2 with one ``error:`` line.
CASES: list[tuple[str, list[str]]] = [
    # budgets
    ("budget word", _search("--budget", "fast")),
    ("budget negative", _search("--budget", "-5ms")),
    ("budget zero", _search("--budget", "0")),
    ("budget nan", _search("--budget", "nan")),
    ("budget inf", _search("--budget", "inf")),
    ("budget over an hour", _search("--budget", "2h")),
    ("budget huge seconds", _search("--budget", "1e9s")),
    ("budget unit twice", _search("--budget", "20msms")),
    ("budget microseconds", _search("--budget", "20us")),
    ("budget empty", _search("--budget", "")),
    ("budget below fastest arch", _search("--budget", "0.01ms")),
    # targets and tables
    ("target unknown", _search("--target", "pixel99")),
    ("target missing file", _search("--target", A + "nope.json")),
    ("target not JSON", _search("--target", A + "table_not_json.json")),
    ("target wrong format", _search("--target", A + "table_wrong_format.json")),
    ("target no entries", _search("--target", A + "table_no_entries.json")),
    ("target negative median", _search("--target", A + "table_neg_median.json")),
    ("target string median", _search("--target", A + "table_str_median.json")),
    ("target band 7", _search("--target", A + "table_bad_band.json")),
    ("target threads 0", _search("--target", A + "table_bad_threads.json")),
    ("target n=Infinity", _search("--target", A + "table_inf_n.json")),
    ("target calibration NaN", _search("--target", A + "table_nan_cal.json")),
    ("latency show missing table", ["latency", "show", A + "nope.json"]),
    ("latency show truncated table", ["latency", "show", A + "table_not_json.json"]),
    ("predict unknown target", ["predict", "--target", "nowhere", "--arch",
                                "mobilenet_v3_small"]),
    # spaces
    ("space unknown", _search("--space", "nosuchspace")),
    ("space malformed YAML", _search("--space", A + "space_bad_yaml.yaml")),
    ("space unknown key", _search("--space", A + "space_unknown_key.yaml")),
    ("space kernel 4", _search("--space", A + "space_bad_kernel.yaml")),
    ("space empty file", _search("--space", A + "space_empty.yaml")),
    ("space is a list", _search("--space", A + "space_list.yaml")),
    ("space python tag", _search("--space", A + "space_tag.yaml")),
    ("space show bad YAML", ["space", "show", A + "space_bad_yaml.yaml"]),
    # other search options
    ("proxy unknown", _search("--proxy", "magic")),
    ("sampler unknown", _search("--sampler", "grid")),
    ("trials not a number", _search("--trials", "many")),
    ("objective unknown", _search("--objective", "best")),
    ("runs-dir is a file", _search("--runs-dir", A + "existing.py")),
    # arch files
    ("arch not JSON", ["arch", "show", A + "not_json.json"]),
    ("arch empty file", ["arch", "show", A + "empty.json"]),
    ("arch is a list", ["arch", "show", A + "list.json"]),
    ("arch wrong format", ["arch", "show", A + "wrong_format.json"]),
    ("arch unknown token", ["arch", "show", A + "bad_token.json"]),
    ("arch negative channels", ["arch", "show", A + "neg_channels.json"]),
    ("arch resolution 0", ["arch", "show", A + "zero_resolution.json"]),
    ("arch classes a string", ["arch", "show", A + "str_classes.json"]),
    ("arch binary garbage", ["arch", "show", A + "binary.json"]),
    ("arch missing file", ["arch", "show", A + "nope.json"]),
    ("arch unknown zoo name", ["arch", "show", "mobilenet_v9"]),
    ("predict bad arch", ["predict", "--target", "pixel4", "--arch", A + "bad_token.json"]),
    ("score unknown proxy", ["score", "--arch", "mobilenet_v3_small", "--proxy", "magic"]),
    ("score bad arch", ["score", "--arch", A + "neg_channels.json", "--proxy", "params"]),
    # export
    ("export unknown format", ["export", "mobilenet_v3_small", "-f", "keras", "-o",
                               A + "m.py"]),
    ("export existing file", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o",
                              A + "existing.py"]),
    ("export into a file's folder", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o",
                                     A + "existing.py/m.py"]),
    ("export onto a folder", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o", A]),
    ("export wrong suffix", ["export", "mobilenet_v3_small", "-f", "onnx", "-o", A + "m.py"]),
    ("export weights missing", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o",
                                A + "m.py", "--weights", A + "nope.pt"]),
    ("export weights text", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o",
                             A + "m.py", "--weights", A + "weights_text.pt"]),
    ("export weights pickle", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o",
                               A + "m.py", "--weights", A + "weights_pickle.pt"]),
    ("export weights bad safetensors", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o",
                                        A + "m.py", "--weights",
                                        A + "weights_list.safetensors"]),
    ("export rank without run", ["export", "mobilenet_v3_small", "-f", "pytorch", "-o",
                                 A + "m.py", "--rank", "2"]),
    ("export rank 0", ["export", A, "-f", "pytorch", "-o", A + "m.py", "--rank", "0"]),
    ("export folder not a run", ["export", A, "-f", "pytorch", "-o", A + "m.py"]),
    ("export opset word", ["export", "mobilenet_v3_small", "-f", "onnx", "-o", A + "m.onnx",
                           "--opset", "x"]),
    ("export opset 3", ["export", A + "tiny.json", "-f", "onnx", "-o", A + "m.onnx",
                        "--opset", "3"]),
    ("export bad arch", ["export", A + "bad_token.json", "-f", "pytorch", "-o", A + "m.py"]),
    ("report not a run", ["report", A]),
    # latency build options (refused before anything is measured)
    ("build cpus word", ["latency", "build", "--arch", A + "tiny.json", "--no-zoo", "--out",
                         A + "t.json", "--cpus", "a,b"]),
    ("build repeats 0", ["latency", "build", "--arch", A + "tiny.json", "--no-zoo", "--out",
                         A + "t.json", "--repeats", "0"]),
    ("build unknown device", ["latency", "build", "--arch", A + "tiny.json", "--no-zoo",
                              "--out", A + "t.json", "--device", "toaster"]),
    ("build unknown runner", ["latency", "build", "--arch", A + "tiny.json", "--no-zoo",
                              "--out", A + "t.json", "--runner", "tvm"]),
    ("build bad arch", ["latency", "build", "--arch", A + "bad_token.json", "--no-zoo",
                        "--out", A + "t.json"]),
    ("unknown command", ["fly"]),
]

#: Cases where the CLI is known to fail the contract (see the report); strict xfails.
KNOWN_BUGS: dict[str, str] = {}


def _materialise(tmp: Path, argv: list[str]) -> list[str]:
    for name, content in FILES.items():
        path = tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    (tmp / "tiny.json").write_text(json.dumps(TINY_ARCH))
    return [a.replace("{tmp}", str(tmp)) for a in argv]


def _params() -> list:
    out = []
    for case_id, argv in CASES:
        marks = ([pytest.mark.xfail(strict=True, reason=f"BUG: {KNOWN_BUGS[case_id]}")]
                 if case_id in KNOWN_BUGS else [])
        out.append(pytest.param(argv, id=case_id, marks=marks))
    return out


@pytest.mark.parametrize("argv", _params())
def test_bad_input_exits_2_with_one_line(cli, tmp_path: Path, argv: list[str]) -> None:
    argv = _materialise(tmp_path, argv)
    try:
        code, _out, err = cli(*argv)
    except SystemExit as exit_:  # argparse --help/--version paths; not expected here
        raise AssertionError(f"SystemExit({exit_.code}) escaped main") from None
    assert code == 2, err
    one_error_line(err)


def _shown(argv: list[str]) -> str:
    """The command line of a case; search cases show only what differs from ``SEARCH``."""
    if argv[:1] == ["search"]:
        extra = [f"{o} {argv[argv.index(o) + 1]}" for o in argv if o.startswith("--")
                 and (o not in SEARCH or SEARCH[SEARCH.index(o) + 1] != argv[argv.index(o) + 1])
                 and argv.index(o) + 1 < len(argv)]
        return ("mnas search --target pixel4 --budget 20ms ... "
                + " ".join(extra).replace("{tmp}/", ""))
    return "mnas " + " ".join(a.replace("{tmp}/", "") or "DIR" for a in argv).replace(
        "{tmp}", "DIR")


def matrix_markdown() -> str:
    """Run every case and return the markdown table: input -> exit code, message."""
    import contextlib
    import io
    import tempfile

    from mnas.cli import main

    rows = ["| input | exit | what the user sees (stderr) |", "|---|---|---|"]
    for case_id, argv in CASES:
        with tempfile.TemporaryDirectory() as folder:
            real = _materialise(Path(folder), argv)
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    code: object = main(real)
                text = err.getvalue().strip().replace(folder, "DIR")
            except BaseException as exc:  # noqa: BLE001 - the matrix records what escapes
                code, text = "traceback", f"{type(exc).__name__}: {exc}".replace(folder, "DIR")
        lines = [line for line in text.splitlines() if line.strip()]
        text = lines[-1] if lines else ""
        if len(lines) > 1:
            text = f"({len(lines)} lines) " + text
        text = text.replace("|", "\\|")
        if len(text) > 150:
            text = text[:147] + "..."
        rows.append(f"| {case_id}: `{_shown(argv)}` | {code} | {text} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(matrix_markdown() + "\n")
