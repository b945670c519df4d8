"""ZiCo: zero-shot proxy from the inverse coefficient of variation of gradients."""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies._base import AccuracyProxy, register_proxy
from mnas.proxies._common import at_resolution, build_seeded, check_resolution, make_generator
from mnas.proxies._data import load_image_data
from mnas.proxies._naswot import _FOLDER_RES, _LIMIT, check_batch, sample_indices

__all__ = ["ZicoProxy"]


@register_proxy
class ZicoProxy(AccuracyProxy):
    """ZiCo (Li et al., "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
    Gradients", ICLR 2023, Eq. 5).

    Over ``batches`` minibatches, take the cross-entropy gradient of every conv and Linear
    weight of the randomly initialised network; for layer ``l`` the score adds
    ``log sum_theta mean|g_theta| / std(g_theta)`` over its weights with non-zero
    standard deviation. Layers whose gradients are large and consistent across batches
    score high.

    The classifier is sized to the dataset's classes when they differ from the arch's.

    Args:
        data: Path of a ``.npz`` or ImageFolder dataset.
        seed: Seeds the init and the minibatches.
        batch_size: Images per minibatch.
        batches: Minibatches (>= 2; the paper uses 2).
        resolution: Evaluate at this input size instead of each arch's own.
    """

    name = "zico"
    needs_data = True
    cost = "forward"

    def __init__(self, *, data: str | os.PathLike[str], seed: int = 0, batch_size: int = 16,
                 batches: int = 2, resolution: int | None = None) -> None:
        if isinstance(batches, bool) or not isinstance(batches, int) or batches < 2:
            raise MnasInputError(f"zico batches must be an int >= 2, got {batches!r}")
        self.data = load_image_data(data, limit=_LIMIT,
                                    folder_resolution=resolution or _FOLDER_RES)
        check_batch("zico", batch_size, self.data, batches=batches)
        self.seed = seed
        self.batch_size = batch_size
        self.batches = batches
        self.resolution = check_resolution(resolution)
        make_generator(seed)

    def score(self, arch: Arch) -> float:
        arch = at_resolution(arch, self.resolution)
        if arch.num_classes != self.data.num_classes:
            arch = arch.replace(num_classes=max(2, self.data.num_classes))
        gen = make_generator(self.seed)
        idx = sample_indices(len(self.data), self.batch_size * self.batches, gen)
        model = build_seeded(arch, gen)
        layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        grads: list[list[torch.Tensor]] = [[] for _ in layers]
        for chunk in idx.split(self.batch_size):
            x, y = self.data.batch(chunk, resolution=arch.resolution)
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            for store, layer in zip(grads, layers, strict=True):
                if layer.weight.grad is not None:
                    store.append(layer.weight.grad.detach().flatten().double().clone())
        total = 0.0
        for store in grads:
            if len(store) < 2:
                continue
            g = torch.stack(store)
            std = g.std(dim=0, unbiased=False)
            mean_abs = g.abs().mean(dim=0)
            keep = std > 0
            if not bool(keep.any()):
                continue
            ratio = float((mean_abs[keep] / std[keep]).sum())
            if ratio > 0:
                total += math.log(ratio)
        return total
