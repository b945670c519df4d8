"""Search quality: TPE vs random search, and the best found vs the zoo under the same budget.

Two measurements (issue 5, item 7), printed and written to ``benchmarks/RESULTS-search.md``:

A. Sample efficiency. For each seed, the default sampler (multivariate grouped TPE,
   Bergstra et al. NeurIPS 2011) and random search (Bergstra & Bengio, JMLR 2012)
   each run ``--trials`` trials of the default objective (hard budget, pixel4,
   mobilenetv3 space). We record random search's final best feasible score R and
   the first trial at which TPE's best feasible score reaches R. Claim: TPE needs
   at most a third of the trials, on every seed.

B. Zoo comparison. A default search (``mnas.search.search``, the same code as
   ``mnas search``) under the budget; its best architecture's score is compared,
   on the same proxy, with every zoo model whose predicted latency fits the budget.

Both use the objective exactly as the search does (:func:`mnas.search.objective`
with a :class:`~mnas.search.SearchContext`) but part A keeps the study in memory.

Usage::

    python benchmarks/search_quality.py                  # flops proxy, 5 seeds, 300 trials
    python benchmarks/search_quality.py --proxy zen --trials 150 --zoo-trials 150
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
import warnings
from pathlib import Path

import optuna

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mnas.search import (  # noqa: E402
    SearchConfig,
    SearchContext,
    default_proxy_name,
    make_proxy,
    make_sampler,
    objective,
    search,
)
from mnas.spaces import load_space  # noqa: E402


def best_curve(study: optuna.Study) -> list[float | None]:
    """Best feasible proxy score after each trial (None before the first feasible one)."""
    best: float | None = None
    curve = []
    for trial in sorted(study.trials, key=lambda t: t.number):
        attrs = trial.user_attrs
        score = attrs.get("score")
        if attrs.get("feasible") and score is not None and (best is None or score > best):
            best = float(score)
        curve.append(best)
    return curve


def run_sampler(space_name: str, config: SearchConfig, proxy: object) -> list[float | None]:
    """Run ``config.trials`` trials in memory and return the best-so-far curve."""
    space = load_space(space_name)
    context = SearchContext.from_config(config, proxy=proxy)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(config))
    study.optimize(functools.partial(objective, space, config, context=context),
                   n_trials=config.trials, gc_after_trial=False)
    return best_curve(study)


def _mean_curve(curves: list[list[float | None]]) -> list[float | None]:
    """Pointwise mean of best-so-far curves (None until every seed has a feasible trial)."""
    out: list[float | None] = []
    for values in zip(*curves, strict=True):
        out.append(None if any(v is None for v in values)
                   else sum(v for v in values if v is not None) / len(values))
    return out


def first_reach(curve: list[float | None], target: float) -> int | None:
    """1-based trial count at which ``curve`` first reaches ``target``."""
    for i, value in enumerate(curve, start=1):
        if value is not None and value >= target - 1e-12:
            return i
    return None


def part_a(args: argparse.Namespace, proxy_name: str) -> tuple[list[str], bool]:
    lines = [f"### A. TPE vs random search ({proxy_name} proxy, {args.trials} trials, budget "
             f"{args.budget:g} ms on {args.target}, space {args.space})", "",
             "| seed | random final best | TPE final best | TPE trials to reach random's "
             "final best | fraction | time TPE / random (s) |",
             "|---|---|---|---|---|---|"]
    ok_all = True
    fractions = []
    all_curves: dict[str, list[list[float | None]]] = {"random": [], "tpe": []}
    for seed in args.seeds:
        curves = {}
        times = {}
        for sampler in ("random", "tpe"):
            config = SearchConfig(target=args.target, budget_ms=args.budget, space=args.space,
                                  trials=args.trials, proxy=proxy_name, seed=seed,
                                  sampler=sampler, name="bench")
            proxy = make_proxy(proxy_name, seed=seed)
            t0 = time.monotonic()
            curves[sampler] = run_sampler(args.space, config, proxy)
            times[sampler] = time.monotonic() - t0
        for sampler, curve in curves.items():
            all_curves[sampler].append(curve)
        r_best = curves["random"][-1]
        t_best = curves["tpe"][-1]
        reach = first_reach(curves["tpe"], r_best) if r_best is not None else None
        frac = None if reach is None else reach / args.trials
        ok = frac is not None and frac <= 1 / 3
        ok_all &= ok
        if frac is not None:
            fractions.append(frac)
        row = (f"| {seed} | {r_best:.5g} | {t_best:.5g} | "
               f"{reach if reach is not None else 'never'} | "
               f"{'–' if frac is None else f'{frac:.3f}'}{'' if ok else ' ✗'} | "
               f"{times['tpe']:.0f} / {times['random']:.0f} |")
        lines.append(row)
        print(row, flush=True)
    mean = {k: _mean_curve(v) for k, v in all_curves.items()}
    reach_mean = first_reach(mean["tpe"], mean["random"][-1])
    ok_mean = reach_mean is not None and reach_mean <= args.trials / 3
    lines += ["", f"Seed-averaged best-so-far curves: random ends at {mean['random'][-1]:.5g}; "
              f"TPE's average reaches it after **{reach_mean} of {args.trials} trials** "
              f"({'–' if reach_mean is None else f'{reach_mean / args.trials:.3f}'}), TPE ends "
              f"at {mean['tpe'][-1]:.5g}.", "",
              f"Claim (TPE reaches random's final best in ≤ 1/3 of the trials): averaged over "
              f"the {len(args.seeds)} seeds **{'holds' if ok_mean else 'does NOT hold'}**; "
              f"on every single seed **{'holds' if ok_all else 'does NOT hold'}** "
              f"(per-seed mean fraction {sum(fractions) / max(1, len(fractions)):.3f}).", ""]
    print("\n".join(lines[-4:]), flush=True)
    return lines, ok_mean


def part_b(args: argparse.Namespace, proxy_name: str) -> tuple[list[str], bool]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as runs:
        config = SearchConfig(target=args.target, budget_ms=args.budget, space=args.space,
                              trials=args.zoo_trials, proxy=proxy_name, seed=0,
                              name="zoo-check", runs_dir=runs)
        t0 = time.monotonic()
        result = search(config, progress=False)
        elapsed = time.monotonic() - t0
        from mnas.search._outputs import read_csv

        zoo = read_csv(Path(runs) / "zoo-check" / "zoo.csv")
    best = result.best
    lines = [f"### B. Best found vs zoo models under {args.budget:g} ms on {args.target} "
             f"({proxy_name} proxy, {args.zoo_trials} trials, seed 0, {elapsed:.0f} s)", ""]
    if best is None:
        return lines + ["No feasible architecture found.", ""], False
    lines += [f"Best found: score **{best.score:.5g}** at {best.latency_ms:.2f} ms "
              f"(estimated ±{best.band * 100:.0f}%), resolution {best.arch.resolution}, width "
              f"{best.params.get('width', '–')}.", "",
              "| zoo model (fits the budget) | latency (ms) | score | best found higher? |",
              "|---|---|---|---|"]
    ok_all = True
    fitting = [z for z in zoo if z["fits"] == "True" and z["score"]]
    for z in sorted(fitting, key=lambda z: -float(z["score"])):
        higher = best.score > float(z["score"])
        ok_all &= higher
        lines.append(f"| {z['name']} | {float(z['latency_ms']):.2f} | {float(z['score']):.5g} | "
                     f"{'yes' if higher else '**no**'} |")
    lines += ["", f"Claim (best found outscores all {len(fitting)} fitting zoo models): "
              f"**{'holds' if ok_all else 'does NOT hold'}**.", ""]
    for line in lines:
        print(line, flush=True)
    return lines, ok_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="pixel4")
    parser.add_argument("--budget", type=float, default=20.0, help="budget in ms")
    parser.add_argument("--space", default="mobilenetv3")
    parser.add_argument("--proxy", default="flops",
                        help="proxy of part A (default flops: analytic, so 5 seeds x 2 "
                             "samplers x N trials fit in minutes)")
    parser.add_argument("--zoo-proxies", default=None,
                        help="comma-separated proxies for part B (default: flops and the "
                             "package default proxy)")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--zoo-trials", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--skip-a", action="store_true")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS-search.md"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    out = ["# Search quality (`benchmarks/search_quality.py`)", "",
           f"Command: `python benchmarks/search_quality.py {' '.join(sys.argv[1:])}`".rstrip(),
           "", "Latency: the `pixel4` table is an ESTIMATE (device model, ±20%), so these "
           "are statements about the search under that model, not about measured phones.",
           ""]
    ok = True
    if not args.skip_a:
        lines, good = part_a(args, args.proxy)
        out += lines
        ok &= good
        Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")
    proxies = (args.zoo_proxies.split(",") if args.zoo_proxies
               else list(dict.fromkeys(["flops", default_proxy_name()])))
    for name in proxies:
        lines, good = part_b(args, name)
        out += lines
        ok &= good
        Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")  # after each part
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
