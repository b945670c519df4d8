"""``mnas score``: accuracy estimates of one or more architectures, each with its source."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mnas.arch import Arch, load_arch

__all__ = ["register", "run"]


def _resolve(name_or_path: str) -> Arch:
    # An existing arch file loads directly, so `mnas score` also works while the zoo is absent.
    path = Path(name_or_path)
    if path.is_file():
        return load_arch(path)
    from mnas.cli._common import resolve_arch

    return resolve_arch(name_or_path)


def register(subparsers: Any) -> None:
    """Add the ``score`` subcommand."""
    from mnas.accuracy import DEFAULT_ESTIMATOR, list_shipped_models

    def describe() -> str:  # the proxy registry imports torch: only for `mnas score --help`
        from mnas.proxies import list_proxies

        return (
            "Estimate accuracy (higher = better), printed with the estimator and its "
            f"measured quality. --proxy: {DEFAULT_ESTIMATOR} (ImageNet top-1 under a named "
            "reference recipe, with its uncertainty; the benchmark spaces use their own "
            "models), a shipped model "
            f"({', '.join(list_shipped_models())}), a model file from `mnas accuracy fit`, "
            "labels:SRC (look-up of labelled archs), or a zero-cost proxy "
            f"({', '.join(list_proxies())}); naswot, zico and train need --data.")

    parser = subparsers.add_parser("score", help="estimate the accuracy of architectures")
    parser.describe = describe
    parser.add_argument("--arch", nargs="+", required=True, metavar="NAME|FILE",
                        help="zoo names or mnas-arch/1 JSON files")
    parser.add_argument("--proxy", default=DEFAULT_ESTIMATOR, metavar="P",
                        help=f"estimator (default {DEFAULT_ESTIMATOR})")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="dataset for data-driven proxies: .npz (x uint8 NHWC, y) or an "
                        "ImageFolder directory; never downloaded")
    parser.add_argument("--seed", type=int, default=0, help="proxy seed (default 0)")
    parser.add_argument("--resolution", type=int, default=None,
                        help="evaluate network proxies at this input size (cheaper for "
                        "ImageNet-size archs)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score every ``--arch`` with ``--proxy`` and print the results with their source."""
    from mnas.accuracy import describe_score, resolve_estimator

    archs = [(name, _resolve(name)) for name in args.arch]
    estimator = resolve_estimator(args.proxy, data=args.data, seed=args.seed,
                                  resolution=args.resolution)
    results = [{"arch": name, "proxy": args.proxy, **describe_score(estimator, arch)}
               for name, arch in archs]
    if args.json:
        from mnas.cli._common import print_json

        print_json(results[0] if len(results) == 1 else results)
        return 0
    from mnas.accuracy import format_score

    width = max(len(name) for name in args.arch)
    for row in results:
        notes = []
        if row["unsupported"]:
            notes.append(f"no evidence for {'; '.join(row['unsupported'])} (no labelled "
                         "network of one recipe varies it: its effect is a guess, hence the "
                         "wider ±)")
        if row["outside_domain"]:
            notes.append(f"extrapolating: {'; '.join(row['outside_domain'])}")
        print(f"{row['arch']:<{width}}  {format_score(row)}  [{row['estimator']}]"
              + "".join(f"\n{'':<{width}}  {note}" for note in notes))
    for line in sorted({row["quality"] for row in results}):
        print(f"  {line}")
    return 0
