"""NASWOT: neural architecture search without training (activation-pattern kernel)."""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from mnas.arch import Arch
from mnas.errors import MnasInputError
from mnas.proxies._base import AccuracyProxy, register_proxy
from mnas.proxies._common import at_resolution, build_seeded, check_resolution, make_generator
from mnas.proxies._data import ImageData, load_image_data

__all__ = ["NaswotProxy", "check_batch", "naswot_score", "sample_indices"]

_ACTS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU)


def naswot_score(model: nn.Module, x: torch.Tensor) -> float:
    """``log |det K_H|`` of ``model`` on the minibatch ``x`` (Mellor et al., ICML 2021, Eq. 2).

    ``K_H[i, j]`` counts the rectified units (ReLU, ReLU6, h-swish and swish inputs, all of
    which gate at 0) on which images ``i`` and ``j`` are both on or both off.

    Args:
        model: A network (in the mode the caller wants; proxies use train mode).
        x: The minibatch ``(B, 3, H, W)``.

    Returns:
        The log-determinant (``-inf`` when ``K_H`` is singular).
    """
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        # with s = +-1 codes, s s^T = agreements - disagreements; the integer sums are
        # exact in float32 while a layer has fewer than 2**24 units per image
        signs = torch.where(inputs[0].flatten(1) > 0, 1.0, -1.0)
        kernel.add_(((signs @ signs.t()).double() + signs.shape[1]) / 2)

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, _ACTS)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) > 0 else -math.inf


def check_batch(name: str, batch_size: int, data: ImageData, *, batches: int = 1) -> None:
    """Check a data-driven proxy's batch size against the dataset."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise MnasInputError(f"{name} batch_size must be an int >= 2, got {batch_size!r}")
    if batch_size * batches > len(data):
        raise MnasInputError(
            f"{name} needs {batch_size * batches} images but dataset {data.source} has "
            f"{len(data)}; lower batch_size or pass a larger dataset")


def sample_indices(n: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` distinct image indices out of ``n``, drawn from ``generator``."""
    return torch.randperm(n, generator=generator)[:count]


_LIMIT = 512
"""Images kept in memory: a proxy draws the same seeded minibatch for every arch."""
_FOLDER_RES = 160
"""ImageFolder images are stored at this size (then resized to each arch's resolution)."""


@register_proxy
class NaswotProxy(AccuracyProxy):
    """NASWOT score (Mellor et al., "Neural Architecture Search without Training", ICML 2021).

    Each image's binary code is the on/off pattern of every rectified unit (the sign of
    each activation's input; ReLU, ReLU6, h-swish and swish all gate at 0) of the randomly
    initialised network. With ``K_H[i, j]`` = number of units on which images ``i`` and
    ``j`` agree, the score is ``log |det K_H|``: architectures that separate the inputs
    of a minibatch well score high.

    Args:
        data: Path of a ``.npz`` or ImageFolder dataset (a minibatch is drawn from it).
        seed: Seeds the init and the minibatch.
        batch_size: Images in the minibatch (paper: 128; on NAS-Bench-Macro 16 ranks as
            well as 32 at a third of the cost).
        resolution: Evaluate at this input size instead of each arch's own.
    """

    name = "naswot"
    needs_data = True
    cost = "forward"

    def __init__(self, *, data: str | os.PathLike[str], seed: int = 0, batch_size: int = 16,
                 resolution: int | None = None) -> None:
        self.data = load_image_data(data, limit=_LIMIT,
                                    folder_resolution=resolution or _FOLDER_RES)
        check_batch("naswot", batch_size, self.data)
        self.seed = seed
        self.batch_size = batch_size
        self.resolution = check_resolution(resolution)
        make_generator(seed)

    def score(self, arch: Arch) -> float:
        arch = at_resolution(arch, self.resolution)
        gen = make_generator(self.seed)
        idx = sample_indices(len(self.data), self.batch_size, gen)
        x, _y = self.data.batch(idx, resolution=arch.resolution)
        return naswot_score(build_seeded(arch, gen), x)
