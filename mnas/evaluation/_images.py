"""Labelled images read from the user's disk, batched with the standard ImageNet
preprocessing.

Two layouts: an ImageFolder (``root/<class>/<image>``; classes numbered in sorted folder
order, which for ImageNet's wnid folders is the standard class index) read image by
image as batches are needed, or a ``.npz`` with ``x`` (uint8 ``N,H,W,3``), ``y`` (int
labels) and optionally ``split`` (a string per image) held in memory.

Evaluation preprocessing (:func:`eval_batches`) is the one of once-for-all, timm and
torchvision: resize the shorter side to ``ceil(r / crop)`` (bilinear, antialiased),
centre-crop ``r x r``, scale to [0, 1], normalise with ImageNet's mean and std.
BatchNorm calibration (:func:`calibration_batches`) uses once-for-all's training
augmentation by default (random resized crop, horizontal flip, colour jitter).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnas.errors import MnasInputError

__all__ = [
    "CALIBRATION_PREPROCESS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageSet",
    "calibration_batches",
    "describe_eval_preprocess",
    "eval_batches",
    "open_images",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
CALIBRATION_PREPROCESS: tuple[str, ...] = ("ofa", "eval")
"""``ofa``: once-for-all's calibration augmentation; ``eval``: the evaluation crop."""


@dataclass(frozen=True)
class ImageSet:
    """Labelled images on disk or in memory.

    Attributes:
        source: The path they come from.
        labels: int64 ``(N,)``.
        arrays: uint8 ``(N, 3, H, W)`` for a ``.npz``; None for a folder.
        files: Image paths for a folder; empty for a ``.npz``.
        kind: ``npz`` or ``folder``.
        split: The ``.npz`` split kept (None: every image).
    """

    source: str
    labels: torch.Tensor
    arrays: torch.Tensor | None
    files: tuple[Path, ...]
    kind: str
    split: str | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def describe(self) -> str:
        """``/data/val (ImageFolder, 50000 images)``."""
        what = "ImageFolder" if self.kind == "folder" else ".npz"
        split = f", split {self.split!r}" if self.split else ""
        return f"{self.source} ({what}{split}, {len(self)} images)"

    def load(self, index: int) -> object:
        """Image ``index``: a uint8 ``(3, H, W)`` tensor (``.npz``) or an RGB PIL image."""
        if self.arrays is not None:
            return self.arrays[index]
        from PIL import Image

        path = self.files[index]
        try:
            with Image.open(path) as opened:
                return opened.convert("RGB")
        except OSError as err:
            raise MnasInputError(f"cannot read image {path}: {err}; remove or replace it") \
                from None


def _open_npz(path: Path, split: str | None) -> ImageSet:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data.files or "y" not in data.files:
                raise MnasInputError(f"dataset {path} must hold arrays 'x' (uint8 N,H,W,3) and "
                                     f"'y' (integer labels), found {', '.join(data.files)}")
            x, y = np.asarray(data["x"]), np.asarray(data["y"])
            splits = np.asarray(data["split"]) if "split" in data.files else None
    except (OSError, ValueError) as err:
        if isinstance(err, MnasInputError):
            raise
        raise MnasInputError(f"cannot read dataset {path} as .npz: {err}") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:3], default=0) < 1:
        raise MnasInputError(f"dataset {path}: 'x' must be uint8 of shape (N, H, W, 3), got "
                             f"{x.dtype} {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise MnasInputError(f"dataset {path}: 'y' must be {x.shape[0]} integer labels, got "
                             f"{y.dtype} {y.shape}")
    if y.size and y.min() < 0:
        raise MnasInputError(f"dataset {path}: labels must be >= 0, got {int(y.min())}")
    if split is not None:
        if splits is None or splits.shape != y.shape:
            raise MnasInputError(f"dataset {path} has no 'split' array (one string per image); "
                                 "drop --split")
        keep = splits == split
        if not keep.any():
            raise MnasInputError(f"dataset {path}: no image of split {split!r}; splits: "
                                 f"{', '.join(sorted(map(str, np.unique(splits))))}")
        x, y = x[keep], y[keep]
    return ImageSet(source=str(path), labels=torch.from_numpy(y.astype(np.int64)),
                    arrays=torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
                    files=(), kind="npz", split=split)


def _open_folder(path: Path, split: str | None) -> ImageSet:
    if split is not None:
        raise MnasInputError(f"--split selects images of a .npz, but {path} is a folder; pass "
                             "the split's own folder (e.g. val/) and drop --split")
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise MnasInputError(f"dataset folder {path} must contain one sub-folder of images per "
                             "class (ImageFolder layout), found none")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        for root, _dirs, names in sorted(os.walk(path / name)):
            for file in sorted(names):
                if file.lower().endswith(_EXTENSIONS):
                    files.append(Path(root) / file)
                    labels.append(label)
    if not files:
        raise MnasInputError(f"dataset folder {path} has class folders but no images "
                             f"({', '.join(_EXTENSIONS)})")
    return ImageSet(source=str(path), labels=torch.tensor(labels, dtype=torch.int64),
                    arrays=None, files=tuple(files), kind="folder")


def open_images(path: str | os.PathLike[str], *, split: str | None = None) -> ImageSet:
    """Labelled images of a ``.npz`` file or an ImageFolder directory (nothing downloads).

    Args:
        path: The dataset.
        split: For a ``.npz`` with a ``split`` array: keep only images of this split.

    Raises:
        MnasInputError: Missing path, unreadable or malformed data, unknown split.
    """
    p = Path(path)
    if not p.exists():
        raise MnasInputError(f"dataset {str(path)!r} does not exist; pass a local .npz file or "
                             "ImageFolder directory (mnas never downloads data)")
    if p.is_dir():
        return _open_folder(p, split)
    if p.suffix != ".npz":
        raise MnasInputError(f"dataset {str(path)!r} must be a .npz file or an ImageFolder "
                             "directory")
    return _open_npz(p, split)


def check_crop(crop: float) -> float:
    """``crop`` as a fraction in (0, 1] (the centre crop's share of the resized side)."""
    if isinstance(crop, bool) or not isinstance(crop, int | float) or not 0 < crop <= 1:
        raise MnasInputError(f"crop fraction must be a number in (0, 1], got {crop!r}")
    return float(crop)


def _resize_side(resolution: int, crop: float) -> int:
    return int(math.ceil(resolution / crop - 1e-9))


def describe_eval_preprocess(resolution: int, crop: float) -> str:
    """The evaluation preprocessing in words."""
    side = _resize_side(resolution, crop)
    return (f"shorter side resized to {side} (bilinear, antialiased), centre crop "
            f"{resolution}x{resolution} (crop fraction {crop:g}), ImageNet mean/std "
            "normalisation")


def _normalise(batch: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch.float().div_(255.0) - mean) / std


def _to_uint8(image: object) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        return image
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy())


def eval_batches(images: ImageSet, indices: Sequence[int], *, resolution: int, crop: float,
                 batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Deterministic evaluation batches ``(images (B,3,r,r) float, labels (B,))``."""
    from torchvision.transforms import v2

    side = _resize_side(resolution, check_crop(crop))
    transform = v2.Compose([v2.Resize(side, antialias=True), v2.CenterCrop(resolution)])
    for start in range(0, len(indices), batch_size):
        chunk = list(indices[start:start + batch_size])
        batch = torch.stack([_to_uint8(transform(images.load(i))) for i in chunk])
        yield _normalise(batch), images.labels[chunk]


def calibration_batches(images: ImageSet, indices: Sequence[int], *, resolution: int,
                        batch_size: int, preprocess: str = "ofa", crop: float = 0.875,
                        seed: int = 0) -> Iterator[torch.Tensor]:
    """Batches for BatchNorm calibration.

    ``preprocess="ofa"`` is once-for-all's calibration augmentation: random resized crop to
    ``resolution`` (scale 0.08-1, aspect 3/4-4/3), random horizontal flip, colour jitter
    (brightness 32/255, saturation 0.5), drawn from ``seed``; ``"eval"`` is the
    evaluation crop of :func:`eval_batches`.
    """
    from torchvision.transforms import v2

    if preprocess not in CALIBRATION_PREPROCESS:
        raise MnasInputError(f"BatchNorm preprocessing must be one of "
                             f"{', '.join(CALIBRATION_PREPROCESS)}, got {preprocess!r}")
    if preprocess == "eval":
        for batch, _labels in eval_batches(images, indices, resolution=resolution, crop=crop,
                                           batch_size=batch_size):
            yield batch
        return
    transform = v2.Compose([
        v2.RandomResizedCrop(resolution, antialias=True), v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=32.0 / 255.0, saturation=0.5)])
    # the augmentation draws from torch's global generator: run it on a state of its own,
    # seeded, and give the caller's state back between batches
    own = torch.Generator().manual_seed(seed).get_state()
    for start in range(0, len(indices), batch_size):
        chunk = list(indices[start:start + batch_size])
        caller = torch.get_rng_state()
        torch.set_rng_state(own)
        try:
            batch = torch.stack([_to_uint8(transform(images.load(i))) for i in chunk])
        finally:
            own = torch.get_rng_state()
            torch.set_rng_state(caller)
        yield _normalise(batch)
