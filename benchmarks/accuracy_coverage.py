"""Benchmark: what each label source teaches the default accuracy model.

The shipped ``imagenet`` model (``benchmarks/accuracy_models.py``) is fitted on four
sources: Accel-NASBench (MnasNet space, 16-epoch recipe), timm (32 networks of 9 recipe
groups that vary activation, SE and family), TF-slim (MobileNetV1/V2 at reduced
resolutions) and OFA subnets labelled by once-for-all's accuracy predictor. This refits
it without each source in turn (same settings) and reports every check of issue 23:

* within-recipe Kendall tau on timm's and TF-slim's groups (with the source in the fit:
  each group left out in turn; without it: the whole source predicted by the others);
* the zoo's published top-1 (a test set): tau, mean top-1 lost picking the best-scored
  model under pixel4 budgets of 8-25 ms, and the MobileNetV3 minimalistic gaps;
* tau in the +-10% MACs band on the held-out Accel-NASBench fifth and on 300 OFA subnets
  (seed 0).

Nothing here is shipped. ``.venv/bin/python benchmarks/accuracy_coverage.py [--out FILE]``
(about 2 minutes here) prints the table and writes it to
``benchmarks/RESULTS-accuracy-coverage.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _tabular import ACCEL  # noqa: E402
from accuracy_models import (  # noqa: E402
    BUDGETS_MS,
    MINIMAL,
    RECIPE_NOTES,
    REFERENCE,
    SOURCE_WEIGHT,
    imagenet_sources,
    labelled,
    ofa_labels,
    split,
    zoo_losses,
)

from mnas.accuracy import AccuracyModel, LabelSet, kendall, load_labels, measure_quality  # noqa: E402
from mnas.accuracy._multisource import fit_stage_model, pooled_within_tau  # noqa: E402
from mnas.latency import TablePredictor, resolve_target  # noqa: E402
from mnas.models import get_arch  # noqa: E402
from mnas.models.published import PUBLISHED_TOP1  # noqa: E402

SOURCES = ("accel-nasbench", "timm", "tfslim", "ofa")


def _within(model: AccuracyModel, labels: LabelSet, source: str) -> float:
    """Within-recipe tau of ``source``'s labels: held-out predictions where the model saw
    the source (leave-one-recipe-out), else the model's own predictions."""
    items = [i for i in labels.items if i.source == source]
    if not items:
        return float("nan")
    seen = model.header["sources"].get(source)
    if seen:
        return float(seen["cross_validation"]["tau"])
    predicted = model.predict_many([i.arch for i in items])[0]
    recipes = np.asarray([i.recipe for i in items])
    truth = np.asarray([i.accuracy for i in items])
    groups = [(predicted[recipes == r], truth[recipes == r]) for r in dict.fromkeys(recipes)]
    return pooled_within_tau(groups) or float("nan")


def _band(model: AccuracyModel, labels: LabelSet) -> float:
    archs, truth, macs = labelled(labels)
    scores = model.predict_many(archs)[0]
    return measure_quality(scores, truth, macs, method="held out", is_accuracy=False).tau_band


def main() -> int:
    """Fit without each source; print the checks as a markdown table and write ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "RESULTS-accuracy-coverage.md"))
    args = parser.parse_args()
    if not ACCEL.is_dir():
        print(f"{ACCEL} is absent; this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    fit, held = split(load_labels(ACCEL))
    everything = imagenet_sources(fit)
    ofa_test = ofa_labels(300, 0)
    names = list(PUBLISHED_TOP1)
    zoo = [get_arch(n) for n in names]
    truth = [PUBLISHED_TOP1[n][0] for n in names]
    predictor = TablePredictor(resolve_target("pixel4"))
    latency = [predictor.predict_ms(a) for a in zoo]
    lines = [
        "# What each label source teaches the default accuracy model", "",
        f"Command: `.venv/bin/python benchmarks/accuracy_coverage.py` ({time.strftime('%F')}). "
        "The default model refitted without each source (same settings); within-recipe tau "
        "of a source the fit did not see is its whole source predicted by the others.", "",
        "| fitted on | timm within-recipe | TF-slim within-recipe | zoo tau | zoo top-1 lost "
        f"({'/'.join(f'{b:g}' for b in BUDGETS_MS)} ms, mean) | V3 minimal gaps (2.9, 5.6) | "
        "Accel-NASBench band | OFA band |",
        "|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for dropped in (None, *SOURCES):
        items = tuple(i for i in everything.items if i.source != dropped)
        labels = replace(everything, items=items)
        weights = {k: v for k, v in SOURCE_WEIGHT.items() if k != dropped}
        reference = REFERENCE if dropped != "tfslim" else "ra_in1k"
        model = fit_stage_model(labels, reference=reference, source_weight=weights,
                                recipe_notes=RECIPE_NOTES)
        scores = model.predict_many(zoo)[0]
        by = dict(zip(names, scores, strict=True))
        gaps = [by[full] - by[minimal] for full, minimal, _ in MINIMAL]
        losses = zoo_losses(list(scores), truth, latency)
        name = "all four sources" if dropped is None else f"without {dropped}"
        lines.append(
            f"| {name} | {_within(model, everything, 'timm'):.3f} | "
            f"{_within(model, everything, 'tfslim'):.3f} | {kendall(scores, truth):.3f} | "
            f"{np.mean(losses):.2f} | {gaps[0]:+.2f}, {gaps[1]:+.2f} | "
            f"{_band(model, held):.3f} | {_band(model, ofa_test):.3f} |")
        print(lines[-1], flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
