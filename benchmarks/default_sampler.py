"""Which sampler should the headline search use? Best score after N trials, per sampler.

The headline command's setting (``mnas search --target pixel4 --budget 20ms``: the
``mobilenetv3`` space, the default accuracy estimate, the hard budget), 300 trials,
10 seeds, for random, TPE, regularized evolution and the predictor-guided sampler
(its prior is the default estimate itself, the search's own objective here, which is
cheap; with a training proxy the prior is the only cheap one). Each run is the
objective exactly as ``mnas search`` runs it, with the study in memory. Prints the
seed-mean best score after 50, 100 and 300 trials, the seeds on which each sampler's
final best is the highest, and seconds per run; writes
``benchmarks/RESULTS-default-sampler.md``.

Usage: ``.venv/bin/python benchmarks/default_sampler.py [--seeds 10] [--trials 300]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from search_quality import run_sampler  # noqa: E402

from mnas._io import atomic_write_text  # noqa: E402
from mnas.search import SearchConfig, default_proxy_name, make_proxy  # noqa: E402

SAMPLERS = ("random", "tpe", "evolution", "predictor")
CHECKPOINTS = (50, 100, 300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS-default-sampler.md")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    proxy_name = default_proxy_name()
    finals: dict[str, list[list[float]]] = {}
    seconds: dict[str, float] = {}
    for sampler in args.samplers:
        curves, start = [], time.perf_counter()
        for seed in range(args.seeds):
            config = SearchConfig(target="pixel4", budget_ms=args.budget, trials=args.trials,
                                  proxy=proxy_name, seed=seed, sampler=sampler, name="bench")
            curve = run_sampler(config.space, config, make_proxy(proxy_name, seed=seed))
            curves.append([np.nan if v is None else v for v in curve])
        finals[sampler] = curves
        seconds[sampler] = (time.perf_counter() - start) / args.seeds
        print(f"{sampler}: best after {args.trials} trials "
              f"{np.mean([c[-1] for c in curves]):.3f} ({seconds[sampler]:.1f} s/run)",
              flush=True)
    best_final = np.max([[c[-1] for c in finals[s]] for s in args.samplers], axis=0)
    checkpoints = [c for c in CHECKPOINTS if c <= args.trials]
    lines = ["# Default sampler (`benchmarks/default_sampler.py`)", "",
             f"`benchmarks/default_sampler.py {' '.join(sys.argv[1:])}`".replace(" `", "`"),
             f"{time.strftime('%Y-%m-%d')}: `mobilenetv3`, pixel4 {args.budget:g} ms (estimated), "
             f"proxy `{proxy_name}` (predicted ImageNet top-1 %), {args.seeds} seeds.", "",
             "| sampler | " + " | ".join(f"mean best @{c}" for c in checkpoints)
             + " | seeds with the highest final best | s/run |",
             "|---|" + "---|" * (len(checkpoints) + 2)]
    for sampler in args.samplers:
        arr = np.array(finals[sampler])
        wins = int(np.sum(arr[:, -1] >= best_final - 1e-9))
        lines.append(f"| {sampler} | " + " | ".join(f"{np.nanmean(arr[:, c - 1]):.3f}"
                                                  for c in checkpoints)
                     + f" | {wins} of {args.seeds} | {seconds[sampler]:.1f} |")
    text = "\n".join(lines)
    print(text)
    atomic_write_text(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
