"""``mnas evaluate --weights W --arch A --data VAL``: measured top-1 / top-5 of a model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mnas.cli._common import positive_int
from mnas.errors import MnasInputError

__all__ = ["register"]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}")
    return value


def _recipe_of(weights: Path) -> str | None:
    """The recipe in the JSON record ``mnas weights extract`` wrote beside the weights."""
    record = weights.with_name(weights.name + ".json")
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    recipe = data.get("recipe") if isinstance(data, dict) else None
    return recipe if isinstance(recipe, str) else None


def _run(args: argparse.Namespace) -> int:
    from mnas.cli._common import print_json
    from mnas.cli._export import resolve_source
    from mnas.evaluation import append_label_row, evaluate_model, open_images, pick_device
    from mnas.export import load_weights
    from mnas.export._api import reference_model

    arch = resolve_source(args.arch)
    images = open_images(args.data, split=args.split)
    crop = args.crop if args.crop is not None else (0.875 if images.kind == "folder" else 1.0)
    recipe = args.recipe or _recipe_of(Path(args.weights)) or "unspecified"
    if args.labels_csv and not Path(args.labels_csv).name.endswith(".csv"):
        raise MnasInputError(f"--labels-csv {args.labels_csv!r} must end in .csv")
    model = reference_model(arch, load_weights(args.weights)).to(pick_device(args.device))
    result = evaluate_model(model, images, resolution=arch.resolution, crop=crop,
                            batch_size=args.batch_size, limit=args.images)
    row = None
    if args.labels_csv:
        arch_file, replaced = append_label_row(args.labels_csv, arch, result, recipe=recipe)
        row = {"csv": args.labels_csv, "arch_file": str(arch_file), "replaced": replaced}
    if args.json:
        print_json({"arch": arch.name, "weights": args.weights, "recipe": recipe,
                    **result.to_dict(), "labels_csv": row})
        return 0
    print(f"{arch.name} with {args.weights} ({recipe}):")
    print("\n".join(result.summary_lines()))
    if row is not None:
        verb = "replaced the row of" if row["replaced"] else "added"
        print(f"{args.labels_csv}: {verb} {row['arch_file']} (top-1 {result.top1:.2f}%, "
              f"recipe {recipe}); fit on it with `mnas accuracy fit --labels "
              f"{args.labels_csv}`")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``mnas evaluate`` to the CLI."""
    parser = subparsers.add_parser(
        "evaluate", help="measure top-1/top-5 of an architecture with weights on your images",
        description="Top-1 and top-5 accuracy with a 95% Wilson interval and the image count. "
                    "Preprocessing: shorter side resized to ceil(r / crop), centre crop r x r "
                    "(r: the arch's resolution), ImageNet mean/std. An ImageFolder's classes "
                    "are numbered in sorted folder order (ImageNet's wnid folders give the "
                    "standard index).")
    parser.add_argument("--weights", required=True, metavar="FILE",
                        help="state_dict of mnas's model of ARCH (.pt or .safetensors), e.g. "
                             "from `mnas weights extract`")
    parser.add_argument("--arch", required=True, metavar="ARCH",
                        help="a run folder (its best), an arch file or a zoo name")
    parser.add_argument("--data", required=True, metavar="DIR|FILE.npz",
                        help="labelled images: an ImageFolder (e.g. ImageNet val/) or a .npz")
    parser.add_argument("--split", default=None, metavar="NAME",
                        help="with a .npz holding a 'split' array: evaluate that split only")
    parser.add_argument("--images", type=positive_int, default=None, metavar="N",
                        help="evaluate N images spread evenly over the data (every k-th)")
    parser.add_argument("--crop", type=_fraction, default=None, metavar="F",
                        help="centre-crop fraction (default 0.875 for a folder, 1.0 for a "
                             ".npz, whose images are taken as already cropped)")
    parser.add_argument("--batch-size", type=positive_int, default=100, metavar="B",
                        help="images per forward pass (default 100)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--labels-csv", default=None, metavar="FILE.csv",
                        help="append the measurement as a row (arch,accuracy,top5,images,"
                             "recipe) that `mnas accuracy fit --labels` reads")
    parser.add_argument("--recipe", default=None, metavar="TEXT",
                        help="how the weights were made, for the CSV (default: from the "
                             "weights' .json record, e.g. ofa-mbv3-w1.2+bnrecal)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)
