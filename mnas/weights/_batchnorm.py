"""BatchNorm recalibration: a subnet's running statistics measured on images.

A subnet cut from a supernet inherits BatchNorm statistics gathered while other subnets
ran; once-for-all re-estimates them on ~2,000 training images before measuring any
subnet (Cai et al., ICLR 2020). The estimate is once-for-all's, not PyTorch's
exponential running average: every BatchNorm normalises its input with the statistics
of the batch at hand (as in training), and its running mean (variance) becomes the
image-weighted average over batches of the batch means (biased batch variances). No
gradient is computed and no weight other than the statistics changes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["recalibrate_batchnorm"]


class _BatchStatistics(nn.Module):
    """Stands in for one BatchNorm2d: normalises with the batch's statistics and adds them,
    weighted by batch size, to running sums."""

    def __init__(self, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        self.bn = bn
        self.images = 0
        self.mean_sum = torch.zeros(bn.num_features)
        self.var_sum = torch.zeros(bn.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # reduced in once-for-all's order (batch, height, width), so that the statistics
        # agree with its own to float32 rounding
        mean = x.mean(0, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)
        var = (x - mean) * (x - mean)
        var = var.mean(0, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)
        mean, var = mean.flatten(), var.flatten()
        n = x.shape[0]
        self.images += n
        self.mean_sum += mean.cpu() * n
        self.var_sum += var.cpu() * n
        return F.batch_norm(x, mean, var, self.bn.weight, self.bn.bias, False, 0.0, self.bn.eps)


def _swap_batchnorms(model: nn.Module) -> dict[str, _BatchStatistics]:
    swapped: dict[str, _BatchStatistics] = {}
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.BatchNorm2d):
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            stats = _BatchStatistics(module)
            setattr(parent, attr, stats)
            swapped[name] = stats
    return swapped


def recalibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Set every BatchNorm2d's running mean and variance of ``model`` from ``batches``.

    Args:
        model: The network (its device is where the batches run).
        batches: Preprocessed image batches ``(B, 3, H, W)``; each batch's statistics are
            one estimate, weighted by its size (so the batch size matters, as in
            once-for-all: use the same batch size to reproduce its numbers).

    Returns:
        The number of images seen.

    Raises:
        ValueError: ``batches`` was empty.
    """
    device = next(model.parameters()).device
    runner = copy.deepcopy(model)
    stats = _swap_batchnorms(runner)
    runner.eval()  # dropout off; BatchNorm uses batch statistics all the same
    images = 0
    with torch.no_grad():
        for batch in batches:
            runner(batch.to(device))
            images += int(batch.shape[0])
    if images == 0:
        raise ValueError("no images to recalibrate BatchNorm on")
    for name, module in model.named_modules():
        if name in stats:
            assert isinstance(module, nn.BatchNorm2d)
            seen = stats[name]
            dtype = module.running_mean.dtype  # type: ignore[union-attr]
            module.running_mean.copy_((seen.mean_sum / seen.images).to(device, dtype))  # type: ignore[union-attr]
            module.running_var.copy_((seen.var_sum / seen.images).to(device, dtype))  # type: ignore[union-attr]
    return images
