"""``subnet_weights``: checkpoint -> a subnet's state_dict -> recalibrated BatchNorm -> file.

What :command:`mnas weights extract` runs; each step is a function of its own module
(:mod:`._checkpoint`, :mod:`._extract`, :mod:`._batchnorm`).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mnas._io import atomic_write_bytes, atomic_write_json
from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.weights._supernets import TRAINED_RESOLUTIONS, Supernet

__all__ = ["BatchNormCalibration", "SubnetWeights", "check_destination", "save_weights",
           "subnet_weights"]

WEIGHTS_FORMAT = "mnas-weights/1"
"""``format`` of the JSON written beside a weights file (``<weights>.json``)."""


@dataclass(frozen=True, kw_only=True)
class BatchNormCalibration:
    """How BatchNorm statistics were re-estimated.

    Attributes:
        data: The images in words.
        images: Images seen.
        batch_size: Images per batch (each batch's statistics are one estimate).
        preprocess: ``ofa`` (once-for-all's augmentation) or ``eval`` (centre crop).
        seed: Seed of the image choice and the augmentation.
        device: Where it ran.
        seconds: Wall-clock time.
    """

    data: str
    images: int
    batch_size: int
    preprocess: str
    seed: int
    device: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class SubnetWeights:
    """A subnet's weights cut from a supernet.

    Attributes:
        arch: The architecture.
        supernet: The supernet.
        state_dict: For ``mnas.build(arch)``.
        checkpoint: The checkpoint's path.
        batchnorm: The recalibration, or None (statistics are the supernet's).
    """

    arch: Arch
    supernet: Supernet
    state_dict: dict[str, torch.Tensor]
    checkpoint: str
    batchnorm: BatchNormCalibration | None

    @property
    def recipe(self) -> str:
        """``ofa-mbv3-w1.2+bnrecal`` (or the supernet's name without recalibration)."""
        return self.supernet.name + ("+bnrecal" if self.batchnorm else "")

    def notes(self) -> list[str]:
        """Caveats a user must read."""
        out = []
        low, high = TRAINED_RESOLUTIONS
        if not low <= self.arch.resolution <= high:
            out.append(f"resolution {self.arch.resolution} is outside the {low}-{high} px "
                       "the supernet was trained at: expect lower accuracy")
        if self.batchnorm is None:
            out.append("BatchNorm statistics are the supernet's (its largest subnet's): "
                       "recalibrate with --data TRAIN_IMAGES before measuring or shipping")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON record written beside the weights file."""
        bn = None
        if self.batchnorm is not None:
            b = self.batchnorm
            bn = {"data": b.data, "images": b.images, "batch_size": b.batch_size,
                  "preprocess": b.preprocess, "seed": b.seed, "device": b.device,
                  "seconds": round(b.seconds, 2),
                  "statistic": "once-for-all's: image-weighted mean of batch means and "
                               "biased batch variances"}
        return {"format": WEIGHTS_FORMAT, "supernet": self.supernet.name,
                "ofa_id": self.supernet.ofa_id, "checkpoint": self.checkpoint,
                "recipe": self.recipe, "batchnorm": bn, "notes": self.notes(),
                "arch": self.arch.to_dict()}


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MnasInputError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def subnet_weights(supernet: Supernet, checkpoint: str | os.PathLike[str], arch: Arch, *,
                   data: str | os.PathLike[str] | None = None, bn_images: int = 2000,
                   batch_size: int = 100, seed: int = 0, preprocess: str = "ofa",
                   split: str | None = None, device: str | None = None,
                   weights: Mapping[str, torch.Tensor] | None = None) -> SubnetWeights:
    """``arch``'s weights from a supernet checkpoint, BatchNorm recalibrated on ``data``.

    Args:
        supernet: The supernet the checkpoint is of.
        checkpoint: once-for-all's checkpoint file.
        arch: A subnet of ``supernet``.
        data: Images to recalibrate BatchNorm on (``.npz`` or ImageFolder); None keeps the
            supernet's statistics.
        bn_images: At most this many images, chosen at random (seeded, no repeats).
        batch_size: Images per batch.
        seed: Seeds the choice of images and the augmentation.
        preprocess: ``ofa`` (once-for-all's calibration augmentation) or ``eval``.
        split: For a ``.npz`` with a ``split`` array, the split to use.
        device: ``cpu``/``cuda``; default CUDA when present.
        weights: The checkpoint already loaded (:func:`load_checkpoint`), to skip reading it.

    Raises:
        MnasInputError: Bad checkpoint, an arch outside the supernet, bad data.
    """
    from mnas.evaluation import calibration_batches, open_images, pick_device
    from mnas.models import build
    from mnas.weights._batchnorm import recalibrate_batchnorm
    from mnas.weights._checkpoint import load_checkpoint
    from mnas.weights._extract import extract_subnet

    supernet.match(arch)  # a misfit is reported before the checkpoint is read
    _check_positive("bn_images", bn_images)
    _check_positive("batch_size", batch_size)
    images = open_images(data, split=split) if data is not None else None
    if weights is None:
        weights = load_checkpoint(supernet, checkpoint)
    state = extract_subnet(weights, supernet, arch)
    calibration = None
    if images is not None:
        run_on = pick_device(device)
        model = build(arch)
        model.load_state_dict(state)
        model.to(run_on)
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(len(images), generator=generator)[:bn_images].tolist()
        start = time.perf_counter()
        seen = recalibrate_batchnorm(model, calibration_batches(
            images, chosen, resolution=arch.resolution, batch_size=batch_size,
            preprocess=preprocess, seed=seed))
        calibration = BatchNormCalibration(
            data=images.describe(), images=seen, batch_size=batch_size, preprocess=preprocess,
            seed=seed, device=str(run_on), seconds=time.perf_counter() - start)
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return SubnetWeights(arch=arch, supernet=supernet, state_dict=state,
                         checkpoint=str(checkpoint), batchnorm=calibration)


def check_destination(path: str | os.PathLike[str], *, force: bool = False) -> tuple[Path, Path]:
    """The weights file and its record ``<path>.json``, refused before any work is done
    when the suffix is wrong or a file exists (without ``force``)."""
    path = Path(path)
    record = path.with_name(path.name + ".json")
    if path.suffix not in (".pt", ".pth", ".safetensors"):
        raise MnasInputError(f"weights path {str(path)!r} must end in .pt, .pth or "
                             ".safetensors; change -o")
    for file in (path, record):
        if file.is_dir():
            raise MnasInputError(f"{file} is a folder; give a file path with -o")
        if file.exists() and not force:
            raise MnasInputError(f"{file} already exists; pass --force to overwrite it, or "
                                 "choose another -o path")
    return path, record


def save_weights(result: SubnetWeights, path: str | os.PathLike[str], *,
                 force: bool = False) -> tuple[Path, Path]:
    """Write the state_dict (``.pt`` with ``torch.save``, or ``.safetensors``) and its JSON
    record ``<path>.json``, each atomically.

    Raises:
        MnasInputError: ``path`` exists and ``force`` is not set, or a bad suffix.
    """
    path, record = check_destination(path, force=force)
    state = {k: v.contiguous() for k, v in result.state_dict.items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save

        data = save(state)
    else:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_json(record, result.to_dict())
    return path, record
