"""``mnas export SOURCE --format F -o PATH``: write an architecture in a deployable format."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnas.arch import Arch, load_arch
from mnas.cli._common import positive_int
from mnas.errors import MnasInputError

__all__ = ["register", "resolve_source"]

_FORMATS = ("pytorch", "torchvision", "timm", "state_dict", "torchscript", "onnx", "executorch",
            "tflite")


def resolve_source(source: str, rank: int | None = None) -> Arch:
    """The architecture SOURCE names: a run folder (best, or ``rank``), an arch file or a zoo name.

    Raises:
        MnasInputError: Naming what SOURCE is missing and how to fix it.
    """
    from mnas.cli._common import resolve_arch

    folder = Path(source)
    if folder.is_dir():
        if rank is None:
            best = folder / "best" / "arch.json"
            if not best.is_file():
                raise MnasInputError(
                    f"{folder} is a folder but not a finished run: {best} is missing; pass a "
                    "run folder of `mnas search`, an arch file or a zoo name")
            return load_arch(best)
        ranked = folder / "top" / f"rank_{rank:02d}.json"
        if not ranked.is_file():
            have = sorted(p.stem.removeprefix("rank_")
                          for p in (folder / "top").glob("rank_*.json"))
            raise MnasInputError(
                f"run {folder} has no architecture of rank {rank} ({ranked} is missing); "
                f"ranks available: {', '.join(str(int(r)) for r in have if r.isdigit()) or 'none'}")
        return load_arch(ranked)
    if rank is not None:
        raise MnasInputError(f"--rank applies to a run folder, but {source!r} is not a folder; "
                             "drop --rank or pass a run folder")
    return resolve_arch(source)


def _opset(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    from mnas.cli._common import print_json
    from mnas.export import export

    arch = resolve_source(args.source, args.rank)
    result = export(arch, format=args.format, path=args.output, weights=args.weights,
                    force=args.force, opset=args.opset)
    if args.json:
        print_json(result.to_dict())
    else:
        print("\n".join(result.summary_lines()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``mnas export`` to the CLI."""
    parser = subparsers.add_parser(
        "export", help="write an architecture as PyTorch/torchvision/timm source, "
                       "state_dict, TorchScript, ONNX, ExecuTorch or LiteRT, checked",
        description="Write an architecture in one format. Every file is loaded again in a "
                    "fresh process and compared with mnas's model on a seeded batch (max abs "
                    "diff <= 1e-4) before it is put in place; ONNX, ExecuTorch and LiteRT files "
                    "are also timed on this host.")
    parser.add_argument("source", metavar="SOURCE",
                        help="a run folder (its best architecture, or --rank K), an arch file "
                             "or a zoo name")
    parser.add_argument("--format", "-f", required=True, choices=_FORMATS,
                        help="pytorch: standalone .py needing torch only; torchvision: .py "
                             "building torchvision's MobileNetV3/V2; timm: .py with timm's "
                             "arch_def; state_dict: .safetensors; torchscript: .pt; onnx; "
                             "executorch: .pte (XNNPACK); tflite: LiteRT .tflite (NCHW)")
    parser.add_argument("-o", "--output", required=True, metavar="PATH", help="file to write")
    parser.add_argument("--rank", type=positive_int, default=None, metavar="K",
                        help="with a run folder: export its K-th best architecture")
    parser.add_argument("--weights", metavar="FILE", default=None,
                        help="state_dict of mnas's model of this arch (.safetensors or .pt); "
                             "for the .py formats it is written beside PATH as <name>.pt")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--opset", type=_opset, default=None, metavar="N",
                        help="ONNX opset (default 17)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)
