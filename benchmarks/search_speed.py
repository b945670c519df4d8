"""How fast ``mnas search`` runs end to end, and where an invocation's fixed time goes.

Each command runs as a user runs it (a new process, a new run folder), ``--repeats`` times,
interleaved so that the machine's load falls on all alike:

* ``headline``: ``mnas search --target pixel4 --budget 20ms`` on defaults (batched: the
  default estimate is analytic and scores code rows with its batch scorer);
* ``headline, trials``: the same with ``--sampler predictor --trials 300`` (one Optuna trial
  per candidate: what the headline ran before batches);
* ``batch scorer``: ``mnas search --space accel-nasbench --target pixel4 --budget 30ms`` on
  defaults: the default estimate there is a fitted model of that space's one-hot, whose
  ``score(arch)`` costs about a millisecond and whose batch scorer scores code rows in numpy;
* ``note10``: ``mnas search --target note10 --budget 20ms`` on defaults.

It prints wall seconds, evaluations and candidates per second end to end (start to exit),
then splits one headline invocation into import, setup, search and outputs in this process.
Run from the project root::

    .venv/bin/python benchmarks/search_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNAS = [sys.executable, "-m", "mnas.cli"]
COMMANDS = {
    "headline": ["search", "--target", "pixel4", "--budget", "20ms"],
    "headline, trials": ["search", "--target", "pixel4", "--budget", "20ms", "--sampler",
                         "predictor", "--trials", "300"],
    "batch scorer": ["search", "--space", "accel-nasbench", "--target", "pixel4", "--budget",
                     "30ms"],
    "note10": ["search", "--target", "note10", "--budget", "20ms"],
}
_COUNT = re.compile(r"(?:evaluated ([\d,]+) candidates|ran (\d+) trials)")


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(args: list[str], runs: Path) -> tuple[float, int]:
    """(wall seconds, candidates evaluated) of one command in a fresh run folder."""
    shutil.rmtree(runs, ignore_errors=True)
    start = time.perf_counter()
    out = subprocess.run([*MNAS, *args, "--runs-dir", str(runs), "--no-progress"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    match = _COUNT.search(out)
    if match is None:
        raise SystemExit(f"cannot read the count from: {out[:300]}")
    return wall, int((match.group(1) or match.group(2)).replace(",", ""))


def split_headline(runs: Path) -> dict[str, float]:
    """Seconds of one headline invocation: imports, setup + zoo, the search, the outputs."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "from mnas.search import SearchConfig, default_proxy_name, search\n"
        "t1 = time.perf_counter(); marks = []\n"
        "config = SearchConfig(target='pixel4', budget_ms=20.0, proxy=default_proxy_name(), "
        f"runs_dir={str(runs)!r}, name='split')\n"
        "result = search(config, progress=False, on_batch=lambda p: marks.append("
        "(time.perf_counter(), p.evaluations)))\n"
        "t2 = time.perf_counter()\n"
        "first = marks[0][0] if marks else t2; last = marks[-1][0] if marks else t2\n"
        "print(t1 - t0, first - t1, last - first, t2 - last, marks[-1][1])\n")
    shutil.rmtree(runs, ignore_errors=True)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    imports, setup, search, outputs, n = (float(v) for v in out)
    return {"imports": imports, "setup, zoo and first batch": setup, "search": search,
            "outputs": outputs, "evaluations": n}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average at start {_load()} (1/5/15 min; 2 cores)")
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="search-speed.") as tmp:
        runs = Path(tmp) / "runs"
        for repeat in range(args.repeats):
            for name, command in COMMANDS.items():
                wall, n = run_once(command, runs)
                results[name].append((wall, n))
                print(f"  {repeat}: {name:16s} {wall:6.1f} s  {n:6,d} evaluated  "
                      f"{n / wall:7,.0f} /s end to end  load {_load()}", flush=True)
        split = split_headline(runs)
    print(f"load average at end {_load()}")
    print("\nmedian over repeats (min-max):")
    for name, rows in results.items():
        walls = [w for w, _ in rows]
        rates = [n / w for w, n in rows]
        print(f"  {name:16s} {statistics.median(walls):5.1f} s ({min(walls):.1f}-{max(walls):.1f}),"
              f" {rows[0][1]:,} evaluated, {statistics.median(rates):,.0f}/s end to end "
              f"({min(rates):,.0f}-{max(rates):,.0f})")
    head = statistics.median(w for w, _ in results["headline"])
    before = statistics.median(w for w, _ in results["headline, trials"])
    ratio = results["headline"][0][1] / results["headline, trials"][0][1]
    print(f"headline: {head:.1f} s for {ratio:.0f}x the candidates of 300 Optuna trials "
          f"({before:.1f} s, same machine, same run)")
    print("one headline invocation, in this process: " + ", ".join(
        f"{k} {v:.2f} s" if k != "evaluations" else f"{v:,.0f} evaluations"
        for k, v in split.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
