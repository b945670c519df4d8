"""``mnas zoo list``: the registered reference architectures."""

from __future__ import annotations

import argparse
from typing import Any

from mnas.cli._common import add_command_group, print_json

__all__ = ["register"]


def _list(args: argparse.Namespace) -> int:
    from mnas.arch import arch_costs
    from mnas.models import get_arch, list_archs

    rows: list[dict[str, Any]] = []
    for name in list_archs():
        arch = get_arch(name)
        row: dict[str, Any] = {"name": name, "resolution": arch.resolution,
                               "blocks": len(arch.blocks)}
        if args.profile:
            prof = arch_costs(arch)
            row.update(params=prof.params, macs=prof.macs)
        rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        extra = (f"  {row['params'] / 1e6:6.2f}M params  {row['macs'] / 1e6:7.1f}M MACs"
                 if args.profile else "")
        print(f"{row['name']:<28} {row['resolution']}px  {row['blocks']:>2} blocks{extra}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``mnas zoo``."""
    verbs = add_command_group(
        subparsers, "zoo", help="reference architectures (MobileNetV1/V2/V3, MnasNet, EfficientNet-Lite0)",
        description="The reference architectures (MobileNetV1/V2/V3, MnasNet, "
                    "EfficientNet-Lite0 at their paper widths), usable by name wherever an "
                    "arch is asked for.")
    listing = verbs.add_parser(
        "list", help="list registered architectures",
        description="List the zoo's names with their resolution and block count; --profile "
                    "adds parameters and MACs (counted analytically, no network is built).")
    listing.add_argument("--profile", action="store_true", help="also count params and MACs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_list)
