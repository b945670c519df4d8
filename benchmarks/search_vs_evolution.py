"""``mnas search`` against once-for-all's evolutionary search, on once-for-all's own terms.

Both search the same space (OFA-MobileNetV3 w1.2 at 160/176/192/224 px: the ``ofa-mbv3``
space less 208 px, which the Note10 table does not hold), under the same latency (the
shipped ``note10`` table: once-for-all's measured Samsung Galaxy Note10 entries; for these
networks it equals the sum once-for-all's own ``LatencyTable`` computes, checked below) and
for the same oracle (once-for-all's accuracy predictor, ``_ofa_oracle.py``; one BLAS thread
for both), at budgets 15/20/25 ms over several seeds:

* **OFA**: regularized evolution with once-for-all's published settings (``_ofa_evolution.py``:
  population 100, parents 25 %, mutants 50 %, mutation probability 0.1, 500 generations:
  50,100 evaluations), written anew from its ``EvolutionFinder``.
* **mnas, defaults**: ``mnas.search.search`` with its defaults (batched evolution, 10,000
  evaluations), end to end: run folder, outputs and the export check of ``best/model.py``.
* **equal wall time**: both stopped at ``--wall`` seconds (OFA after the generation that
  crosses it; mnas by ``--timeout``, counted from the start of the run, zoo included; its
  outputs after).

It prints the best predicted accuracy (%), evaluations and wall of each run, the means per
budget, the best after 1,000 and 10,000 evaluations, and the machine's load average.
Run from the project root (4 minutes at load 2, 7 at load 5, on 2 cores)::

    .venv/bin/python benchmarks/search_vs_evolution.py [--seeds 5] [--budgets 15 20 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _note10 import NOTE10_DIR, RESOLUTIONS  # noqa: E402
from _ofa_evolution import OfaEvolution, OfaLatency, spec_features  # noqa: E402
from _ofa_oracle import ORACLE_PATH, OfaOracle  # noqa: E402

from mnas._blas import one_blas_thread  # noqa: E402
from mnas.latency import TablePredictor, resolve_target  # noqa: E402
from mnas.search import SearchConfig, search  # noqa: E402
from mnas.search._batched import BatchProgress  # noqa: E402
from mnas.spaces import ParamCodec, load_space  # noqa: E402

TABLE = ROOT / "latency_tables" / "note10.json"


@dataclass
class Outcome:
    """One run: best accuracy (%), evaluations, wall (s) and the best at checkpoints."""

    best: float
    evaluations: int
    wall_s: float
    search_s: float
    at: dict[int, float] = field(default_factory=dict)


def ofa_space_file(folder: Path) -> Path:
    """The ``ofa-mbv3`` space at the resolutions of the Note10 table, as a YAML file."""
    data = yaml.safe_load((ROOT / "search_spaces" / "ofa-mbv3.yaml").read_text())
    data["name"] = "ofa-mbv3-note10"
    data["resolution"] = list(RESOLUTIONS)
    path = folder / "ofa-mbv3-note10.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def check_same_terms(space_file: Path, oracle: OfaOracle, latency: OfaLatency, n: int = 300
                     ) -> str:
    """Check that mnas's space, table and oracle are once-for-all's: the same subnets, the
    same latency (relative error <= 1e-6) and the same predicted accuracy."""
    space = load_space(str(space_file))
    codec = ParamCodec(space)
    predictor = TablePredictor(resolve_target(str(TABLE)))
    scorer = oracle.batch_scorer(space)
    assert scorer is not None
    codes = codec.random(np.random.default_rng(0), n)
    ours, _ = scorer(codes)
    worst_lat = worst_acc = 0.0
    for row, score in zip(codes, ours, strict=True):
        p = codec.decode(row)
        ks, es = [], []
        for s in range(1, 6):
            for b in range(1, 5):
                depth = p[f"s{s}_depth"]
                ks.append(p[f"s{s}_b{b}_kernel"] if b <= depth else 3)
                es.append(int(p[f"s{s}_b{b}_expansion"]) if b <= depth else 3)
        spec = {"ks": ks, "e": es, "d": [p[f"s{s}_depth"] for s in range(1, 6)],
                "r": [p["resolution"]]}
        ofa_ms = latency(spec)
        worst_lat = max(worst_lat, abs(predictor.predict_ms(space.replay(p)) / ofa_ms - 1))
        worst_acc = max(worst_acc, abs(float(oracle.predict(spec_features(spec)[None])[0])
                                       - score))
    if worst_lat > 1e-6 or worst_acc > 1e-4:
        raise SystemExit(f"not the same terms: latency differs by {worst_lat:.2g}, accuracy "
                         f"by {worst_acc:.2g}")
    return (f"same terms checked on {n} random subnets: latency within {worst_lat:.1e} "
            f"(relative) of once-for-all's LatencyTable sum, accuracy within {worst_acc:.1e}")


def run_ofa(oracle: OfaOracle, latency: OfaLatency, budget: float, seed: int,
            wall_s: float | None) -> Outcome:
    evolution = OfaEvolution(latency=latency, accuracy=oracle.predict, budget_ms=budget,
                             resolutions=RESOLUTIONS)
    start = time.perf_counter()
    with one_blas_thread():
        result = evolution.run(seed, wall_s=wall_s)
    wall = time.perf_counter() - start
    at = {}
    for checkpoint in (1000, 10000, 50100):
        reached = [b for n, b in result.curve if n <= checkpoint]
        if reached and result.curve[-1][0] >= checkpoint:
            at[checkpoint] = reached[-1]
    return Outcome(best=result.best, evaluations=result.evaluations, wall_s=wall,
                   search_s=result.wall_s, at=at)


def run_mnas(oracle: OfaOracle, space_file: Path, runs: Path, budget: float, seed: int, *,
             timeout: float | None, trials: int | None, name: str) -> Outcome:
    curve: list[tuple[int, float, float]] = []

    def on_batch(progress: BatchProgress) -> None:
        curve.append((progress.evaluations, progress.best, progress.elapsed_s))

    config = SearchConfig(target=str(TABLE), budget_ms=budget, space=str(space_file),
                          proxy="ofa-oracle", seed=seed, trials=trials, timeout_s=timeout,
                          name=name, runs_dir=str(runs))
    start = time.perf_counter()
    result = search(config, progress=False, proxy=oracle, on_batch=on_batch)
    wall = time.perf_counter() - start
    at = {}
    for checkpoint in (1000, 10000):
        reached = [b for n, b, _ in curve if n <= checkpoint]
        if reached and curve[-1][0] >= checkpoint:
            at[checkpoint] = reached[-1]
    best = result.best.score if result.best is not None else float("nan")
    return Outcome(best=best, evaluations=result.finished, wall_s=wall,
                   search_s=curve[-1][2] if curve else 0.0, at=at)


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", type=float, nargs="+", default=[15.0, 20.0, 25.0])
    parser.add_argument("--wall", type=float, default=5.0,
                        help="the equal wall time of the second comparison (s)")
    parser.add_argument("--skip-full", action="store_true",
                        help="only the equal-wall comparison")
    args = parser.parse_args(argv)
    if not NOTE10_DIR.is_dir() or not ORACLE_PATH.is_file():
        print(f"error: needs {NOTE10_DIR} and {ORACLE_PATH} (../shared/data)", file=sys.stderr)
        return 2
    oracle = OfaOracle()
    latency = OfaLatency(NOTE10_DIR, RESOLUTIONS)
    print(f"load average at start {_load()} (1/5/15 min; 2 cores)")
    with tempfile.TemporaryDirectory(prefix="search-vs-evolution.") as tmp:
        folder = Path(tmp)
        space_file = ofa_space_file(folder)
        print(check_same_terms(space_file, oracle, latency))
        rows: dict[tuple[str, float], list[Outcome]] = {}
        for budget in args.budgets:
            for seed in range(args.seeds):
                runs = []
                if not args.skip_full:
                    runs += [("ofa", run_ofa(oracle, latency, budget, seed, None)),
                             ("mnas", run_mnas(oracle, space_file, folder / "runs", budget,
                                               seed, timeout=None, trials=None,
                                               name=f"d-{budget:g}-{seed}"))]
                runs += [("ofa@wall", run_ofa(oracle, latency, budget, seed, args.wall)),
                         ("mnas@wall", run_mnas(oracle, space_file, folder / "runs", budget,
                                                seed, timeout=args.wall, trials=10**8,
                                                name=f"w-{budget:g}-{seed}"))]
                for kind, outcome in runs:
                    rows.setdefault((kind, budget), []).append(outcome)
                    at = ", ".join(f"@{n}: {v:.3f}" for n, v in outcome.at.items())
                    print(f"{budget:4g} ms seed {seed} {kind:9s} best {outcome.best:7.3f}  "
                          f"evaluations {outcome.evaluations:7d}  wall {outcome.wall_s:5.1f} s "
                          f"(search {outcome.search_s:4.1f} s)  {at}  load {_load()}",
                          flush=True)
    print(f"\nload average at end {_load()}")
    print("\nmeans over seeds (best %, evaluations, wall s):")
    for budget in args.budgets:
        parts = []
        for kind in ("ofa", "mnas", "ofa@wall", "mnas@wall"):
            outs = rows.get((kind, budget))
            if outs:
                parts.append(f"{kind} {_mean([o.best for o in outs]):.3f} / "
                             f"{_mean([o.evaluations for o in outs]):,.0f} / "
                             f"{_mean([o.wall_s for o in outs]):.1f}")
        print(f"  {budget:g} ms: " + "; ".join(parts))
    for budget in args.budgets:
        line = []
        for kind in ("ofa", "mnas"):
            outs = rows.get((kind, budget))
            if outs and all(1000 in o.at and 10000 in o.at for o in outs):
                gain = _mean([o.at[10000] - o.at[1000] for o in outs])
                line.append(f"{kind} @1k {_mean([o.at[1000] for o in outs]):.3f} @10k "
                            f"{_mean([o.at[10000] for o in outs]):.3f} (gain {gain:+.3f})")
        if line:
            print(f"  {budget:g} ms, best after 1,000 and 10,000 evaluations: " + "; ".join(line))
    if not args.skip_full:
        ahead = [_mean([o.best for o in rows[("mnas", b)]]) - _mean([o.best for o in
                                                                   rows[("ofa", b)]])
                 for b in args.budgets]
        faster = [_mean([o.wall_s for o in rows[("mnas", b)]]) / _mean(
            [o.wall_s for o in rows[("ofa", b)]]) for b in args.budgets]
        rate = _mean([o.evaluations / o.wall_s for b in args.budgets for o in rows[("mnas", b)]])
        print("mnas defaults vs OFA's evolution: mean best "
              + ", ".join(f"{a:+.3f}" for a in ahead)
              + f" points; wall {', '.join(f'{f:.2f}' for f in faster)} of OFA's; "
              f"{rate:,.0f} candidates/s end to end (outputs included)")
    ahead_wall = [_mean([o.best for o in rows[("mnas@wall", b)]]) - _mean(
        [o.best for o in rows[("ofa@wall", b)]]) for b in args.budgets]
    print(f"at equal wall time of {args.wall:g} s: mnas ahead by "
          + ", ".join(f"{a:+.3f}" for a in ahead_wall)
          + f" points (mean {_mean(ahead_wall):+.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
