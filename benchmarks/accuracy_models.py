"""Fit the shipped accuracy models and measure every estimate on data nobody fitted on.

Fits (``--write``), from ``../shared/data``:

* ``mnas/accuracy/models/imagenet.json`` (the default estimate for every space without a
  benchmark model of its own): the anchored multi-recipe model
  (:mod:`mnas.accuracy._multisource`) on four sources, each with its own recipe offsets:
  Accel-NASBench (the networks whose record id is not a multiple of 5; 16-epoch proxy
  recipe), timm's ImageNet results (32 networks, 9 recipe groups), TF-slim's
  MobileNetV1/V2 tables (29 networks, 2 recipes) and 2,000 OFA-MobileNetV3 subnets at
  160-224 px labelled by once-for-all's accuracy predictor (seed 1; the test subnets
  use seed 0). Its estimate is the top-1 under TF-slim's MobileNetV2 recipe;
* ``accel-nasbench.json`` (space encoding) and ``imagenet-arch.json`` (the former
  default, arch encoding) on the same Accel-NASBench fit split;
* ``nas-bench-macro.json`` (CIFAR-10) on every distinct NAS-Bench-Macro network except
  the 300 of ``../shared/data/nas_bench_macro/archs``.

Then measures, against real or oracle accuracy, beside params, MACs and the former
default:

1. within-recipe Kendall tau on timm's and TF-slim's recipe groups, each group left out
   of the fit in turn (pairs of one recipe only: the recipe moves top-1 by points);
2. the zoo's published top-1 (``mnas.models.published``, a test set: never fitted on):
   tau, the top-1 lost when picking the best-scored zoo model that fits a ``pixel4``
   budget of 8-25 ms, and MobileNetV3's minimalistic contrasts (Large, Small: the
   estimate's gap beside the published 2.9 and 5.6 points);
3. the held-out fifth of Accel-NASBench (tau overall and in the +-10% MACs band);
4. 300 random OFA-MobileNetV3 subnets (seed 0) against once-for-all's accuracy predictor;
5. NAS-Bench-Macro's 300 held-out networks (CIFAR-10; its own model only);
6. the time to score 300 architectures.

Usage: ``.venv/bin/python benchmarks/accuracy_models.py [--write | --write-all] [--out FILE]``
(``--write`` refits the default ``imagenet`` model, ``--write-all`` every shipped model).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _tabular import ACCEL, MACRO_DIR, SHARED, macro_labels  # noqa: E402
from proxy_correlation import (  # noqa: E402
    OFA_RESOLUTIONS,
    ofa_arch,
    ofa_oracle,
    sample_ofa_config,
)

from mnas.accuracy import (  # noqa: E402
    LabelledArch,
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
from mnas.accuracy._multisource import fit_stage_model, pooled_within_tau  # noqa: E402
from mnas.accuracy._quality import band_mask  # noqa: E402
from mnas.arch import Arch, arch_costs  # noqa: E402
from mnas.latency import TablePredictor, resolve_target  # noqa: E402
from mnas.models import get_arch  # noqa: E402
from mnas.models.published import PUBLISHED_TOP1  # noqa: E402
from mnas.spaces import load_space  # noqa: E402

TIMM = SHARED / "timm_imagenet" / "labels.csv"
TFSLIM = SHARED / "tfslim_imagenet" / "labels.csv"
BUDGETS_MS = (8.0, 12.0, 16.0, 20.0, 25.0)
DATASET = "ImageNet-1k val top-1 (Accel-NASBench proxified training, 16 epochs)"
REFERENCE = "tfslim_v2"
#: Source weights of the shipped model (each source 1 unless named), and hyper-parameters:
#: chosen by validation on the fit data only (leave-one-recipe-out on timm and TF-slim, a
#: fifth of the Accel-NASBench fit split, a quarter of the OFA labels; RESULTS-accuracy.md).
SOURCE_WEIGHT = {"ofa": 3.0}
OFA_LABELS = 2000
RECIPE_NOTES = {
    "tfslim_v2": "TF-slim's MobileNetV2 checkpoints (RMSProp, MobileNetV2 paper Sec. 6.1); "
                 "the recipe behind MobileNetV2 1.0's 71.8",
    "tfslim_v1": "TF-slim's MobileNetV1 checkpoints",
    "accel-nasbench": "Accel-NASBench's proxy schedule (16 epochs, 160->192 px, eval 256 px)",
    "ofa-supernet": "subnets of once-for-all's w1.2 supernet with its weights, on 10k "
                    "ImageNet train images (OFA's accuracy predictor, 160-224 px only)",
}
MINIMAL = (("mobilenet_v3_large", "mobilenet_v3_large_minimal", 2.9),
           ("mobilenet_v3_small", "mobilenet_v3_small_minimal", 5.6))


def record_id(arch: Arch) -> int:
    """Accel-NASBench record id (``result_<id>.json``)."""
    return int(str(arch.extra["source"]["key"]).split("_")[1].split(".")[0])


def split(labels: LabelSet) -> tuple[LabelSet, LabelSet]:
    """(fit, held-out): the held-out fifth has record ids divisible by 5."""
    fit = tuple(i for i in labels.items if record_id(i.arch) % 5)
    held = tuple(i for i in labels.items if record_id(i.arch) % 5 == 0)
    return replace(labels, items=fit), replace(labels, items=held)


def ofa_labels(n: int, seed: int) -> LabelSet:
    """``n`` random OFA subnets at 160-224 px labelled by OFA's accuracy predictor (%)."""
    rng = random.Random(seed)
    oracle = ofa_oracle()
    items = []
    for k in range(n):
        config = sample_ofa_config(rng, OFA_RESOLUTIONS)
        items.append(LabelledArch(arch=ofa_arch(config), accuracy=100 * oracle(config),
                                  origin=f"ofa seed {seed} #{k}", recipe="ofa-supernet",
                                  source="ofa"))
    return LabelSet(items=tuple(items), source="ofa", kind="oracle",
                    description="once-for-all's accuracy predictor (w1.2 supernet subnets)")


def imagenet_sources(accel_fit: LabelSet) -> LabelSet:
    """The shipped ``imagenet`` model's labels: four sources, each label with its recipe."""
    parts = [(accel_fit, "accel-nasbench", "accel-nasbench"), (load_labels(TIMM), "timm", None),
             (load_labels(TFSLIM), "tfslim", None), (ofa_labels(OFA_LABELS, 1), "ofa", None)]
    items = []
    for labels, source, recipe in parts:
        items += [replace(i, source=source, recipe=recipe or i.recipe) for i in labels.items]
    return LabelSet(items=tuple(items), source=" + ".join(p[1] for p in parts), kind="several",
                    description="ImageNet-1k top-1 of four sources")


def fit_imagenet(fit: LabelSet) -> None:
    """Fit the default ``imagenet`` model and write it."""
    start = time.perf_counter()
    model = fit_stage_model(
        imagenet_sources(fit), reference=REFERENCE, name="imagenet",
        dataset="ImageNet-1k val top-1", metric="top-1 accuracy (%)",
        source_weight=SOURCE_WEIGHT, recipe_notes=RECIPE_NOTES,
        progress=lambda m: print(f"  imagenet: {m}", flush=True))
    model.header["label_source"] = (
        "../shared/data: accel_nasbench/archs (record id % 5 != 0), timm_imagenet/labels.csv, "
        f"tfslim_imagenet/labels.csv, {OFA_LABELS} OFA subnets labelled by "
        "ofa_acc_predictor (seed 1, 160-224 px)")
    model.save(shipped_models_dir() / "imagenet.json")
    print(f"wrote imagenet: {model.describe()} [{time.perf_counter() - start:.0f} s]",
          flush=True)


def fit_accel_models(fit: LabelSet) -> None:
    """Fit the Accel-NASBench space model and the former default and write them."""
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


TABLE_HEAD = ("| estimate | tau | tau in ±10% MACs band | RMSE | n / band n | ms/arch |",
              "|---|---|---|---|---|---|")
Tested = dict[str, list[dict]]
Scorer = Callable[[Sequence[Arch]], list[float]]


def labelled(labels: LabelSet) -> tuple[list[Arch], list[float], list[int]]:
    """Architectures, accuracies and MACs of ``labels``."""
    archs = [i.arch for i in labels.items]
    return archs, [i.accuracy for i in labels.items], [arch_costs(a).macs for a in archs]


def timed(score: Scorer, archs: Sequence[Arch]) -> tuple[list[float], float]:
    """Scores and milliseconds per architecture."""
    start = time.perf_counter()
    scores = score(archs)
    return scores, (time.perf_counter() - start) / len(archs) * 1e3


def row(name: str, q: Quality, ms: float | None = None) -> str:
    """A markdown table row."""
    rmse = "" if np.isnan(q.rmse) else f"{q.rmse:.2f}"
    cost = "" if ms is None else f"{ms:.2f}"
    band = "" if np.isnan(q.tau_band) else f"{q.tau_band:.3f}"
    return f"| {name} | {q.tau:.3f} | {band} | {rmse} | {q.n} / {q.n_band} | {cost} |"


def model_scorer(name: str) -> Scorer:
    """Score with a shipped model (one matrix product)."""
    return ModelEstimator(model=load_shipped_model(name)).score_many


def estimates(default: bool = True) -> dict[str, Scorer]:
    """The estimates compared everywhere: the new default, the former one, params, MACs."""
    out: dict[str, Scorer] = {}
    if default:
        out["`imagenet` (default)"] = model_scorer("imagenet")
    out["`imagenet-arch` (former default)"] = model_scorer("imagenet-arch")
    out["params"] = lambda archs: [float(arch_costs(a).params) for a in archs]
    out["MACs"] = lambda archs: [float(arch_costs(a).macs) for a in archs]
    return out


def within_recipe(labels: LabelSet, predicted: dict[str, list[float]]) -> dict[str, float]:
    """Pooled within-recipe Kendall tau (pairs of one recipe only) of each estimate."""
    recipes = np.asarray([i.recipe for i in labels.items])
    truth = np.asarray([i.accuracy for i in labels.items])
    out = {}
    for name, scores in predicted.items():
        values = np.asarray(scores)
        groups = [(values[recipes == r], truth[recipes == r]) for r in dict.fromkeys(recipes)]
        out[name] = pooled_within_tau(groups) or float("nan")
    return out


def measure_recipes(tested: Tested) -> list[str]:
    """Within-recipe tau on timm and TF-slim, the default's recipe groups each left out."""
    model = load_shipped_model("imagenet")
    cv = model.header["cross_validation"]
    lines = ["| estimate | timm (9 recipe groups) | TF-slim (2 recipes) |", "|---|---|---|"]
    per_source = {s: v["cross_validation"] for s, v in model.header["sources"].items()}
    columns = {}
    for path in (TIMM, TFSLIM):
        labels = load_labels(path)
        archs = [i.arch for i in labels.items]
        columns[path] = within_recipe(labels, {n: f(archs) for n, f in estimates(False).items()})
    lines.append(f"| `imagenet` (default; each recipe group left out of its fit) | "
                 f"{per_source['timm']['tau']:.3f} | {per_source['tfslim']['tau']:.3f} |")
    for name in estimates(False):
        lines.append(f"| {name} | {columns[TIMM][name]:.3f} | {columns[TFSLIM][name]:.3f} |")
    tested.setdefault("imagenet", []).append(
        {"on": "timm and TF-slim recipe groups, each left out of the fit (within-recipe)",
         "tau": round((per_source["timm"]["tau"] + per_source["tfslim"]["tau"]) / 2, 4),
         "timm": per_source["timm"]["tau"], "tfslim": per_source["tfslim"]["tau"]})
    lines += ["", "Per recipe group left out (within-group tau; RMSE after removing the "
              "group's mean error):", "", "| recipe | labels | tau | RMSE |", "|---|---|---|---|"]
    for recipe, v in cv.items():
        tau = "" if v["tau"] is None else f"{v['tau']:.3f}"
        rmse = "" if v["rmse"] is None else f"{v['rmse']:.2f}"
        lines.append(f"| {recipe} | {v['n']} | {tau} | {rmse} |")
    err = model.header["measured_error"]
    lines += ["", "Measured error of one estimate (the same held-out predictions, "
              "reference-scale sources): where the remaining labels supported every choice "
              f"of the network ±{err['supported']['rmse']:.2f} (n={err['supported']['n']}), "
              f"elsewhere ±{err['unsupported']['rmse']:.2f} (n={err['unsupported']['n']})."]
    return lines


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
    names = list(PUBLISHED_TOP1)
    archs = [get_arch(n) for n in names]
    truth = [PUBLISHED_TOP1[n][0] for n in names]
    predictor = TablePredictor(resolve_target("pixel4"))
    latency = [predictor.predict_ms(a) for a in archs]
    out = [f"| estimate | tau ({len(names)} models) | top-1 lost at 8 / 12 / 16 / 20 / 25 ms "
           "| mean | V3-Large minimal gap (2.9) | V3-Small minimal gap (5.6) |",
           "|---|---|---|---|---|---|"]
    for name, fn in estimates().items():
        scores = fn(archs)
        losses = zoo_losses(scores, truth, latency)
        by = dict(zip(names, scores, strict=True))
        gaps = [by[full] - by[minimal] for full, minimal, _ in MINIMAL]
        gap_text = ([f"{g:+.2f}" for g in gaps] if name.startswith("`") else
                    [f"({g:+.3g})" for g in gaps])
        if name.startswith("`"):
            tested.setdefault(name.split("`")[1], []).append(
                {"on": f"the zoo's published top-1 ({len(names)} models)",
                 "tau": kendall(scores, truth),
                 "mean_top1_lost_at_pixel4_budgets": float(np.mean(losses)),
                 "minimal_gaps": {"large": gaps[0], "small": gaps[1]}})
        out.append(f"| {name} | {kendall(scores, truth):.3f} | "
                   f"{' / '.join(f'{v:.1f}' for v in losses)} | {np.mean(losses):.2f} | "
                   f"{gap_text[0]} | {gap_text[1]} |")
    model = DefaultEstimator()
    out += ["", "The default estimate beside the published figure (top-1 %, TF-slim "
            "MobileNetV2 recipe; ± = ensemble spread and measured error):", "",
            "| zoo model | published | estimate | ± | no evidence for |", "|---|---|---|---|---|"]
    from mnas.accuracy import describe_score

    for name, arch, top1 in zip(names, archs, truth, strict=True):
        info = describe_score(model, arch)
        band = float(np.hypot(info["spread"], info["error"] or 0.0))
        out.append(f"| {name} | {top1:.1f} | {info['score']:.1f} | {band:.1f} | "
                   f"{', '.join(info['unsupported']) or '-'} |")
    return out


def measure_accel(held: LabelSet, tested: Tested) -> list[str]:
    """Held-out Accel-NASBench."""
    archs, truth, macs = labelled(held)
    out = list(TABLE_HEAD)
    for name, fn in {"`accel-nasbench` (space model; the default in its space)":
                     model_scorer("accel-nasbench"), **estimates()}.items():
        scores, ms = timed(fn, archs)
        model = name.startswith("`")
        quality = measure_quality(  # the Accel-NASBench-scale models' RMSE means something
            scores, truth, macs, method="held out",
            is_accuracy=name.startswith(("`accel", "`imagenet-arch")))
        out.append(row(name, quality, ms))
        if model:
            key = name.split("`")[1]
            tested.setdefault(key, []).append(
                {"on": f"held-out Accel-NASBench fifth (n={quality.n})", **quality.to_dict()})
    return out


def measure_ofa(tested: Tested, n: int = 300) -> list[str]:
    """Random OFA subnets (seed 0) against OFA's accuracy predictor."""
    test = ofa_labels(n, 0)
    archs, truth, macs = labelled(test)
    out = list(TABLE_HEAD)
    for name, fn in estimates().items():
        scores, ms = timed(fn, archs)
        quality = measure_quality(scores, truth, macs, method="oracle", is_accuracy=False)
        out.append(row(name, quality, ms))
        if name.startswith("`"):
            tested.setdefault(name.split("`")[1], []).append(
                {"on": f"{n} OFA subnets (seed 0) vs OFA's accuracy predictor",
                 **quality.to_dict()})
    return out


def measure_macro(test: LabelSet, tested: Tested) -> list[str]:
    """The 300 held-out NAS-Bench-Macro networks (CIFAR-10)."""
    archs, truth, macs = labelled(test)
    out = list(TABLE_HEAD)
    scores, ms = timed(model_scorer("nas-bench-macro"), archs)
    quality = measure_quality(scores, truth, macs, method="held out")
    out.append(row("`nas-bench-macro` model", quality, ms))
    tested["nas-bench-macro"] = [{"on": f"the {quality.n} held-out networks of "
                                  "../shared/data/nas_bench_macro/archs", **quality.to_dict()}]
    for name in ("params", "MACs"):
        scores, ms = timed(estimates()[name], archs)
        out.append(row(name, measure_quality(scores, truth, macs, method="held out",
                                             is_accuracy=False), ms))
    return out


def select_settings(fit: LabelSet) -> list[str]:
    """The validation sweep behind :data:`SOURCE_WEIGHT` and the model's defaults.

    Only fit data: leave-one-recipe-out on timm and TF-slim (within-recipe tau), and the
    in-band tau of a validation fifth of the Accel-NASBench fit split (record id % 5 == 1)
    and of the last quarter of the OFA labels, each predicted by a fit without them.
    The score is the mean of the four.
    """
    import itertools

    from mnas.accuracy._anchored import fit_anchored
    from mnas.accuracy._multisource import cross_validate_recipes
    from mnas.accuracy._stages import StageEncoding

    labels = imagenet_sources(fit)
    encoding = StageEncoding()
    x = encoding.encode_many([i.arch for i in labels.items])
    y = np.asarray([i.accuracy for i in labels.items])
    recipes = np.asarray([i.recipe for i in labels.items])
    sources = np.asarray([i.source for i in labels.items])
    ofa_rank = np.cumsum(sources == "ofa")
    val = (((sources == "accel-nasbench") & np.asarray(
        [i.source == "accel-nasbench" and record_id(i.arch) % 5 == 1 for i in labels.items]))
           | ((sources == "ofa") & (ofa_rank > 0.75 * OFA_LABELS)))
    train = ~val
    macs = np.exp(x[:, 0])
    weights = {"each 1": {}, "OFA x3": {"ofa": 3.0}, "timm, TF-slim x0.5":
               {"timm": 0.5, "tfslim": 0.5}, "all but Accel-NASBench x2":
               {"timm": 2.0, "tfslim": 2.0, "ofa": 2.0}}
    lines = ["| source weights | tau_correction | tau_recipe | bound | timm | TF-slim | "
             "Accel-NASBench val band | OFA val band | mean |", "|---|---|---|---|---|---|---|---|---|"]
    results = []
    for (wname, w), tau_c, tau_r, bound in itertools.product(
            weights.items(), (0.5, 1.0, 3.0), (0.5, 1.0, 3.0), (1.5, 3.0)):
        settings = {"tau_correction": tau_c, "tau_recipe": tau_r, "bound": bound,
                    "source_weight": w}
        cv = cross_validate_recipes(
            x[train], y[train], recipes=list(recipes[train]), sources=list(sources[train]),
            macs=macs[train], n_anchor=encoding.n_anchor, reference=REFERENCE,
            settings=settings)
        model = fit_anchored(x[train], y[train], recipes=list(recipes[train]),
                             sources=list(sources[train]), n_anchor=encoding.n_anchor,
                             reference=REFERENCE, **settings)
        bands = []
        for source in ("accel-nasbench", "ofa"):
            rows = val & (sources == source)
            band = band_mask(macs[rows])
            bands.append(kendall((x[rows] @ model.weights)[band], y[rows][band]))
        taus = [cv.per_source["timm"]["tau"], cv.per_source["tfslim"]["tau"], *bands]
        results.append((float(np.mean(taus)), wname, tau_c, tau_r, bound, taus))
    for mean, wname, tau_c, tau_r, bound, taus in sorted(results, reverse=True):
        lines.append(f"| {wname} | {tau_c:g} | {tau_r:g} | {bound:g} | "
                     + " | ".join(f"{t:.3f}" for t in taus) + f" | {mean:.4f} |")
    return lines


def measure_speed() -> list[str]:
    """Seconds to score 300 architectures of the default space (with their descriptions)."""
    from mnas.accuracy import describe_score

    space = load_space("mobilenetv3")
    rng = random.Random(0)
    archs = [space.random_arch(rng) for _ in range(300)]
    start = time.perf_counter()
    estimator = DefaultEstimator()
    for arch in archs:
        describe_score(estimator, arch)
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    estimator.score_many(archs)
    batched = time.perf_counter() - start
    return [f"300 random `mobilenetv3` architectures: {one_by_one:.2f} s one by one with "
            f"their descriptions (model load included), {batched:.2f} s as one batch."]


def main(argv: Sequence[str] | None = None) -> int:
    """Fit (optionally) and measure; print markdown and write ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true",
                        help="refit and write the default `imagenet` model")
    parser.add_argument("--write-all", action="store_true",
                        help="refit every shipped model (the others take ~8 minutes more)")
    parser.add_argument("--select", action="store_true",
                        help="also print the validation sweep behind the model's settings "
                        "(about 5 minutes)")
    parser.add_argument("--out", default=str(HERE / "RESULTS-accuracy.md"))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if not ACCEL.is_dir():
        print(f"{ACCEL} is absent; this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    fit, held = split(load_labels(ACCEL))
    print(f"Accel-NASBench: {len(fit.items)} to fit, {len(held.items)} held out", flush=True)
    macro_fit, macro_test = macro_split()
    if args.write or args.write_all:
        fit_imagenet(fit)
    if args.write_all:
        fit_accel_models(fit)
        fit_macro(macro_fit)
    tested: Tested = {}
    sections = [
        "# Accuracy models: measured quality",
        "",
        "Command: `.venv/bin/python benchmarks/accuracy_models.py"
        f"{' --write' if args.write else ''}{' --write-all' if args.write_all else ''}`"
        f" ({time.strftime('%Y-%m-%d')}).",
        "",
        "## Within recipe, on recipe groups left out of the fit (timm, TF-slim)", "",
        *measure_recipes(tested), "",
        "## Zoo, published ImageNet top-1 (test set; `mnas/models/published.py`)", "",
        *measure_zoo(tested), "",
        "## Accel-NASBench, held-out fifth (ImageNet top-1; record id % 5 == 0)", "",
        *measure_accel(held, tested), "",
        "## 300 random OFA-MobileNetV3 subnets (seed 0) vs once-for-all's accuracy predictor",
        "", *measure_ofa(tested), "",
        "## NAS-Bench-Macro, the 300 held-out networks (CIFAR-10 top-1)", "",
        *measure_macro(macro_test, tested), "",
        "## Cost", "", *measure_speed(), ""]
    if args.select:
        sections += ["## How the settings were chosen (validation on the fit data only)", "",
                     *select_settings(fit), ""]
    if args.write or args.write_all:
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
