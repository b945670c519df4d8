"""Fit the shipped accuracy models and measure every estimate on data nobody fitted on.

Fits (``--write``), on the Accel-NASBench networks of ``../shared/data`` whose record
id is not a multiple of 5 (the other fifth is held out, never seen by a fit):

* ``mnas/accuracy/models/accel-nasbench.json``: space encoding of ``accel-nasbench``;
* ``mnas/accuracy/models/imagenet-arch.json``: the space-agnostic arch encoding;

and ``mnas/accuracy/models/nas-bench-macro.json`` (CIFAR-10) on every distinct
NAS-Bench-Macro network except the 300 of ``../shared/data/nas_bench_macro/archs``.

Then measures, against real or oracle ImageNet accuracy:

1. the held-out fifth of Accel-NASBench (Kendall tau overall and in the +-10% MACs band);
2. the zoo's published top-1 (``benchmarks/data/zoo_top1.csv``, a test set: never fitted
   on): tau, and the top-1 lost when picking the best-scored zoo model that fits a
   ``pixel4`` budget of 8, 12, 16, 20 and 25 ms;
3. 300 random OFA-MobileNetV3 subnets (resolutions 160-224) against once-for-all's
   accuracy predictor (a learned oracle; a space nobody fitted on);
4. milliseconds per architecture of each estimate.

Usage: ``.venv/bin/python benchmarks/accuracy_models.py [--write] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _tabular import ACCEL, MACRO_DIR, macro_labels  # noqa: E402
from proxy_correlation import OFA_RESOLUTIONS, ofa_arch, ofa_oracle, sample_ofa_config  # noqa: E402

from mnas.accuracy import (  # noqa: E402
    LabelSet,
    Quality,
    fit_accuracy_model,
    kendall,
    load_labels,
    measure_quality,
)
from mnas.accuracy._estimators import (  # noqa: E402
    DefaultEstimator,
    ModelEstimator,
    load_shipped_model,
    shipped_models_dir,
)
from mnas.arch import Arch  # noqa: E402
from mnas.latency import TablePredictor, resolve_target  # noqa: E402
from mnas.models import get_arch  # noqa: E402
from mnas.proxies import arch_costs  # noqa: E402
from mnas.spaces import load_space  # noqa: E402

ZOO_TOP1 = HERE / "data" / "zoo_top1.csv"
BUDGETS_MS = (8.0, 12.0, 16.0, 20.0, 25.0)
DATASET = "ImageNet-1k val top-1 (Accel-NASBench proxified training, 16 epochs)"


def record_id(arch: Arch) -> int:
    """Accel-NASBench record id (``result_<id>.json``)."""
    return int(str(arch.extra["source"]["key"]).split("_")[1].split(".")[0])


def split(labels: LabelSet) -> tuple[LabelSet, LabelSet]:
    """(fit, held-out): the held-out fifth has record ids divisible by 5."""
    fit = tuple(i for i in labels.items if record_id(i.arch) % 5)
    held = tuple(i for i in labels.items if record_id(i.arch) % 5 == 0)
    return replace(labels, items=fit), replace(labels, items=held)


def fit_shipped(fit: LabelSet) -> None:
    """Fit both shipped ImageNet models on ``fit`` and write them."""
    space = load_space("accel-nasbench")
    for name, encoding in (("accel-nasbench", "space"), ("imagenet-arch", "arch")):
        start = time.perf_counter()
        model = fit_accuracy_model(
            fit, encoding=encoding, space=space if encoding == "space" else None, name=name,
            dataset=DATASET, metric="top-1 accuracy (%)",
            progress=lambda m, n=name: print(f"  {n}: {m}", flush=True))
        model.header["label_source"] = ("../shared/data/accel_nasbench/archs "
                                        "(record id % 5 != 0; the rest held out)")
        model.save(shipped_models_dir() / f"{name}.json")
        print(f"wrote {name}: {model.describe()} [{time.perf_counter() - start:.0f} s]",
              flush=True)


def macro_split() -> tuple[LabelSet, LabelSet]:
    """NAS-Bench-Macro: (fit, test). Test = the 300 shared arch files; fit = every other
    distinct network of the 6,561 (keys that build the same network are averaged)."""
    test = load_labels(MACRO_DIR)
    return macro_labels(exclude={i.arch.structure_key() for i in test.items}), test


def fit_macro(fit: LabelSet) -> None:
    """Fit and write the shipped NAS-Bench-Macro CIFAR-10 model."""
    model = fit_accuracy_model(
        fit, encoding="space", space=load_space("nas-bench-macro"), name="nas-bench-macro",
        dataset="CIFAR-10 test top-1 (NAS-Bench-Macro, 50 epochs, mean of 3 runs)",
        metric="top-1 accuracy (%)",
        progress=lambda m: print(f"  nas-bench-macro: {m}", flush=True))
    model.header["label_source"] = ("../shared/data/nas_bench_macro/nas-bench-macro_cifar10.json "
                                    "less the 300 networks of archs/ (held out)")
    model.save(shipped_models_dir() / "nas-bench-macro.json")
    print(f"wrote nas-bench-macro: {model.describe()}", flush=True)


def measure_macro(test: LabelSet, tested: Tested) -> list[str]:
    """The 300 held-out NAS-Bench-Macro networks (CIFAR-10)."""
    archs, truth, macs = labelled(test)
    out = list(TABLE_HEAD)
    scores, ms = timed(ModelEstimator(model=load_shipped_model("nas-bench-macro")).score, archs)
    quality = measure_quality(scores, truth, macs, method="held out")
    out.append(row("`nas-bench-macro` model", quality, ms))
    tested["nas-bench-macro"] = [{"on": f"the {quality.n} held-out networks of "
                                  "../shared/data/nas_bench_macro/archs", **quality.to_dict()}]
    for name, fn in baselines().items():
        scores, ms = timed(fn, archs)
        out.append(row(name, measure_quality(scores, truth, macs, method="held out",
                                             is_accuracy=False), ms))
    return out


TABLE_HEAD = ("| estimate | tau | tau in ±10% MACs band | RMSE | n / band n | ms/arch |",
              "|---|---|---|---|---|---|")


def labelled(labels: LabelSet) -> tuple[list[Arch], list[float], list[int]]:
    """Architectures, accuracies and MACs of ``labels``."""
    archs = [i.arch for i in labels.items]
    return archs, [i.accuracy for i in labels.items], [arch_costs(a).macs for a in archs]


def timed(score: Callable[[Arch], float], archs: Sequence[Arch]) -> tuple[list[float], float]:
    """Scores and milliseconds per architecture."""
    start = time.perf_counter()
    scores = [score(a) for a in archs]
    return scores, (time.perf_counter() - start) / len(archs) * 1e3


def row(name: str, q: Quality, ms: float | None = None) -> str:
    """A markdown table row."""
    rmse = "" if np.isnan(q.rmse) else f"{q.rmse:.2f}"
    cost = "" if ms is None else f"{ms:.2f}"
    return f"| {name} | {q.tau:.3f} | {q.tau_band:.3f} | {rmse} | {q.n} / {q.n_band} | {cost} |"


def baselines() -> dict[str, Callable[[Arch], float]]:
    """Params and MACs (log counts)."""
    return {"params": lambda a: float(arch_costs(a).params),
            "MACs": lambda a: float(arch_costs(a).macs)}


Tested = dict[str, list[dict]]


def measure_accel(held: LabelSet, tested: Tested) -> list[str]:
    """Held-out Accel-NASBench."""
    archs, truth, macs = labelled(held)
    out = list(TABLE_HEAD)
    for name in ("accel-nasbench", "imagenet-arch"):
        estimator = ModelEstimator(model=load_shipped_model(name))
        scores, ms = timed(estimator.score, archs)
        quality = measure_quality(scores, truth, macs, method="held out")
        out.append(row(f"`{name}` model", quality, ms))
        tested.setdefault(name, []).append(
            {"on": f"held-out Accel-NASBench fifth (n={quality.n})", **quality.to_dict()})
    for name, fn in baselines().items():
        scores, ms = timed(fn, archs)
        out.append(row(name, measure_quality(scores, truth, macs, method="held out",
                                             is_accuracy=False), ms))
    return out


def zoo_losses(scores: Sequence[float], truth: Sequence[float],
               latency: Sequence[float]) -> list[float]:
    """Top-1 points lost per budget by picking the best-scored zoo model that fits."""
    losses = []
    for budget in BUDGETS_MS:
        fits = [i for i, ms in enumerate(latency) if ms <= budget]
        best = max(truth[i] for i in fits)
        pick = max(fits, key=lambda i: scores[i])
        losses.append(best - truth[pick])
    return losses


def measure_zoo(tested: Tested) -> list[str]:
    """The zoo's published top-1 as a test set."""
    rows = list(csv.DictReader(ZOO_TOP1.read_text(encoding="utf-8").splitlines()))
    archs = [get_arch(r["arch"]) for r in rows]
    truth = [float(r["accuracy"]) for r in rows]
    predictor = TablePredictor(resolve_target("pixel4"))
    latency = [predictor.predict_ms(a) for a in archs]
    estimates: dict[str, Callable[[Arch], float]] = {
        "default estimate": DefaultEstimator().score,
        "`imagenet-arch` model": ModelEstimator(model=load_shipped_model("imagenet-arch")).score,
        **baselines()}
    out = ["| estimate | tau (21 models) | top-1 lost at 8 / 12 / 16 / 20 / 25 ms | mean |",
           "|---|---|---|---|"]
    for name, fn in estimates.items():
        scores = [fn(a) for a in archs]
        losses = zoo_losses(scores, truth, latency)
        if name.startswith("`imagenet-arch`"):
            tested.setdefault("imagenet-arch", []).append(
                {"on": "the zoo's published top-1 (21 models)", "tau": kendall(scores, truth),
                 "mean_top1_lost_at_pixel4_budgets": float(np.mean(losses))})
        out.append(f"| {name} | {kendall(scores, truth):.3f} | "
                   f"{' / '.join(f'{v:.1f}' for v in losses)} | {np.mean(losses):.2f} |")
    return out


def measure_ofa(tested: Tested, n: int = 300) -> list[str]:
    """Random OFA subnets against OFA's accuracy predictor."""
    rng = random.Random(0)
    configs = [sample_ofa_config(rng, OFA_RESOLUTIONS) for _ in range(n)]
    oracle = ofa_oracle()
    truth = [oracle(c) for c in configs]
    archs = [ofa_arch(c) for c in configs]
    macs = [arch_costs(a).macs for a in archs]
    out = list(TABLE_HEAD)
    estimates = {"`imagenet-arch` model (default here)":
                 ModelEstimator(model=load_shipped_model("imagenet-arch")).score, **baselines()}
    for name, fn in estimates.items():
        scores, ms = timed(fn, archs)
        quality = measure_quality(scores, truth, macs, method="oracle", is_accuracy=False)
        out.append(row(name, quality, ms))
        if name.startswith("`imagenet-arch`"):
            tested.setdefault("imagenet-arch", []).append(
                {"on": f"{n} OFA subnets vs OFA's accuracy predictor", **quality.to_dict()})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Fit (optionally) and measure; print markdown and write ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="refit and write the shipped models")
    parser.add_argument("--out", default=str(HERE / "RESULTS-accuracy.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if not ACCEL.is_dir():
        print(f"{ACCEL} is absent; this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    fit, held = split(load_labels(ACCEL))
    print(f"Accel-NASBench: {len(fit.items)} to fit, {len(held.items)} held out", flush=True)
    macro_fit, macro_test = macro_split()
    print(f"NAS-Bench-Macro: {len(macro_fit.items)} distinct networks to fit, "
          f"{len(macro_test.items)} held out", flush=True)
    if args.write:
        fit_shipped(fit)
        fit_macro(macro_fit)
    tested: Tested = {}
    sections = [
        "# Accuracy models: measured quality",
        "",
        "Command: `.venv/bin/python benchmarks/accuracy_models.py"
        f"{' --write' if args.write else ''}`"
        f" ({time.strftime('%Y-%m-%d')}).",
        "",
        "## Accel-NASBench, held-out fifth (ImageNet top-1; record id % 5 == 0)", "",
        *measure_accel(held, tested), "",
        "## Zoo, published ImageNet top-1 (test set; `benchmarks/data/zoo_top1.csv`)", "",
        *measure_zoo(tested), "",
        "## 300 random OFA-MobileNetV3 subnets vs once-for-all's accuracy predictor", "",
        *measure_ofa(tested), "",
        "## NAS-Bench-Macro, the 300 held-out networks (CIFAR-10 top-1)", "",
        *measure_macro(macro_test, tested), ""]
    if args.write:
        for name, tests in tested.items():  # measured on data the fit never saw
            model = load_shipped_model(name)
            model.header["tests"] = tests
            model.save(shipped_models_dir() / f"{name}.json")
    text = "\n".join(sections)
    print(text)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
