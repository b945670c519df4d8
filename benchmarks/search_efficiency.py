"""Search efficiency on tabular benchmarks: how many evaluations a top architecture costs.

On a benchmark whose every network is labelled, each sampler searches under a
``pixel4`` latency budget at the space's median predicted latency, with the labels
as the accuracy (``--proxy labels:...``, the objective exactly as ``mnas search``
runs it: :func:`mnas.search.objective` with a :class:`~mnas.search.SearchContext`).
An *evaluation* is a trial that scores a new feasible network (what training would
cost); infeasible and duplicate trials are free. After 25, 50, 100 and 200
evaluations we record, per run, the regret (best feasible accuracy of the benchmark,
found by enumeration, minus the best found) and whether the best found is in the top
1% of the feasible networks. Samplers: random, TPE (mnas's default: multivariate,
grouped), regularized evolution and the predictor-guided sampler, 30 seeds each, in
one run.

Benchmarks:

* ``nas-bench-macro``: NAS-Bench-Macro (CIFAR-10; 6,561 keys, 3,969 distinct
  networks). The predictor sampler's prior is the space-agnostic ``imagenet-arch``
  model (fitted on Accel-NASBench's ImageNet networks, never on NAS-Bench-Macro): the
  shipped ``nas-bench-macro`` model was fitted on this benchmark and would leak it.
* ``accel-nasbench``: the 4,825 shared Accel-NASBench networks (ImageNet top-1), the
  search restricted to them (the space itself has ~10^14 members). Evolution and the
  predictor draw from a generator restricted to the labelled networks (a mutation is a
  nearest labelled network by Hamming distance); random search samples them uniformly
  without repeats; TPE samples the space and its suggestion is projected to the nearest
  labelled network. Prior: the parameter count (both shipped ImageNet models were
  fitted on these labels).

``predictor-noprior`` is the predictor sampler with ``prior="none"`` (random first
trials): what the surrogate adds on its own.

Writes ``benchmarks/RESULTS-search-efficiency.md``, a JSON of the curves and a PNG of
mean regret vs evaluations (``benchmarks/results/``).

Usage::

    .venv/bin/python benchmarks/search_efficiency.py                 # 30 seeds (~15 min)
    .venv/bin/python benchmarks/search_efficiency.py --seeds 5 --samplers predictor evolution
    .venv/bin/python benchmarks/search_efficiency.py --write-labels DIR  # arch files + truth
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _tabular import ACCEL, MACRO_JSON, macro_labels  # noqa: E402

from mnas._io import atomic_write_text  # noqa: E402
from mnas.accuracy import LabelSet, load_labels  # noqa: E402
from mnas.accuracy._estimators import LabelsEstimator  # noqa: E402
from mnas.arch import save_arch  # noqa: E402
from mnas.latency import TablePredictor, resolve_target  # noqa: E402
from mnas.search import SearchConfig, SearchContext, objective, score_trial  # noqa: E402
from mnas.search._driver import make_sampler  # noqa: E402
from mnas.search._samplers import CandidateGenerator, EvolutionSampler, PredictorSampler  # noqa: E402
from mnas.search._samplers._base import ProposalSampler  # noqa: E402
from mnas.spaces import SearchSpace, load_space  # noqa: E402

SAMPLERS = ("random", "tpe", "evolution", "predictor", "predictor-noprior")
BENCHMARKS = ("nas-bench-macro", "accel-nasbench")
CHECKPOINTS = (25, 50, 100, 200)
TARGET = "pixel4"
RESULTS = HERE / "RESULTS-search-efficiency.md"


@dataclass
class Benchmark:
    """One tabular benchmark under its median-latency budget."""

    name: str
    space: SearchSpace
    labels: LabelSet
    prior: str
    budget_ms: float
    optimum: float  # best feasible accuracy (enumeration)
    top1: float  # accuracy threshold of the feasible top 1%
    n_feasible: int
    predictor: TablePredictor
    generator: CandidateGenerator
    restricted: bool  # the search is restricted to the labelled networks


class PoolRandomSampler(ProposalSampler):
    """Random search over a restricted generator's members: uniform, without repeats."""

    def propose(self, study: optuna.Study, number: int) -> dict[str, Any]:
        rng = self.rng(number)
        return self.generator.codec.decode(
            self.fallback(rng, self.seen(study, self.others(study, number)), 1)[0])


def prepare(name: str, space_name: str, labels: LabelSet, prior: str, *,
            restricted: bool) -> Benchmark:
    """Latency of every labelled network, the median budget, and the feasible optimum."""
    space = load_space(space_name)
    predictor = TablePredictor(resolve_target(TARGET), space_hint=space_name)
    latency = np.array([predictor.predict_ms(i.arch) for i in labels.items])
    accuracy = np.array([i.accuracy for i in labels.items])
    budget = float(np.median(latency))
    feasible = np.sort(accuracy[latency <= budget])[::-1]
    top = max(1, math.ceil(0.01 * len(feasible)))
    generator = CandidateGenerator(space, predictor, budget)
    if restricted:
        members = generator.encode(space.params_of(i.arch) or {} for i in labels.items)
        generator = CandidateGenerator(space, predictor, budget, members=members)
    return Benchmark(name=name, space=space, labels=labels, prior=prior, budget_ms=budget,
                     optimum=float(feasible[0]), top1=float(feasible[top - 1]),
                     n_feasible=len(feasible), predictor=predictor, generator=generator,
                     restricted=restricted)


def sampler_for(bench: Benchmark, config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The sampler ``mnas search`` builds, sharing the benchmark's screening tables."""
    common: dict[str, Any] = {"space": config.space, "target": TARGET,
                              "budget_ms": bench.budget_ms, "seed": config.seed,
                              "generator": bench.generator}
    if config.sampler == "evolution":
        return EvolutionSampler(**common)
    if config.sampler == "predictor":
        return PredictorSampler(**common, prior=config.prior)
    if config.sampler == "random" and bench.restricted:
        return PoolRandomSampler(**common)
    return make_sampler(config)


def projected_objective(bench: Benchmark, config: SearchConfig, trial: optuna.Trial, *,
                        context: SearchContext) -> float:
    """:func:`mnas.search.objective` for a sampler of the whole space on a restricted
    benchmark: the suggested network is replaced by its nearest labelled one."""
    gen = bench.generator
    assert gen.members is not None
    bench.space.sample(trial)
    row = gen.codec.canonical(gen.encode([trial.params]))[0]
    distance = (gen.members != row).sum(axis=1)
    arch = bench.space.replay(gen.codec.decode(gen.members[int(np.argmin(distance))]))
    value = score_trial(arch, config, trial, context=context)
    assert isinstance(value, float)
    return value


def run_one(bench: Benchmark, sampler: str, seed: int, *, evaluations: int,
            estimator: LabelsEstimator) -> list[float]:
    """Best feasible accuracy after each evaluation of one seeded search."""
    config = SearchConfig(target=TARGET, budget_ms=bench.budget_ms, space=bench.space.name,
                          proxy="labels", seed=seed, sampler=sampler.split("-")[0],
                          prior="none" if sampler.endswith("noprior") else bench.prior)
    context = SearchContext(config=config, predictor=bench.predictor, proxy=estimator)
    study = optuna.create_study(direction="maximize", sampler=sampler_for(bench, config))
    curve: list[float] = []
    best = -math.inf
    limit = evaluations * 20  # trials: random and TPE on a tight budget waste many

    def count(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal best
        attrs = trial.user_attrs
        if attrs.get("feasible") and "duplicate_of" not in attrs and attrs.get("score") is not None:
            best = max(best, float(attrs["score"]))
            curve.append(best)
        if len(curve) >= evaluations or trial.number + 1 >= limit:
            study.stop()

    restricted = bench.restricted and config.sampler == "tpe"
    study.optimize(lambda t: (projected_objective(bench, config, t, context=context) if restricted
                              else objective(bench.space, config, t, context=context)),
                   callbacks=[count], n_trials=limit)
    return curve + [best] * (evaluations - len(curve))


def summarise(bench: Benchmark, curves: dict[str, list[list[float]]]) -> list[str]:
    """Markdown rows: mean regret and the share of runs in the top 1%, per checkpoint."""
    lines = [f"### {bench.name}: budget {bench.budget_ms:.3f} ms (median of {len(bench.labels.items)}"
             f" networks' predicted {TARGET} latency), {bench.n_feasible} feasible, optimum "
             f"{bench.optimum:.3f}, top-1% threshold {bench.top1:.3f}", "",
             "| sampler | seeds | " + " | ".join(f"regret @{c}" for c in CHECKPOINTS) + " | "
             + " | ".join(f"top 1% @{c}" for c in CHECKPOINTS) + " | s/run |",
             "|---|---|" + "---|" * (2 * len(CHECKPOINTS) + 1)]
    for sampler, runs in curves.items():
        arr = np.array([c[:-1] for c in runs])  # last entry: seconds
        secs = np.mean([c[-1] for c in runs])
        regret = [float(np.mean(bench.optimum - arr[:, c - 1])) for c in CHECKPOINTS
                  if c <= arr.shape[1]]
        hit = [float(np.mean(arr[:, c - 1] >= bench.top1)) for c in CHECKPOINTS
               if c <= arr.shape[1]]
        lines.append(f"| {sampler} | {len(runs)} | " + " | ".join(f"{r:.3f}" for r in regret)
                     + " | " + " | ".join(f"{100 * h:.0f}%" for h in hit) + f" | {secs:.1f} |")
    return lines


def plot(bench: Benchmark, curves: dict[str, list[list[float]]], path: Path) -> None:
    """Mean regret vs evaluations, one line per sampler (log y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for sampler, runs in curves.items():
        arr = np.array([c[:-1] for c in runs])
        regret = bench.optimum - arr
        ax.plot(np.arange(1, arr.shape[1] + 1), np.maximum(regret.mean(axis=0), 1e-3),
                label=sampler)
    ax.axhline(bench.optimum - bench.top1, color="grey", ls=":", label="top-1% threshold")
    ax.set_yscale("log")
    ax.set_xlabel("evaluations (new feasible networks scored)")
    ax.set_ylabel(f"mean regret, top-1 points ({len(next(iter(curves.values())))} seeds)")
    ax.set_title(f"{bench.name}, {TARGET} budget {bench.budget_ms:.2f} ms")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_labels(folder: Path) -> None:
    """Every distinct NAS-Bench-Macro network as an arch file with ``truth.accuracy``."""
    from dataclasses import replace

    folder.mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(macro_labels().items):
        truth = {"accuracy": item.accuracy, "source": f"{MACRO_JSON.name}: {item.origin}"}
        arch = replace(item.arch, name=f"nas_bench_macro_{i:04d}",
                       extra={**item.arch.extra, "truth": truth})
        save_arch(arch, folder / f"{arch.name}.json")
    print(f"wrote {i + 1} arch files to {folder}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    parser.add_argument("--benchmarks", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--write-labels", type=Path, default=None,
                        help="write NAS-Bench-Macro as arch files with truth.accuracy and stop")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not MACRO_JSON.is_file():
        print(f"{MACRO_JSON} is absent; this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    if args.write_labels:
        write_labels(args.write_labels)
        return 0
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    benches = []
    if "nas-bench-macro" in args.benchmarks:
        benches.append(prepare("nas-bench-macro", "nas-bench-macro", macro_labels(),
                               "imagenet-arch", restricted=False))
    if "accel-nasbench" in args.benchmarks:
        benches.append(prepare("accel-nasbench", "accel-nasbench", load_labels(ACCEL), "params",
                               restricted=True))
    lines = ["# Search efficiency on tabular benchmarks", "",
             f"`{' '.join(['benchmarks/search_efficiency.py', *(argv or sys.argv[1:])])}`, "
             f"{time.strftime('%Y-%m-%d')}; {args.seeds} seeds, {args.evaluations} evaluations "
             "(new feasible networks scored) per run.", ""]
    results: dict[str, Any] = {}
    for bench in benches:
        estimator = LabelsEstimator(labels=bench.labels)
        curves: dict[str, list[list[float]]] = {}
        for sampler in args.samplers:
            runs = []
            for seed in range(args.seeds):
                start = time.perf_counter()
                curve = run_one(bench, sampler, seed, evaluations=args.evaluations,
                                estimator=estimator)
                runs.append([*curve, time.perf_counter() - start])
            curves[sampler] = runs
            arr = np.array([r[:-1] for r in runs])
            print(f"{bench.name} {sampler}: top1% @50 "
                  f"{np.mean(arr[:, min(49, arr.shape[1] - 1)] >= bench.top1):.0%}, regret @50 "
                  f"{np.mean(bench.optimum - arr[:, min(49, arr.shape[1] - 1)]):.3f} "
                  f"({np.mean([r[-1] for r in runs]):.1f} s/run)", flush=True)
        lines += summarise(bench, curves) + [""]
        png = HERE / "results" / f"search_efficiency_{bench.name}.png"
        plot(bench, curves, png)
        lines += [f"![regret vs evaluations]({png.relative_to(HERE)})", ""]
        results[bench.name] = {"budget_ms": bench.budget_ms, "optimum": bench.optimum,
                               "top1": bench.top1, "curves": {  # per run: best after each
                                   k: [[round(v, 3) for v in run] for run in runs]  # eval, s
                                   for k, runs in curves.items()}}
    text = "\n".join(lines)
    print(text)
    atomic_write_text(args.out, text + "\n")
    atomic_write_text(HERE / "results" / "search_efficiency.json",
                      json.dumps(results, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
