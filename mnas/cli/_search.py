"""``mnas search``: find the best architecture under a latency budget on a target."""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from mnas.search import SearchResult

__all__ = ["DEFAULT_TIMEOUT_S", "print_result", "register"]

#: Wall-clock cap of the trial loop, so the default command ends in minutes on 2 cores
#: whatever the proxy costs; the run resumes where it stopped.
DEFAULT_TIMEOUT_S = 240.0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``search`` subcommand."""
    from mnas.search import SAMPLERS
    from mnas.spaces import DEFAULT_SPACE

    p = subparsers.add_parser(
        "search", help="search a space for the best architecture under a latency budget",
        description="Search a MobileNet-style space for the architecture with the best "
                    "accuracy estimate whose predicted latency on TARGET is within BUDGET: an "
                    "analytic estimate (the default) by batched evolution over code rows, an "
                    "expensive one (forward or training proxies, --sampler NAME, --pareto, "
                    "--backend ray) one Optuna trial per candidate. Rerunning the same command "
                    "(same --name) resumes the search.")
    p.add_argument("--target", required=True,
                   help="latency target: a shipped table name (pixel4), host, or a table path")
    p.add_argument("--budget", required=True, help="latency budget: 20ms, 20 (ms) or 0.02s")
    p.add_argument("--space", default=DEFAULT_SPACE,
                   help=f"search space name or YAML file (default: {DEFAULT_SPACE})")
    p.add_argument("--trials", type=int, default=None,
                   help="total evaluations: candidates within the budget scored by the "
                        "estimator (a resumed run runs only the rest; default 10000 with an "
                        "analytic estimate, scored in batches, else 300 Optuna trials)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="stop starting trials after this many seconds of this invocation "
                        f"(default {DEFAULT_TIMEOUT_S:g}; rerun the command to continue; "
                        "0 = no limit)")
    p.add_argument("--proxy", default=None,
                   help="accuracy proxy (default: the package default, see `mnas score`)")
    p.add_argument("--data", default=None, help="dataset (.npz or ImageFolder) for data-driven "
                                                "proxies")
    p.add_argument("--objective", choices=("hard", "soft"), default="hard",
                   help="hard: budget as a constraint (default); soft: MnasNet reward "
                        "score*(lat/T)^-0.07")
    p.add_argument("--pareto", action="store_true",
                   help="multi-objective search (NSGA-II) over proxy score and latency")
    p.add_argument("--seed", type=int, default=0, help="sampler and proxy seed (default 0)")
    p.add_argument("--sampler", choices=SAMPLERS, default=None,
                   help="auto (default): batch with an analytic estimate (batched evolution "
                        "over tens of thousands of candidates, docs/search.md), else "
                        "predictor (an ensemble fitted on the finished trials picks each next "
                        "one, White et al. 2021); tpe, random, evolution (regularized "
                        "evolution within the budget, Real et al. 2019), nsga2 (default with "
                        "--pareto)")
    p.add_argument("--prior", default="default",
                   help="--sampler predictor: the estimate that ranks its first candidates "
                        "(as --proxy; default: the default estimate; none: random)")
    p.add_argument("--name", default="", help="run folder name (default from target, budget "
                                              "and non-default settings)")
    p.add_argument("--runs-dir", default="runs", help="where run folders go (default runs/)")
    p.add_argument("--top", type=int, default=5, help="top-K architectures to write (default 5)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    from mnas.cli._search_ray import add_ray_arguments

    add_ray_arguments(p)  # --backend ray, --address, --workers, ... (Ray Tune, issue 6)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import optuna

    from mnas.cli._latency import ensure_host_table, print_table_note
    from mnas.cli._search_ray import ray_options
    from mnas.latency import resolve_target
    from mnas.search import (
        DEFAULT_SAMPLER,
        SearchConfig,
        default_proxy_name,
        parse_budget,
        run_ray_search,
        search,
    )

    if args.backend != "ray":
        ray_options(args)  # refuses Ray-only flags without --backend ray
    budget = parse_budget(args.budget)
    if args.target == "host":
        ensure_host_table(build=False)  # a new CPU: its estimate first (about a minute)
    print_table_note(resolve_target(args.target))
    config = SearchConfig(
        target=args.target, budget_ms=budget, space=args.space, trials=args.trials,
        timeout_s=args.timeout or None, proxy=args.proxy or default_proxy_name(), data=args.data,
        objective=args.objective, pareto=args.pareto, seed=args.seed,
        sampler=args.sampler or ("nsga2" if args.pareto else DEFAULT_SAMPLER), name=args.name,
        runs_dir=args.runs_dir, top_k=args.top, prior=args.prior)
    options = ray_options(args)
    command = shlex.join(["mnas", *sys.argv[1:]]) if sys.argv[1:2] == ["search"] else ""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if options is None:
            result = search(config, progress=not args.no_progress, command=command)
        else:
            result = run_ray_search(config, options=options, progress=not args.no_progress,
                                    command=command)
    return print_result(result, as_json=args.json, backend=args.backend)


def print_result(result: SearchResult, *, as_json: bool, backend: str) -> int:
    """Print a finished search (either backend) as JSON or as lines; returns the exit code."""
    from mnas.cli._common import print_json
    from mnas.latency import TablePredictor, resolve_target

    best = result.best
    if as_json:
        print_json({
            "run_dir": str(result.run_dir), "finished": result.finished, "new": result.new,
            "batched": result.batched,
            "elapsed_s": round(result.elapsed_s, 2), "resumed": result.resumed,
            "backend": backend,
            "best": None if best is None else {
                "trial": best.number, "score": best.score, "proxy": result.config.proxy,
                "latency_ms": best.latency_ms, "low_ms": best.latency_ms * (1 - best.band),
                "high_ms": best.latency_ms * (1 + best.band), "band": best.band,
                "feasible": best.feasible, "params": best.params,
                "estimator": result.config.extra.get("estimator"),
                "estimate": _best_estimate(result.run_dir),
                "arch": str(result.run_dir / "best" / "arch.json")}})
        return 0
    where = " on Ray" if backend == "ray" else ""
    if result.batched and result.resumed:
        kept = result.finished - result.new
        print(f"resumed {result.run_dir}: kept {kept:,} evaluations, evaluated {result.new:,} "
              f"candidates more in batches ({result.finished:,} in total) in "
              f"{result.elapsed_s:.1f} s")
    elif result.batched:
        print(f"evaluated {result.new:,} candidates in batches in {result.elapsed_s:.1f} s; "
              f"run folder {result.run_dir}")
    elif result.resumed:
        kept = result.finished - result.new
        print(f"resumed {result.run_dir}: kept {kept} finished trials, ran {result.new} "
              f"more{where} ({result.finished} in total) in {result.elapsed_s:.1f} s")
    else:
        print(f"ran {result.new} trials{where} in {result.elapsed_s:.1f} s; run folder "
              f"{result.run_dir}")
    if best is None:
        print(f"no architecture within {result.config.budget_ms:g} ms was found; raise "
              "--trials or the budget")
        return 1
    est = TablePredictor(resolve_target(result.config.target)).predict(best.arch)
    estimate = _best_estimate(result.run_dir)
    if estimate is not None:
        from mnas.accuracy import format_score

        accuracy = f"{format_score(estimate)} [{estimate.get('estimator')}]"
    else:
        accuracy = f"{result.config.proxy} score {best.score:.5g}"
    print(f"best: {'evaluation' if result.batched else 'trial'} {best.number}, {accuracy}, "
          f"latency {est.describe()}, band {est.low_ms:.2f}-{est.high_ms:.2f} ms, "
          f"width {best.params.get('width', '-')}, resolution {best.arch.resolution}")
    if estimate is not None and estimate.get("unsupported"):
        print(f"  no evidence for {'; '.join(estimate['unsupported'])}: a guess, hence the "
              "wider ±")
    if result.config.extra.get("estimator"):
        print(f"  score from {result.config.extra['estimator']}")
    print(f"  {result.run_dir / 'best' / 'arch.json'}  (export: mnas export "
          f"{result.run_dir / 'best' / 'arch.json'} ...)")
    print(f"  report: {result.run_dir / 'report.md'}")
    return 0


def _best_estimate(run_dir: Path) -> dict[str, Any] | None:
    """The fitted model's estimate stored with the best architecture (None for a proxy)."""
    from mnas.arch import load_arch

    path = run_dir / "best" / "arch.json"
    if not path.is_file():
        return None
    estimate = load_arch(path).extra.get("search", {}).get("estimate")
    return estimate if isinstance(estimate, dict) else None
