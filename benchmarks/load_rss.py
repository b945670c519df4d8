"""Peak memory under load: a long search and a whole-space latency-table build.

Each measurement runs in a fresh child process and reports its peak resident set
(``VmHWM`` from ``/proc/self/status``, falling back to ``ru_maxrss``), so the numbers
do not include this parent or earlier measurements.

* ``search N``: ``mnas search`` through the Python API with the cheapest proxy
  (``params``), the random sampler (so the sampler's own cost does not grow with N)
  and the shipped ``pixel4`` table, in a throw-away run folder. Run at 200 and 2,000
  trials: if finished trials leaked, the 2,000-trial peak would grow by roughly ten
  times the 200-trial growth over the baseline.
* ``build``: the table builder over every unique op key of the default space
  (``mobilenetv3``) with an injected fake runner (each key "timed" from its parameter
  count, no model run), so the measurement is the builder's own bookkeeping
  (key enumeration, journal, checkpoints, calibration), not onnxruntime's.

Usage::

    .venv/bin/python benchmarks/load_rss.py              # 200 and 2000 trials, then the build
    .venv/bin/python benchmarks/load_rss.py --trials 50 200 --no-build
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    """The calling process's peak resident set in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """The calling process's current resident set in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_search(trials: int) -> dict[str, float]:
    """Run one search of ``trials`` trials in this process; return memory and time."""
    import optuna

    from mnas.search import SearchConfig, search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samples: list[tuple[int, float]] = []

    def on_trial(_study: object, trial: object) -> None:
        number = getattr(trial, "number", 0)
        if number % max(1, trials // 10) == 0:
            samples.append((number, current_rss_mib()))

    with tempfile.TemporaryDirectory() as runs:
        base = current_rss_mib()
        started = time.monotonic()
        config = SearchConfig(target="pixel4", budget_ms=40.0, trials=trials, proxy="params",
                              sampler="random", seed=0, name="load", runs_dir=runs,
                              timeout_s=None)
        result = search(config, progress=False, on_trial=on_trial)
        elapsed = time.monotonic() - started
    return {"trials": result.finished, "seconds": round(elapsed, 1),
            "rss_before_mib": round(base, 1), "peak_rss_mib": round(peak_rss_mib(), 1),
            "rss_during": [(n, round(m, 1)) for n, m in samples]}


def child_build() -> dict[str, float]:
    """Build a table over the whole default space with a fake runner; return memory and time."""
    sys.path.insert(0, str(REPO / "tests" / "latency"))
    from latency_fakes import FakeRunner  # the tests' deterministic runner: no model is run

    from mnas.latency._builder import BuildSettings, TableBuilder, enumerate_space_keys
    from mnas.spaces import load_space

    space = load_space("mobilenetv3")
    base = current_rss_mib()
    started = time.monotonic()
    keys, _coverage = enumerate_space_keys(space, seed=0)
    enumerated = time.monotonic() - started
    with tempfile.TemporaryDirectory() as folder:
        builder = TableBuilder(path=Path(folder) / "t.json", runner=FakeRunner(),
                               target="fake", keys=keys, networks=[],
                               settings=BuildSettings(warmup=0, repeats=1, sentinel_repeats=1,
                                                      calibration_networks=0))
        builder.run()
    return {"keys": len(keys), "enumerate_s": round(enumerated, 1),
            "seconds": round(time.monotonic() - started, 1),
            "rss_before_mib": round(base, 1), "peak_rss_mib": round(peak_rss_mib(), 1)}


def _in_child(args: list[str], timeout: float) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments and print one JSON line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what = args.child[0]
        out = child_search(int(args.child[1])) if what == "search" else child_build()
        print(json.dumps(out))
        return
    if not args.no_search:
        for n in args.trials:
            print(json.dumps({"search": n, **_in_child(["search", str(n)], timeout=7200)}),
                  flush=True)
    if not args.no_build:
        print(json.dumps({"build": "mobilenetv3", **_in_child(["build"], timeout=7200)}),
              flush=True)


if __name__ == "__main__":
    main()
