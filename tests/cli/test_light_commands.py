"""Commands that need no network answer at once: no torch import, little memory.

Each command runs in a fresh interpreter whose import system refuses ``torch`` (and
records the attempt, so a caller that swallows the ImportError is still caught). Time and
memory are measured too, with bounds loose enough for a loaded shared machine: the
figures themselves (<= 1 s, <= 150 MB here) are in ``benchmarks/command_speed.py``.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnas.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]

GUARD = r"""
import sys
attempts = []
class RefuseTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            attempts.append(name)
            raise ImportError(f"{name} imported by a command that must not need it")
        return None
sys.meta_path.insert(0, RefuseTorch())
import contextlib, io
from mnas.cli import main
def run(argv, quiet):
    try:
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            return main(argv)
    except SystemExit as stop:  # --help
        return int(stop.code or 0)
helps = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
codes = [run(argv, True) for argv in helps] if helps else [run(sys.argv[1:], False)]
code = next((c for c in codes if c), 0)
if attempts:
    print("TORCH IMPORTED: " + ", ".join(attempts), file=sys.stderr)
    code = code or 99
# VmHWM: this program's peak RSS (ru_maxrss would include the parent's before exec)
status = open("/proc/self/status").read()
print("PEAK_RSS_KB=" + status.split("VmHWM:")[1].split()[0], file=sys.stderr)
sys.exit(code)
"""

#: Loose bounds for a test on a shared machine (the benchmark holds the real ones).
MAX_SECONDS = 15.0
MAX_RSS_MB = 150.0


def run_guarded(argv: list[str], *, stdin: str = "") -> tuple[int, str, float, float]:
    """Run ``mnas argv`` in a fresh interpreter that refuses torch.

    Args:
        argv: The command line after ``mnas``; empty with ``stdin``: one ``--help`` command
            line per stdin line, all in one interpreter.
        stdin: Those command lines.

    Returns:
        Exit code, stderr, wall seconds and the interpreter's peak RSS in MB.
    """
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", GUARD, *argv], cwd=ROOT, input=stdin,
                          capture_output=True, text=True)
    seconds = time.monotonic() - start
    peak = re.search(r"PEAK_RSS_KB=(\d+)", proc.stderr)
    return proc.returncode, proc.stderr, seconds, int(peak[1]) / 1024 if peak else math.inf


LIGHT_COMMANDS = [
    ["zoo", "list"],
    ["zoo", "list", "--profile", "--json"],
    ["arch", "show", "mobilenet_v3_large"],
    ["arch", "show", "mobilenet_v3_small", "--format", "timm"],
    ["space", "show", "mobilenetv3"],
    ["predict", "--target", "pixel4", "--arch", "mobilenet_v3_large"],
    ["predict", "--target", "pixel4", "--arch", "mnasnet_a1", "--json"],
    ["score", "--arch", "mobilenet_v3_small", "mnasnet_a1"],
    ["score", "--arch", "mobilenet_v3_small", "--proxy", "flops", "--json"],
    ["score", "--arch", "mobilenet_v2", "--proxy", "params"],
    ["latency", "show", "pixel4"],
    ["accuracy", "show", "imagenet-arch"],
    ["--help"],
]


@pytest.mark.parametrize("argv", LIGHT_COMMANDS, ids=" ".join)
def test_command_needs_no_torch(argv: list[str]) -> None:
    code, err, seconds, peak_mb = run_guarded(argv)
    assert code == 0, err
    assert "TORCH IMPORTED" not in err
    assert seconds < MAX_SECONDS, f"mnas {' '.join(argv)} took {seconds:.1f} s"
    assert peak_mb <= MAX_RSS_MB, f"mnas {' '.join(argv)} peaked at {peak_mb:.0f} MB"


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
                  ) -> list[tuple[str, ...]]:
    """Every command path of the CLI (``()``, ``("latency",)``, ``("latency", "build")``...)."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += command_paths(sub, (*prefix, name))
    return paths


def test_every_help_needs_no_torch() -> None:
    paths = command_paths(build_parser())
    assert len(paths) > 20
    lines = "\n".join(" ".join((*path, "--help")) for path in paths)
    code, err, _, _ = run_guarded([], stdin=lines)
    assert code == 0, err
    assert "TORCH IMPORTED" not in err


def test_every_command_has_a_description() -> None:
    def walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
        missing = [] if (parser.description or getattr(parser, "describe", None)) else [path]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(build_parser(), "mnas") == []


def test_the_guard_catches_a_torch_import() -> None:
    code, err, _, _ = run_guarded(["score", "--arch", "mobilenet_v3_small", "--proxy", "zen",
                                   "--resolution", "32"])
    assert code != 0 and "torch" in err
