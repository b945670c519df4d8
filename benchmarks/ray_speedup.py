"""Speed-up of N parallel Ray workers over 1 on a training-based proxy.

Runs the same search (same seed, same trials) on a local Ray runtime with 1 worker
and with N workers (1 CPU and 1 torch thread per trial in both), using the ``train``
proxy (SGD on ``../shared/data/cifar10_5k.npz``) when the proxy and the data are
available, else the tests' ``SyntheticTrainingProxy`` (``tests/search/_doubles.py``:
real SGD steps on random images, synthetic curves; the local workers import it through
``PYTHONPATH``). Reports, per run, the wall time of the trials (first
trial start to last trial end, from the run folder's study), the whole invocation
(Ray start-up, zoo, outputs included) and the mean trial duration, then writes
``benchmarks/RESULTS-ray.md``.

    .venv/bin/python benchmarks/ray_speedup.py --workers 2 --trials 8

The machine's load average is recorded: other processes sharing the cores make
both numbers, and the speed-up, worse.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10_5k.npz"
RESULTS = Path(__file__).resolve().parent / "RESULTS-ray.md"


def _proxy(epochs: int) -> tuple[Any, str]:
    from mnas.proxies import list_proxies

    if "train" in list_proxies() and DATA.exists():
        from mnas.proxies import get_proxy

        proxy = get_proxy("train", data=str(DATA), seed=0, epochs=epochs, batch_size=64,
                          resolution=32, train_images=512, eval_images=250)
        return proxy, (f"train (SGD, {epochs} epochs, 512 CIFAR-10 images at 32x32, "
                       "250 held out)")
    doubles = str(Path(__file__).resolve().parents[1] / "tests" / "search")
    sys.path.insert(0, doubles)  # the driver's import; the local Ray workers' below
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (doubles, os.environ.get("PYTHONPATH", "")) if p)
    from _doubles import SyntheticTrainingProxy

    return (SyntheticTrainingProxy(epochs=epochs, steps=20, batch=32, resolution=32),
            f"synthetic-train ({epochs} epochs x 20 SGD steps on random 32x32 images)")


def _quiet_model_source() -> None:
    """Skip the checked best/model.py export: it is the same in both runs, not Ray's work."""
    import mnas.search._outputs as outputs

    def write(arch: Any, path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {arch.name}: export skipped by the benchmark\n")
        return "skipped"

    outputs.write_model_source = write  # type: ignore[assignment]


def _run(workers: int, *, trials: int, epochs: int, runs_dir: Path, proxy: Any,
         proxy_name: str) -> dict[str, float]:
    from mnas.search import RayOptions, SearchConfig, load_study, run_ray_search

    config = SearchConfig(target="pixel4", budget_ms=20, trials=trials, proxy=proxy_name,
                          name=f"bench-w{workers}", runs_dir=str(runs_dir), seed=0)
    started = time.monotonic()
    result = run_ray_search(config, options=RayOptions(workers=workers, cpus_per_trial=1),
                            progress=False, proxy=proxy)
    total = time.monotonic() - started
    done = [t for t in load_study(result.run_dir).trials
            if t.datetime_start is not None and t.datetime_complete is not None]
    span = (max(t.datetime_complete for t in done)
            - min(t.datetime_start for t in done)).total_seconds()
    mean = sum(t.duration.total_seconds() for t in done) / max(1, len(done))
    pids = {t.user_attrs.get("worker_pid") for t in done}
    return {"span_s": span, "total_s": total, "trial_s": mean, "trials": len(done),
            "pids": len(pids)}


def _row(workers: int, r: dict[str, float]) -> str:
    return (f"| {workers} | {r['span_s']:.1f} | {r['total_s']:.1f} | {r['trial_s']:.1f} | "
            f"{int(r['pids'])} |")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``benchmarks/RESULTS-ray.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _quiet_model_source()
    proxy, described = _proxy(args.epochs)
    proxy_name = getattr(proxy, "name", "train")
    load_before = os.getloadavg()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="mnas-ray-bench-") as tmp:
        for workers in (1, args.workers):
            rows[workers] = _run(workers, trials=args.trials, epochs=args.epochs,
                                 runs_dir=Path(tmp), proxy=proxy, proxy_name=proxy_name)
            r = rows[workers]
            print(f"workers={workers}: trials span {r['span_s']:.1f} s, whole run "
                  f"{r['total_s']:.1f} s, mean trial {r['trial_s']:.1f} s, "
                  f"{int(r['trials'])} trials in {int(r['pids'])} worker process(es)", flush=True)
    load_after = os.getloadavg()
    one, many = rows[1], rows[args.workers]
    speedup = one["span_s"] / many["span_s"]
    speedup_total = one["total_s"] / many["total_s"]
    print(f"speed-up {args.workers} workers over 1: {speedup:.2f}x on the trials, "
          f"{speedup_total:.2f}x on the whole run")
    if args.no_write:
        return 0
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpus = os.cpu_count()
    text = f"""# Ray backend: parallel speed-up

`{' '.join(['.venv/bin/python', 'benchmarks/ray_speedup.py', *(argv or sys.argv[1:])])}`
({when}; {cpus} CPU cores, Python {platform.python_version()}; load average
{load_before[0]:.1f} before, {load_after[0]:.1f} after: the cores were shared with other work).

Search: `--target pixel4 --budget 20ms`, {args.trials} trials, seed 0, proxy {described};
local Ray runtime, 1 CPU and 1 torch thread per trial, FIFO scheduler.

| workers | trials span (s) | whole run (s) | mean trial (s) | worker processes |
|---:|---:|---:|---:|---:|
{_row(1, one)}
{_row(args.workers, many)}

Speed-up of {args.workers} workers over 1: **{speedup:.2f}x** on the trials (first trial
start to last trial end), {speedup_total:.2f}x on the whole invocation, which also pays
Ray's start-up, the workers' imports and scoring the zoo once.
The ideal on {cpus} cores is {min(args.workers, cpus or 1)}x; the shortfall is the
cores' other load and the per-trial overhead (process start, loading the dataset).

## Running on a cluster

Start a head node (and join workers to it) with Ray's own commands, then point the
search at the head:

    # on the head machine
    ray start --head --port 6379
    # on every other machine (same Python environment, mnas installed with pip install 'mnas[ray]')
    ray start --address HEAD_IP:6379
    # anywhere that reaches the head, in the project folder
    mnas search --target pixel4 --budget 20ms --backend ray --address HEAD_IP:6379 --workers 8

Without `--address`, `--backend ray` starts a local Ray runtime for the search and
shuts it down afterwards (`--workers N` trials at a time, `--cpus-per-trial C`,
`--gpus-per-trial G`). With a training proxy, `--scheduler asha` stops poor
candidates between epochs (`--proxy train --data DATASET --epochs E`). Every node
needs the dataset at the same path. The run folder (`runs/NAME/`) is written on the
machine that runs `mnas search` and has the same files as the default backend, plus
the Tune experiment in `runs/NAME/tune/`; after an interruption (Ctrl-C, a lost
driver) `--resume` continues it, keeping every finished trial. A trial whose worker
dies is recorded as a failed trial and the search goes on.
"""
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
