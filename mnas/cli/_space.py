"""``mnas space show|sample``: inspect and sample search spaces."""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from mnas.cli._common import add_command_group, print_json
from mnas.errors import MnasInputError

__all__ = ["register"]


def _show(args: argparse.Namespace) -> int:
    from mnas.spaces import load_space

    space = load_space(args.space)
    data: dict[str, Any] = {
        "name": space.name, "description": space.description,
        "size": space.size(), "log10_size": round(space.log10_size(), 2),
        "resolutions": list(space.resolutions), "widths": list(space.widths),
        "stem": {"channels": space.stem.channels, "stride": space.stem.stride,
                 "act": space.stem.act},
        "stages": [{"type": st.type, "channels": list(st.channels), "stride": st.stride,
                    "depth": list(st.depth), "kernel": list(st.kernel),
                    "expansion": list(st.expansion) if st.type == "ir" else None,
                    "se": list(st.se), "act": list(st.act), "share": st.share}
                   for st in space.stages],
        "parameters": space.parameter_names(),
    }
    if args.json:
        print_json(data)
        return 0
    print(f"{space.name}: {space.description}")
    print(f"size: {space.size():.3e} architectures; resolution {list(space.resolutions)}, "
          f"width {list(space.widths)}")
    print(f"stem: {space.stem.channels} ch, stride {space.stem.stride}, {space.stem.act}")
    for fixed in space.before:
        print(f"  fixed {fixed.type} -> {fixed.channels} k{fixed.kernel} s{fixed.stride} "
              f"{fixed.act}")
    for s, st in enumerate(space.stages, start=1):
        expansion = f" e{list(st.expansion)}" if st.type == "ir" else ""
        shared = " (shared per stage)" if st.share else ""
        print(f"  s{s}: {st.type} -> {list(st.channels)} stride {st.stride} depth "
              f"{list(st.depth)} k{list(st.kernel)}{expansion} se{list(st.se)} "
              f"{list(st.act)}{shared}")
    for fixed in space.after:
        print(f"  fixed {fixed.type} -> {fixed.channels} k{fixed.kernel} s{fixed.stride} "
              f"{fixed.act}")
    head = space.head
    print(f"head: {head.type} conv={head.channels} hidden={head.hidden} {head.act}")
    print(f"{len(data['parameters'])} parameters, e.g. {', '.join(data['parameters'][:4])}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from mnas.arch import save_arch
    from mnas.spaces import load_space

    if args.n < 1:
        raise MnasInputError(f"--n must be >= 1, got {args.n}")
    space = load_space(args.space)
    rng = random.Random(args.seed)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise MnasInputError(f"{out} exists and is not a folder; pass a folder to -o")
    written = []
    for i in range(1, args.n + 1):
        arch = space.random_arch(rng).replace(name=f"{space.name}-seed{args.seed}-{i:03d}")
        written.append(str(save_arch(arch, out / f"{arch.name}.json")))
    if args.json:
        print_json(written)
    else:
        print(f"wrote {len(written)} arch files to {out}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``mnas space``."""
    verbs = add_command_group(subparsers, "space", help="inspect and sample search spaces",
                              description="Search spaces: a shipped name (search_spaces/) or "
                                          "a YAML file.")
    show = verbs.add_parser(
        "show", help="skeleton, choices and size of a space",
        description="Print a search space's skeleton (stages and fixed blocks), every choice "
                    "with its flat parameter name, and the number of architectures.")
    show.add_argument("space", metavar="NAME|FILE", help="space name or YAML file")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)
    sample = verbs.add_parser(
        "sample", help="write K random arch files",
        description="Draw K random architectures of a space (seeded) and write each as an "
                    "mnas-arch/1 JSON file.")
    sample.add_argument("space", metavar="NAME|FILE", help="space name or YAML file")
    sample.add_argument("--n", type=int, default=10, help="number of archs (default 10)")
    sample.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    sample.add_argument("-o", "--output", required=True, metavar="DIR")
    sample.add_argument("--json", action="store_true", help="print the written paths as JSON")
    sample.set_defaults(func=_sample)
