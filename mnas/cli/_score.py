"""``mnas score``: accuracy-proxy scores of one or more architectures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mnas.arch import Arch, load_arch
from mnas.errors import MnasInputError

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
    from mnas.proxies import DEFAULT_PROXY, list_proxies

    parser = subparsers.add_parser(
        "score", help="score architectures with an accuracy proxy",
        description="Score architectures with an accuracy proxy (higher = better). "
        f"Proxies: {', '.join(list_proxies())}; default {DEFAULT_PROXY} (data-free). "
        "naswot, zico and train need --data.")
    parser.add_argument("--arch", nargs="+", required=True, metavar="NAME|FILE",
                        help="zoo names or mnas-arch/1 JSON files")
    parser.add_argument("--proxy", default=DEFAULT_PROXY, metavar="P",
                        help=f"proxy name (default {DEFAULT_PROXY})")
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
    """Score every ``--arch`` with ``--proxy`` and print the results."""
    from mnas.proxies import get_proxy, proxy_class

    cls = proxy_class(args.proxy)
    kwargs: dict[str, Any] = {"seed": args.seed}
    if args.data is not None:
        if not cls.needs_data:
            raise MnasInputError(
                f"proxy {args.proxy!r} is data-free and takes no --data; drop --data or "
                "choose a data-driven proxy (naswot, zico, train)")
        kwargs["data"] = args.data
    if args.resolution is not None:
        kwargs["resolution"] = args.resolution
    archs = [(name, _resolve(name)) for name in args.arch]
    proxy = get_proxy(args.proxy, **kwargs)
    results = [{"score": proxy.score(arch), "proxy": args.proxy, "arch": name}
               for name, arch in archs]
    if args.json:
        from mnas.cli._common import print_json

        print_json(results[0] if len(results) == 1 else results)
    else:
        width = max(len(name) for name in args.arch)
        for row in results:
            print(f"{row['arch']:<{width}}  {row['proxy']}  {row['score']:.6g}")
    return 0
