"""Zen-score: a data-free proxy from the expressivity of a randomly initialised network."""

from __future__ import annotations

import math

import torch
from torch import nn

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies._base import AccuracyProxy, register_proxy
from mnas.proxies._common import (
    at_resolution,
    build_seeded,
    check_resolution,
    make_generator,
    pre_gap,
)

__all__ = ["ZenProxy", "zen_score"]


def zen_score(arch: Arch, *, seed: int = 0, batch_size: int = 8, repeats: int = 1,
              alpha: float = 0.01, resolution: int | None = None) -> float:
    """Zen-score of ``arch`` (Lin et al., "Zen-NAS", ICCV 2021, Eq. 5-6).

    With every conv/Linear weight drawn from N(0, 1) and BatchNorm in training mode,
    feed a Gaussian batch ``x`` and a perturbed copy ``x + alpha * eps``; the score is
    ``log E ||f(x) - f(x + alpha eps)||_1 + sum_i log sqrt(mean_c sigma_ic^2)``, where ``f``
    is the feature map before global average pooling and ``sigma_ic^2`` is the batch
    variance of channel ``c`` at the ``i``-th BatchNorm (the BN "scaling" the paper adds
    back because BN removes it from ``f``). Averaged over ``repeats`` fresh inits.

    Args:
        arch: The architecture.
        seed: Seeds the weights and inputs.
        batch_size: Gaussian images per forward.
        repeats: Independent inits averaged.
        alpha: Perturbation size.
        resolution: Evaluate at this input size instead of ``arch.resolution`` (cheaper
            for ImageNet-size networks); None keeps the arch's own.

    Returns:
        The Zen-score (a log quantity; higher = more expressive).
    """
    arch = at_resolution(arch, resolution)
    gen = make_generator(seed)
    scores = []
    for _ in range(repeats):
        model = build_seeded(arch, gen, init="gaussian")
        log_bn: list[torch.Tensor] = []
        capture = [True]

        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], _out: object,
                 log_bn: list[torch.Tensor] = log_bn, capture: list[bool] = capture) -> None:
            if module.training and capture[0]:
                var = inputs[0].double().var(dim=(0, 2, 3), unbiased=False)
                log_bn.append(0.5 * torch.log(var.mean()))

        handles = [m.register_forward_hook(hook) for m in model.modules()
                   if isinstance(m, nn.BatchNorm2d)]
        shape = (batch_size, 3, arch.resolution, arch.resolution)
        with torch.no_grad():
            x = torch.randn(shape, generator=gen)
            eps = torch.randn(shape, generator=gen)
            out = pre_gap(model, x)
            capture[0] = False
            out2 = pre_gap(model, x + alpha * eps)
        for handle in handles:
            handle.remove()
        delta = (out - out2).abs().sum(dim=(1, 2, 3)).mean().double()
        scores.append(float(torch.log(delta) + torch.stack(log_bn).sum()))
    value = sum(scores) / len(scores)
    return value if math.isfinite(value) else -math.inf


@register_proxy
class ZenProxy(AccuracyProxy):
    """Zen-score (Lin et al., ICCV 2021, arXiv:2102.01063), data-free.

    Designed for BN-equipped ResNet/MobileNet spaces: it measures how strongly the
    randomly initialised network amplifies a small input perturbation.

    Args:
        seed: Seeds weights and Gaussian inputs (per call, so order does not matter).
        batch_size: Gaussian images per forward (paper: 16 on a GPU; 8 is enough on a CPU).
        repeats: Independent inits averaged.
        resolution: Evaluate at this input size instead of each arch's own.
    """

    name = "zen"
    cost = "forward"

    def __init__(self, *, seed: int = 0, batch_size: int = 8, repeats: int = 1,
                 resolution: int | None = None) -> None:
        for field, value in (("batch_size", batch_size), ("repeats", repeats)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MnasInputError(f"zen {field} must be an int >= 1, got {value!r}")
        if batch_size < 2:
            raise MnasInputError(
                f"zen batch_size must be >= 2 (BatchNorm needs a batch variance), got {batch_size}")
        self.seed = seed
        self.batch_size = batch_size
        self.repeats = repeats
        self.resolution = check_resolution(resolution)
        make_generator(seed)

    def score(self, arch: Arch) -> float:
        return zen_score(arch, seed=self.seed, batch_size=self.batch_size,
                         repeats=self.repeats, resolution=self.resolution)
