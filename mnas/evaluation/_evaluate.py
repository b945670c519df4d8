"""Measured accuracy: a model with weights, evaluated on the user's labelled images."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mnas.errors import MnasInputError
from mnas.evaluation._images import ImageSet, describe_eval_preprocess, eval_batches

__all__ = ["Evaluation", "evaluate_model", "pick_device", "wilson_interval"]

_Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, trials: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson's score interval of a binomial proportion (Wilson, JASA 1927), as fractions.

    Unlike the normal approximation it stays inside [0, 1] and is sound at 0 or n
    successes and for small n.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pick_device(name: str | None = None) -> torch.device:
    """``name``, else CUDA when present, else the CPU."""
    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise MnasInputError(f"unknown device {name!r}; pass cpu or cuda") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise MnasInputError(f"device {name!r} asked for, but CUDA is not available here; "
                                 "pass --device cpu")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """Top-1 / top-5 of a model on labelled images.

    Attributes:
        images: Images evaluated.
        top1_correct: Images whose label is the top prediction.
        top5_correct: Images whose label is among the top ``k`` (``k = min(5, classes)``).
        k: The ``k`` of "top-5".
        data: The images in words (path, layout, count).
        preprocess: The preprocessing in words.
        resolution: Input size.
        device: Where it ran.
    """

    images: int
    top1_correct: int
    top5_correct: int
    k: int
    data: str
    preprocess: str
    resolution: int
    device: str

    @property
    def top1(self) -> float:
        """Top-1 accuracy in percent."""
        return 100.0 * self.top1_correct / self.images

    @property
    def top5(self) -> float:
        """Top-5 accuracy in percent."""
        return 100.0 * self.top5_correct / self.images

    def interval(self, which: str = "top1") -> tuple[float, float]:
        """95% Wilson interval of ``top1`` or ``top5``, in percent."""
        correct = self.top1_correct if which == "top1" else self.top5_correct
        low, high = wilson_interval(correct, self.images)
        return 100.0 * low, 100.0 * high

    def summary_lines(self) -> list[str]:
        """What ``mnas evaluate`` prints."""
        lo1, hi1 = self.interval("top1")
        lo5, hi5 = self.interval("top5")
        return [
            f"top-1 {self.top1:.2f}% (95% interval {lo1:.2f}-{hi1:.2f}, Wilson) "
            f"top-{self.k} {self.top5:.2f}% ({lo5:.2f}-{hi5:.2f}) on {self.images} images",
            f"measured on {self.data}, on {self.device}",
            f"preprocessing: {self.preprocess}",
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``mnas evaluate --json``)."""
        lo1, hi1 = self.interval("top1")
        lo5, hi5 = self.interval("top5")
        return {"top1": self.top1, "top1_interval95": [lo1, hi1], "top5": self.top5,
                "top5_interval95": [lo5, hi5], "top5_k": self.k, "images": self.images,
                "top1_correct": self.top1_correct, "top5_correct": self.top5_correct,
                "data": self.data, "preprocess": self.preprocess,
                "resolution": self.resolution, "device": self.device,
                "interval": "Wilson score, 95%"}


def evaluate_model(model: nn.Module, images: ImageSet, *, resolution: int, crop: float,
                   batch_size: int = 100, limit: int | None = None,
                   indices: Sequence[int] | None = None) -> Evaluation:
    """Top-1 and top-5 of ``model`` (eval mode, on its device) on ``images``.

    Args:
        model: The network; its output has one logit per class.
        images: The labelled images.
        resolution: Input size.
        crop: Centre-crop fraction (see :func:`~mnas.evaluation.eval_batches`).
        batch_size: Images per forward pass.
        limit: Evaluate ``limit`` images spread evenly over the data (every k-th; an
            ImageFolder lists its images class by class, so the first ones would be biased).
        indices: Evaluate these images (overrides ``limit``).

    Raises:
        MnasInputError: A label outside the model's classes, or no images.
    """
    if indices is not None:
        chosen = list(indices)
    elif limit is None or limit >= len(images):
        chosen = list(range(len(images)))
    else:  # spread evenly: a folder lists its images class by class
        chosen = sorted({round(i * (len(images) - 1) / max(1, limit - 1))
                         for i in range(limit)})
    if not chosen:
        raise MnasInputError(f"no images to evaluate in {images.source}")
    device = next(model.parameters()).device
    model.eval()
    top1 = top5 = 0
    k = 0
    with torch.no_grad():
        for batch, labels in eval_batches(images, chosen, resolution=resolution, crop=crop,
                                          batch_size=batch_size):
            logits = model(batch.to(device)).float().cpu()
            classes = logits.shape[1]
            if int(labels.max()) >= classes:
                raise MnasInputError(
                    f"{images.source}: label {int(labels.max())} is outside the model's "
                    f"{classes} classes; evaluate on data labelled for this model")
            k = min(5, classes)
            ranked = logits.topk(k, dim=1).indices
            top1 += int((ranked[:, 0] == labels).sum())
            top5 += int((ranked == labels[:, None]).any(dim=1).sum())
    return Evaluation(images=len(chosen), top1_correct=top1, top5_correct=top5, k=k,
                      data=images.describe() if len(chosen) == len(images) else
                      f"{images.describe()}, {len(chosen)} of them spread evenly",
                      preprocess=describe_eval_preprocess(resolution, crop),
                      resolution=resolution, device=str(device))
