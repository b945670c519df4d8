"""Reading (and, when the user asks, downloading) a once-for-all supernet checkpoint.

once-for-all's model zoo saves ``{"state_dict": {...}}`` with ``torch.save``; the names
are those of its dynamic modules, or of older releases (``.mobile_inverted_conv.``, and
``bn.``/``conv.weight``/``linear.`` without the dynamic wrappers' doubled segment). Both
are read here and renamed to :meth:`Supernet.layout`'s names; every tensor's shape is
checked against the named supernet before anything is extracted.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from mnas._limits import check_regular_file
from mnas.errors import MnasError, MnasInputError
from mnas.weights._supernets import SUPERNETS, Supernet

__all__ = ["download_checkpoint", "file_digests", "load_checkpoint"]

_COLLAPSE = ((".mobile_inverted_conv.", ".conv."), (".conv.conv.weight", ".conv.weight"),
             (".bn.bn.", ".bn."), (".linear.linear.", ".linear."))


def _collapsed(key: str) -> str:
    """A name with once-for-all's dynamic wrappers' doubled segments removed (the same
    for a name in any release's spelling)."""
    for old, new in _COLLAPSE:
        key = key.replace(old, new)
    return key


def _read_state(path: Path) -> Mapping[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise MnasInputError(
            f"supernet checkpoint {path}: it holds pickled Python objects besides tensors and "
            "was refused (mnas never unpickles code); pass once-for-all's released file") from None
    except Exception as err:  # noqa: BLE001 - any reader failure means a bad input file
        raise MnasInputError(
            f"supernet checkpoint {path}: cannot read it with torch.load "
            f"({type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}); "
            "pass once-for-all's released file") from None
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not data or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()):
        raise MnasInputError(
            f"supernet checkpoint {path}: must hold a state_dict (a mapping of names to "
            "tensors, or {'state_dict': ...} as once-for-all saves it), got something else")
    state: dict[str, torch.Tensor] = dict(data)
    if all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def _fits(layout: Mapping[str, tuple[int, ...]], state: Mapping[str, torch.Tensor]) -> bool:
    index = {_collapsed(k): k for k in layout}
    seen = set()
    for key, tensor in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        canonical = index.get(_collapsed(key))
        if canonical is None or tuple(tensor.shape) != layout[canonical]:
            return False
        seen.add(canonical)
    return len(seen) == len(layout)


def load_checkpoint(supernet: Supernet, path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The supernet's weights from a once-for-all checkpoint, in :meth:`Supernet.layout`'s
    names, float32.

    Loaded with ``torch.load(weights_only=True)``: tensors only, no pickled code.

    Raises:
        MnasInputError: The file is absent (says where to download it and what checksum
            to expect), unreadable, or its names and shapes do not fit ``supernet`` (names
            the first tensor that does not fit, and the supernet it does fit, if any).
    """
    path = Path(path)
    try:
        check_regular_file(path, what="supernet checkpoint",
                           missing_hint=supernet.download_hint())
    except MnasInputError as err:
        raise MnasInputError(f"--supernet {supernet.name}: {err}") from None
    state = _read_state(path)
    layout = supernet.layout()
    index = {_collapsed(k): k for k in layout}
    assert len(index) == len(layout), "collapsed names must stay distinct"
    out: dict[str, torch.Tensor] = {}

    def misfit(what: str) -> MnasInputError:
        other = next((s.name for s in SUPERNETS.values()
                      if s.name != supernet.name and _fits(s.layout(), state)), None)
        hint = (f"it is a checkpoint of {other}: name that supernet instead" if other else
                f"pass once-for-all's {supernet.ofa_id} checkpoint")
        return MnasInputError(f"supernet checkpoint {path} does not fit {supernet.name}: "
                              f"{what}; {hint}")

    for key, tensor in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        canonical = index.get(_collapsed(key))
        if canonical is None:
            raise misfit(f"unexpected tensor {key!r}")
        if tuple(tensor.shape) != layout[canonical]:
            raise misfit(f"{key!r} has shape {tuple(tensor.shape)}, expected "
                         f"{layout[canonical]}")
        if not tensor.is_floating_point():
            raise misfit(f"{key!r} is {str(tensor.dtype).removeprefix('torch.')}, not floating "
                         "point")
        if not bool(torch.isfinite(tensor).all()):
            raise MnasInputError(f"supernet checkpoint {path}: tensor {key!r} holds NaN or "
                                 "infinite values; download the checkpoint again")
        out[canonical] = tensor.detach().to(torch.float32)
    missing = [k for k in layout if k not in out]
    if missing:
        more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        raise misfit(f"tensor {missing[0]!r} is missing{more}")
    return out


def file_digests(path: str | os.PathLike[str]) -> tuple[str, str]:
    """``(sha256, git blob id)`` of a file (the blob id is the SHA-1 of ``"blob <size>\\0"``
    followed by the bytes, what a git repository records for the file)."""
    path = Path(path)
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


def _check_digests(supernet: Supernet, path: Path) -> str:
    sha256, blob = file_digests(path)
    if supernet.sha256 is not None and sha256 != supernet.sha256:
        raise MnasError(f"{path}: sha256 {sha256} differs from the expected {supernet.sha256}")
    if supernet.sha256 is None and blob != supernet.git_blob:
        raise MnasError(f"{path}: git blob id {blob} differs from the released file's "
                        f"{supernet.git_blob}")
    return sha256


def download_checkpoint(supernet: Supernet, folder: str | os.PathLike[str], *,
                        force: bool = False,
                        opener: Callable[[str], object] = urllib.request.urlopen) -> Path:
    """Download the supernet's checkpoint into ``folder`` (a user's choice, never a
    default), checking its checksum before the file is put in place.

    Returns:
        The checkpoint's path, ``folder/<ofa_id>``.

    Raises:
        MnasInputError: The file exists and ``force`` is not set.
        MnasError: The download failed or its checksum differs (nothing is left behind).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / supernet.ofa_id
    if dest.exists() and not force:
        raise MnasInputError(f"{dest} already exists; pass --force to download it again, or "
                             f"use it: --supernet {supernet.name}={dest}")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{supernet.ofa_id}.", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = opener(supernet.url)
                with response as stream:  # type: ignore[attr-defined]
                    done = 0
                    while chunk := stream.read(1 << 20):
                        out.write(chunk)
                        done += len(chunk)
                        print(f"\r{supernet.ofa_id}: {done / 1e6:.1f} MB", end="",
                              file=sys.stderr, flush=True)
                    print(file=sys.stderr)
            except OSError as err:
                raise MnasError(f"downloading {supernet.url} failed ({err}); check the "
                                "network, or download it by hand and pass its path") from None
        sha256 = _check_digests(supernet, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"{dest}: checksum verified (sha256 {sha256})", file=sys.stderr)
    return dest
