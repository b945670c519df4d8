"""``mnas arch show NAME|FILE``: an architecture as a table, JSON or timm arch_def."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mnas.arch import Arch, conv_out_size, format_token
from mnas.cli._common import add_command_group, print_json, resolve_arch

__all__ = ["arch_summary", "register"]


def arch_summary(arch: Arch) -> dict[str, Any]:
    """The JSON summary of ``mnas arch show --json``."""
    from mnas.arch import arch_costs

    prof = arch_costs(arch)
    size = conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)
    blocks = []
    for s, b, block in arch.iter_blocks():
        out = conv_out_size(size, block.kernel, block.stride)
        blocks.append({
            "stage": s, "index": b, "type": block.type, "token": format_token(block),
            "in": block.in_channels, "mid": block.mid_channels, "out": block.out_channels,
            "kernel": block.kernel, "stride": block.stride, "se": block.se_channels,
            "act": block.act, "skip": block.skip, "in_size": size, "out_size": out})
        size = out
    return {"name": arch.name, "params": prof.params, "macs": prof.macs,
            "resolution": arch.resolution, "num_classes": arch.num_classes,
            "stem": {"channels": arch.stem.channels, "kernel": arch.stem.kernel,
                     "stride": arch.stem.stride, "act": arch.stem.act},
            "head": arch.to_dict()["head"], "blocks": blocks, "arch": arch.to_dict()}


def _show(args: argparse.Namespace) -> int:
    arch = resolve_arch(args.arch)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print_json(arch_summary(arch))
        return 0
    if fmt == "timm":
        print(json.dumps([[format_token(block) for block in stage] for stage in arch.stages],
                         indent=1))
        return 0
    summary = arch_summary(arch)
    print(f"{arch.name}: {summary['params'] / 1e6:.3f}M params, {summary['macs'] / 1e6:.1f}M "
          f"MACs at {arch.resolution}x{arch.resolution}, {arch.num_classes} classes")
    print(f"stem  conv{arch.stem.kernel}x{arch.stem.kernel} s{arch.stem.stride} -> "
          f"{arch.stem.channels} {arch.stem.act}")
    print(f"{'st':>2} {'#':>2}  {'size':>7}  {'type':<4} {'k':>1} {'s':>1} {'in':>5} {'mid':>5} "
          f"{'out':>5} {'se':>4} {'act':<7} skip")
    for row in summary["blocks"]:
        print(f"{row['stage']:>2} {row['index']:>2}  {row['in_size']:>3}->{row['out_size']:<3} "
              f"{row['type']:<4} {row['kernel']:>1} {row['stride']:>1} {row['in']:>5} "
              f"{row['mid']:>5} {row['out']:>5} {row['se'] or '-':>4} {row['act']:<7} "
              f"{'yes' if row['skip'] else 'no'}")
    head = arch.head
    print(f"head  {head.type} conv={head.channels} hidden={head.hidden} {head.act} "
          f"dropout={head.dropout} -> {arch.num_classes}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``mnas arch``."""
    verbs = add_command_group(subparsers, "arch", help="inspect an architecture",
                              description="Inspect an architecture: a zoo name or an "
                                          "mnas-arch/1 JSON file.")
    show = verbs.add_parser(
        "show", help="show a zoo architecture or an arch file",
        description="Print an architecture's blocks with their sizes, its parameters and "
                    "MACs (analytic count), as a table, JSON or timm arch_def tokens.")
    show.add_argument("arch", metavar="NAME|FILE", help="zoo name or arch file")
    show.add_argument("--json", action="store_true", help="same as --format json")
    show.add_argument("--format", choices=("table", "json", "timm"), default="table",
                      help="table (default), json, or timm (arch_def tokens per stage)")
    show.set_defaults(func=_show)
