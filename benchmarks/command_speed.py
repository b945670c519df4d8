"""Start-up cost of the commands that need no network: wall time, peak memory, torch or not.

Each command runs ``--repeats`` times as a user runs it (a fresh ``python -c`` that calls
``mnas.cli.main``, the console script's entry point), and reports the median and the
slowest wall time, the peak resident set (``VmHWM`` of that process) and whether torch was
imported. ``--tree DIR`` runs the same commands on another checkout (e.g. ``git archive
main | tar -x -C /tmp/main``) with this environment, so a before/after pair is measured
in the same minutes. The load average is printed beside the numbers (this machine is
shared; wall times grow with it, memory does not).

Usage::

    .venv/bin/python benchmarks/command_speed.py
    .venv/bin/python benchmarks/command_speed.py --tree /tmp/main --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS = [
    "--help",
    "score --help",
    "latency build --help",
    "zoo list",
    "arch show mobilenet_v3_large",
    "space show mobilenetv3",
    "predict --target pixel4 --arch mobilenet_v3_large",
    "score --arch mobilenet_v3_small mnasnet_a1",
    "score --arch mobilenet_v3_small --proxy flops",
    "latency show pixel4",
]

CHILD = r"""
import sys
from mnas.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = int(stop.code or 0)
status = open("/proc/self/status").read()
print("PEAK_KB=" + status.split("VmHWM:")[1].split()[0] + " TORCH=" + str("torch" in sys.modules),
      file=sys.stderr)
sys.exit(code)
"""


def run_once(argv: list[str], tree: Path) -> tuple[float, float, bool]:
    """Wall seconds, peak MB and whether torch was imported, for one run."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CHILD, *argv], cwd=tree, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"mnas {' '.join(argv)} failed in {tree}: {proc.stderr.strip()[-300:]}")
    tail = proc.stderr.rsplit("PEAK_KB=", 1)[1].split()
    return seconds, int(tail[0]) / 1024, tail[1] == "TORCH=True"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append", default=None,
                        help="checkout to measure (repeatable; default: this one)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()
    trees = args.tree or [REPO]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'command':<52} {'tree':<12} {'median s':>8} {'max s':>6} {'peak MB':>8} torch")
    for command in COMMANDS:
        for tree in trees:
            runs = [run_once(command.split(), tree) for _ in range(args.repeats)]
            seconds = [r[0] for r in runs]
            print(f"{command:<52} {tree.name[:12]:<12} {statistics.median(seconds):>8.2f} "
                  f"{max(seconds):>6.2f} {max(r[1] for r in runs):>8.0f} "
                  f"{'yes' if any(r[2] for r in runs) else 'no'}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
