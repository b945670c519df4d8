"""``mnas weights list|download|extract``: trained weights from once-for-all's supernets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mnas.cli._common import positive_int
from mnas.errors import MnasInputError

__all__ = ["register"]


def _supernet_arg(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(
            f"must be NAME=PATH (e.g. ofa-mbv3-w1.2=ofa_mbv3_d234_e346_k357_w1.2), got {text!r}")
    return name, path


def _run_list(args: argparse.Namespace) -> int:
    from mnas.cli._common import print_json
    from mnas.weights._supernets import RELEASE_COMMIT, SUPERNETS

    rows = [{"name": s.name, "ofa_id": s.ofa_id, "url": s.url, "git_blob": s.git_blob,
             "sha256": s.sha256, "space": f"{s.slots} block slots, kernel 3/5/7, expansion "
                                          "3/4/6, depth 2/3/4 per stage"}
            for s in SUPERNETS.values()]
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(f"{row['name']}: once-for-all {row['ofa_id']} ({row['space']})")
        print(f"  {row['url']}")
        print(f"  git blob {row['git_blob']} (han-cai/files at {RELEASE_COMMIT}); sha256 "
              f"{row['sha256'] or 'not published (printed after a checked download)'}")
    return 0


def _run_download(args: argparse.Namespace) -> int:
    from mnas.weights._checkpoint import download_checkpoint
    from mnas.weights._supernets import get_supernet

    supernet = get_supernet(args.name)
    path = download_checkpoint(supernet, args.output, force=args.force)
    print(f"{path}\nuse it: mnas weights extract --supernet {supernet.name}={path} --arch ARCH")
    return 0


def _load_arch_or_ofa_config(source: str, supernet: Any) -> tuple[Any, bool]:
    """The Arch ``--arch`` names, and whether it came from a once-for-all subnet config."""
    from mnas.cli._export import resolve_source

    path = Path(source)
    if path.is_file() and path.suffix == ".json":
        from mnas._limits import load_json_file

        data = load_json_file(path, what="arch file")
        if isinstance(data, dict) and {"ks", "e", "d"} <= set(data):
            subnet = supernet.subnet_from_ofa_config(data)
            return supernet.arch(subnet, name=f"{supernet.name}-{path.stem}"), True
    return resolve_source(source), False


def _default_output(source: str, arch_name: str, supernet_name: str) -> Path:
    path = Path(source)
    if path.is_dir():
        return path / "best" / f"weights-{supernet_name}.pt"
    if path.is_file():
        return path.with_name(f"{path.stem}.{supernet_name}.pt")
    return Path(f"{arch_name}.{supernet_name}.pt")


def _run_extract(args: argparse.Namespace) -> int:
    from mnas.arch import save_arch
    from mnas.cli._common import print_json
    from mnas.weights._api import check_destination, save_weights, subnet_weights
    from mnas.weights._supernets import get_supernet

    name, checkpoint = args.supernet
    supernet = get_supernet(name)
    arch, from_ofa = _load_arch_or_ofa_config(args.arch, supernet)
    output = Path(args.output) if args.output else _default_output(args.arch, arch.name,
                                                                   supernet.name)
    check_destination(output, force=args.force)
    arch_out = output.with_name(output.stem + ".arch.json") if from_ofa else None
    if arch_out is not None and arch_out.exists() and not args.force:
        raise MnasInputError(f"{arch_out} already exists; pass --force to overwrite it, or "
                             "choose another -o path")
    result = subnet_weights(supernet, checkpoint, arch, data=args.data,
                            bn_images=args.bn_images, batch_size=args.batch_size,
                            seed=args.seed, preprocess=args.bn_preprocess, split=args.split,
                            device=args.device)
    path, record = save_weights(result, output, force=args.force)
    if arch_out is not None:
        save_arch(arch, arch_out)
    if args.json:
        print_json({**result.to_dict(), "path": str(path), "record": str(record),
                    "arch_file": str(arch_out) if arch_out else None})
        return 0
    print(f"wrote {path} (state_dict of mnas's model of {arch.name!r}, from {supernet.ofa_id})")
    print(f"wrote {record} (how it was made)")
    if arch_out is not None:
        print(f"wrote {arch_out} (the architecture of the once-for-all config)")
    bn = result.batchnorm
    if bn is not None:
        print(f"BatchNorm recalibrated on {bn.images} images of {bn.data} (batch {bn.batch_size}, "
              f"{bn.preprocess} preprocessing, seed {bn.seed}) on {bn.device} in "
              f"{bn.seconds:.1f} s")
    for note in result.notes():
        print(f"note: {note}")
    arch_ref = str(arch_out) if arch_out is not None else args.arch
    print(f"next: mnas evaluate --weights {path} --arch {arch_ref} --data VAL_IMAGES; "
          f"mnas export {arch_ref} --weights {path} --format tflite -o model.tflite")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``mnas weights`` to the CLI."""
    from mnas.cli._common import add_command_group

    verbs = add_command_group(
        subparsers, "weights", help="trained weights from once-for-all's supernets "
                                    "(extract a subnet, recalibrate BatchNorm)",
        description="Architectures of once-for-all's spaces have ImageNet weights in its "
                    "released supernets (see docs/weights.md).")
    listing = verbs.add_parser(
        "list", help="the known supernets, their URLs and checksums",
        description="List once-for-all's released supernets mnas can take weights from: name, "
                    "space, download URL and the checksum a download is held to.")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_run_list)

    download = verbs.add_parser(
        "download", help="download a supernet checkpoint (checksum checked before it is kept)",
        description="Download a supernet checkpoint from once-for-all's release into DIR; the "
                    "file is kept only when its checksum matches (a local copy works as well: "
                    "pass its path to `weights extract --supernet NAME=PATH`).")
    download.add_argument("name", metavar="NAME", help="ofa-mbv3-w1.0, ofa-mbv3-w1.2 or "
                                                       "ofa-proxyless-w1.3")
    download.add_argument("-o", "--output", required=True, metavar="DIR",
                          help="folder to put it in")
    download.add_argument("--force", action="store_true", help="download again over a file")
    download.set_defaults(func=_run_download)

    extract = verbs.add_parser(
        "extract", help="a subnet's weights as a state_dict of mnas's model, BatchNorm "
                        "recalibrated on your images",
        description="Cut ARCH's weights out of a supernet checkpoint (depth: first blocks; "
                    "expansion: leading channels; kernel: the centre through the learned "
                    "kernel-transformation matrices), then re-estimate BatchNorm statistics "
                    "on --data as once-for-all does. Writes PATH and PATH.json.")
    extract.add_argument("--supernet", required=True, type=_supernet_arg, metavar="NAME=PATH",
                         help="supernet name and the checkpoint file once-for-all released "
                              "(`mnas weights list`)")
    extract.add_argument("--arch", required=True, metavar="ARCH",
                         help="a run folder (its best), an arch file, a zoo name, or a "
                              "once-for-all subnet config JSON ({\"ks\", \"e\", \"d\", \"r\"})")
    extract.add_argument("-o", "--output", default=None, metavar="PATH",
                         help="weights file (.pt or .safetensors); default: RUN/best/"
                              "weights-NAME.pt, or ARCH.NAME.pt beside an arch file")
    extract.add_argument("--data", default=None, metavar="DIR|FILE.npz",
                         help="training images to recalibrate BatchNorm on (ImageFolder or "
                              ".npz); without it the supernet's statistics are kept")
    extract.add_argument("--bn-images", type=positive_int, default=2000, metavar="N",
                         help="images for the recalibration, drawn at random (default 2000)")
    extract.add_argument("--batch-size", type=positive_int, default=100, metavar="B",
                         help="batch size of the recalibration (default 100)")
    extract.add_argument("--bn-preprocess", choices=("ofa", "eval"), default="ofa",
                         help="ofa: once-for-all's random resized crop, flip, colour jitter "
                              "(default); eval: the evaluation centre crop")
    extract.add_argument("--split", default=None, metavar="NAME",
                         help="with a .npz holding a 'split' array: use that split's images")
    extract.add_argument("--seed", type=int, default=0, help="seed of image choice and "
                                                              "augmentation (default 0)")
    extract.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    extract.add_argument("--force", action="store_true", help="overwrite existing files")
    extract.add_argument("--json", action="store_true", help="print the result as JSON")
    extract.set_defaults(func=_run_extract)
