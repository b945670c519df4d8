"""``mnas accuracy fit|show``: fit accuracy models on real labels and inspect them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mnas.cli._common import add_command_group

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``accuracy`` subcommand group."""
    sub = add_command_group(
        subparsers, "accuracy", metavar="ACTION",
        help="fit and inspect accuracy models (real labels -> predicted accuracy)",
        description="Accuracy models: fitted on labelled architectures, used with "
        "`mnas score/search --proxy MODEL.json`.")
    fit = sub.add_parser(
        "fit", help="fit a model on labels and print its cross-validated quality",
        description="Fit an accuracy model on labelled architectures and write the model "
                    "file: with several sources or recipes the anchored model (one offset per "
                    "recipe, cross-validated by leaving each recipe out), else ridge or MLP "
                    "ensembles chosen by 5-fold cross-validation; every candidate's quality is "
                    "printed.")
    fit.add_argument("--labels", required=True, metavar="SRC", action="append",
                     help="a folder of arch files with truth.accuracy, a CSV arch,accuracy "
                     "(optional recipe column), or a run folder searched with --proxy train; "
                     "repeat for several sources (each gets its own recipe offsets; implies "
                     "--encoding stages)")
    fit.add_argument("--space", default=None, metavar="S",
                     help="the labels' search space (needed by --encoding space; default: the "
                     "run's space for a run folder)")
    fit.add_argument("--encoding", choices=("space", "arch", "stages"), default=None,
                     help="space: the space's parameters one-hot; arch: space-agnostic "
                     "features; stages: size anchor + every choice per output-stride level, "
                     "one offset per recipe (default: stages for several sources or recipes, "
                     "else space when --space is known, else arch)")
    fit.add_argument("--family", choices=("auto", "ridge", "mlp", "anchored"), default="auto",
                     help="model family (default auto: chosen by cross-validated Kendall tau; "
                     "the stages encoding fits the anchored family)")
    fit.add_argument("--reference-recipe", default=None, metavar="R",
                     help="stages: the recipe whose top-1 the model estimates (default: the "
                     "largest recipe of a source under 100 labels)")
    fit.add_argument("--seed", type=int, default=0, help="seed of folds and ensembles")
    fit.add_argument("--name", default="", help="model name stored in its header")
    fit.add_argument("-o", "--output", required=True, metavar="FILE", help="model file (.json)")
    fit.set_defaults(func=run_fit)
    show = sub.add_parser("show", help="header and measured quality of a model",
                          description="Print an accuracy model's header: labels, space, "
                                      "encoding, family, domain and measured quality.")
    show.add_argument("model", metavar="FILE|NAME", help="a model file or a shipped model name")
    show.add_argument("--json", action="store_true", help="print the header as JSON")
    show.set_defaults(func=run_show)


def run_fit(args: argparse.Namespace) -> int:
    """Fit, print each candidate's cross-validated quality, write the model."""
    from pathlib import Path

    from mnas.accuracy import fit_accuracy_model, load_label_sources
    from mnas.spaces import load_space

    labels = load_label_sources(args.labels)
    space_name = args.space or labels.space
    several = len(args.labels) > 1 or len(labels.recipes) > 1
    encoding = args.encoding or ("stages" if several or args.reference_recipe else
                                 "space" if space_name else "arch")
    if encoding == "stages":
        space_name = None  # the stages encoding reads the architecture alone
    space = load_space(space_name) if space_name else None
    if space_name and Path(space_name).is_file():
        space_name = str(Path(space_name).resolve())  # the model finds its space from anywhere
    prefix = "" if encoding == "stages" else "candidate "  # stages: its recipes left out
    model = fit_accuracy_model(labels, encoding=encoding, space=space, space_source=space_name,
                               family=args.family, reference=args.reference_recipe,
                               seed=args.seed, name=args.name or Path(args.output).stem,
                               progress=lambda m: print(f"  {prefix}{m}", file=sys.stderr))
    model.save(args.output)
    print(f"wrote {args.output} ({len(labels.items)} labels from {labels.source}): "
          f"{model.describe()}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print a model's header."""
    from mnas.accuracy._estimators import ModelEstimator, resolve_estimator
    from mnas.errors import MnasInputError

    estimator = resolve_estimator(args.model)
    if not isinstance(estimator, ModelEstimator):
        raise MnasInputError(f"{args.model!r} is not an accuracy model file or shipped model")
    header = estimator.model.header
    if args.json:
        from mnas.cli._common import print_json

        print_json(header)
        return 0
    print(estimator.describe())
    for key in ("task", "dataset", "metric", "label_source", "label_count", "date", "space",
                "encoding", "family", "settings", "reference_recipe"):
        if key in header:
            print(f"  {key:<13} {header.get(key)}")
    recipes = header.get("recipes") or {}
    sources = header.get("sources") or {}
    reference = recipes.get(header.get("reference_recipe"), {})
    for recipe, info in recipes.items():
        scale = sources.get(info["source"], {}).get("scale", 1.0)
        where = (f"{info['offset'] - reference['offset']:+.2f} points vs the reference"
                 if scale == 1.0 and reference else f"its own scale (x{scale:.2f})")
        print(f"  recipe {recipe}: {info['labels']} labels of {info['source']}, {where}"
              f"{'; ' + info['note'] if info.get('note') else ''}")
    summary = header.get("evidence_summary") or []
    if summary:
        print("  evidence (contrasts: pairs of labelled networks of one recipe that differ in "
              "the choice; effect: the estimate's change when it is on everywhere in that "
              "half):")
    for row in summary:
        print(f"    {row['choice']:<34} {row['contrasts']:>10,} contrasts, "
              f"{row['effect']:+.2f} ±{row['sd']:.2f} points"
              f"{'  (no evidence: a guess)' if row['contrasts'] == 0 else ''}")
    domain = header.get("domain") or {}
    if domain:
        print(f"  {'domain':<13} MACs {domain['macs'][0]:,}-{domain['macs'][1]:,}, params "
              f"{domain['params'][0]:,}-{domain['params'][1]:,}, resolution "
              f"{domain['resolution']}, blocks {domain['block_types']}, "
              f"activations {domain['activations']}")
    for cand in header.get("selection", []):
        q = cand["quality"]
        print(f"  candidate {cand['family']} {cand['settings']}: tau {q['tau']:.3f}, band "
              f"{q['tau_band']:.3f}, RMSE {q['rmse']:.2f}")
    return 0
