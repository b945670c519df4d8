"""Local image datasets for the data-driven proxies: a ``.npz`` file or an ImageFolder.

Nothing here downloads: a path that does not exist is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mnas.errors import MnasInputError

__all__ = ["IMAGE_EXTENSIONS", "ImageData", "load_image_data", "resize_batch"]

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif",
                                     ".tiff")
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass(frozen=True)
class ImageData:
    """Images in memory.

    Attributes:
        x: uint8 tensor ``(N, 3, H, W)``.
        y: int64 labels ``(N,)``, in ``0 .. num_classes - 1``.
        num_classes: Number of classes (max label + 1, or the folder count).
        train_mask: Bool ``(N,)``: images usable for training; the rest is held out
            (from an ``.npz`` ``split`` field, or a deterministic 20% hold-out).
        source: Where the data came from (for messages).
    """

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    train_mask: torch.Tensor
    source: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def batch(self, indices: torch.Tensor, *, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``indices`` as normalised float ``(B, 3, r, r)`` and their labels."""
        return resize_batch(self.x[indices], resolution), self.y[indices]


def resize_batch(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 ``(B, 3, H, W)`` -> float, ImageNet-normalised, resized to ``resolution``."""
    out = x.float().div_(255.0)
    if out.shape[-1] != resolution or out.shape[-2] != resolution:
        out = F.interpolate(out, size=(resolution, resolution), mode="bilinear",
                            align_corners=False, antialias=resolution < out.shape[-1])
    return (out - _MEAN) / _STD


def _holdout(n: int, fraction: float = 0.2) -> torch.Tensor:
    # deterministic: every 5th image held out
    mask = torch.ones(n, dtype=torch.bool)
    step = max(2, round(1 / fraction))
    mask[::step] = False
    return mask


def _load_npz(path: Path, limit: int | None) -> ImageData:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data.files or "y" not in data.files:
                raise MnasInputError(
                    f"dataset {path} must hold arrays 'x' (uint8 N,H,W,3) and 'y' (int labels), "
                    f"found {', '.join(data.files)}")
            x = np.asarray(data["x"])
            y = np.asarray(data["y"])
            split = np.asarray(data["split"]) if "split" in data.files else None
    except (OSError, ValueError) as err:
        if isinstance(err, MnasInputError):
            raise
        raise MnasInputError(f"cannot read dataset {path} as .npz: {err}") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise MnasInputError(
            f"dataset {path}: 'x' must be uint8 of shape (N, H, W, 3), got {x.dtype} {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise MnasInputError(
            f"dataset {path}: 'y' must be {x.shape[0]} integer labels, got {y.dtype} {y.shape}")
    if y.size and y.min() < 0:
        raise MnasInputError(f"dataset {path}: labels must be >= 0, got {int(y.min())}")
    if split is not None and split.shape == y.shape and set(np.unique(split)) >= {"train"} \
            and len(np.unique(split)) > 1:
        train = torch.from_numpy(split == "train")
    else:
        train = _holdout(len(y))
    if limit is not None:
        x, y, train = x[:limit], y[:limit], train[:limit]
    return ImageData(
        x=torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
        y=torch.from_numpy(y.astype(np.int64)),
        num_classes=int(y.max()) + 1 if y.size else 0,
        train_mask=train,
        source=str(path),
    )


def _load_folder(path: Path, limit: int | None, resolution: int) -> ImageData:
    from PIL import Image

    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise MnasInputError(
            f"dataset folder {path} must contain one sub-folder of images per class "
            "(ImageFolder layout), found none")
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        for root, _dirs, names in sorted(os.walk(path / name)):
            for file in sorted(names):
                if file.lower().endswith(IMAGE_EXTENSIONS):
                    files.append((Path(root) / file, label))
    if not files:
        raise MnasInputError(
            f"dataset folder {path} has class folders but no images "
            f"({', '.join(IMAGE_EXTENSIONS)})")
    if limit is not None and limit < len(files):
        # an even spread over the sorted list keeps every class represented
        idx = np.linspace(0, len(files) - 1, num=limit).round().astype(int)
        files = [files[i] for i in idx]
    xs = np.empty((len(files), 3, resolution, resolution), dtype=np.uint8)
    for i, (image_path, _label) in enumerate(files):
        try:
            with Image.open(image_path) as opened:
                img = opened.convert("RGB")
                w, h = img.size
                scale = resolution / min(w, h)
                size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
                img = img.resize(size, Image.Resampling.BILINEAR)
                w, h = img.size
                left, top = (w - resolution) // 2, (h - resolution) // 2
                img = img.crop((left, top, left + resolution, top + resolution))
                xs[i] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
        except OSError as err:
            raise MnasInputError(f"cannot read image {image_path}: {err}") from None
    y = torch.tensor([label for _f, label in files], dtype=torch.int64)
    return ImageData(x=torch.from_numpy(xs), y=y, num_classes=len(classes),
                     train_mask=_holdout(len(files)), source=str(path))


def load_image_data(path: str | os.PathLike[str], *, limit: int | None = None,
                    folder_resolution: int = 64) -> ImageData:
    """Load a local dataset.

    Args:
        path: A ``.npz`` file with ``x`` (uint8 ``N,H,W,3``) and ``y`` (int labels), optional
            ``split`` (``"train"``/other, used for the training proxy's hold-out), or an
            ImageFolder directory (``root/<class>/<image>``).
        limit: Keep at most this many images (the first ones of an ``.npz``; an even spread
            over an ImageFolder's sorted files).
        folder_resolution: ImageFolder images are resized (shorter side) and centre-cropped
            to this size once at load time.

    Returns:
        The images and labels.

    Raises:
        MnasInputError: Missing path, unreadable or malformed data.
    """
    p = Path(path)
    if not p.exists():
        raise MnasInputError(
            f"dataset {str(path)!r} does not exist; pass a local .npz file or ImageFolder "
            "directory (mnas never downloads data)")
    if p.is_dir():
        return _load_folder(p, limit, folder_resolution)
    if p.suffix != ".npz":
        raise MnasInputError(
            f"dataset {str(path)!r} must be a .npz file or an ImageFolder directory")
    return _load_npz(p, limit)
