"""Analytic parameter and multiply-accumulate counts of an ``Arch``, and their proxies.

One walker (:func:`arch_costs`) over the ``Arch`` itself, never over modules. It
counts what :func:`mnas.models.build` instantiates: parameters of every conv,
BatchNorm (weight and bias) and Linear; MACs of convolutions and Linear layers only
(no BatchNorm, bias, activation, pooling or residual add), the convention of
NAS-Bench-Macro's ``count_FLOPs`` and of the MobileNet papers' "MAdds".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mnas.arch import Arch, Block, conv_out_size
from mnas.proxies._base import AccuracyProxy, register_proxy
from mnas.proxies._common import at_resolution, check_resolution

__all__ = ["ArchCosts", "BlockCost", "FlopsProxy", "ParamsProxy", "arch_costs", "block_costs"]


@dataclass(frozen=True)
class ArchCosts:
    """Analytic size of an architecture.

    Attributes:
        params: Trainable parameters of the built network.
        macs: Multiply-accumulates of conv and Linear layers for one image at
            ``arch.resolution``.
    """

    params: int
    macs: int


def _conv(cin: int, cout: int, kernel: int, groups: int, out_hw: int, *, bias: bool = False,
          bn: bool = True) -> tuple[int, int]:
    weights = cout * (cin // groups) * kernel * kernel
    params = weights + (cout if bias else 0) + (2 * cout if bn else 0)
    return params, weights * out_hw * out_hw


def _se(channels: int, squeeze: int) -> tuple[int, int]:
    # two 1x1 convs with bias on the pooled 1x1 map
    return (channels * squeeze + squeeze + squeeze * channels + channels,
            2 * channels * squeeze)


def _block(block: Block, size: int) -> tuple[int, int, int]:
    out = conv_out_size(size, block.kernel, block.stride)
    parts: list[tuple[int, int]] = []
    if block.type == "ir":
        parts.append(_conv(block.in_channels, block.mid_channels, 1, 1, size))
        parts.append(_conv(block.mid_channels, block.mid_channels, block.kernel,
                           block.mid_channels, out))
        if block.has_se:
            parts.append(_se(block.mid_channels, block.se_channels))
        parts.append(_conv(block.mid_channels, block.out_channels, 1, 1, out))
    elif block.type in ("ds", "dsa"):
        parts.append(_conv(block.in_channels, block.in_channels, block.kernel,
                           block.in_channels, out))
        if block.has_se:
            parts.append(_se(block.in_channels, block.se_channels))
        parts.append(_conv(block.in_channels, block.out_channels, 1, 1, out))
    else:  # "cn"
        parts.append(_conv(block.in_channels, block.out_channels, block.kernel, 1, out))
    return sum(p for p, _ in parts), sum(m for _, m in parts), out


@dataclass(frozen=True)
class BlockCost:
    """Analytic size of one block where it sits in its network.

    Attributes:
        block: The block.
        in_size: Input height = width.
        out_size: Output height = width.
        params: Its parameters.
        macs: Its conv MACs (the convention of :func:`arch_costs`).
    """

    block: Block
    in_size: int
    out_size: int
    params: int
    macs: int


def block_costs(arch: Arch) -> list[BlockCost]:
    """Each block's parameters and MACs, in order (the walker :func:`arch_costs` sums)."""
    size = conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)
    out = []
    for block in arch.blocks:
        params, macs, out_size = _block(block, size)
        out.append(BlockCost(block=block, in_size=size, out_size=out_size, params=params,
                             macs=macs))
        size = out_size
    return out


def arch_costs(arch: Arch) -> ArchCosts:
    """Count the parameters and MACs of ``arch`` analytically.

    Args:
        arch: The architecture.

    Returns:
        The counts; ``params`` equals ``sum(p.numel() for p in build(arch).parameters())``.
    """
    size = conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)
    params, macs = _conv(3, arch.stem.channels, arch.stem.kernel, 1, size)
    for cost in block_costs(arch):
        params += cost.params
        macs += cost.macs
        size = cost.out_size
    width = arch.feature_channels
    head = arch.head
    if head.channels is not None:
        hw = size if head.type == "conv_bn_act_pool" else 1
        p, m = _conv(width, head.channels, 1, 1, hw)
        params += p
        macs += m
        width = head.channels
    for out in (head.hidden, arch.num_classes):
        if out is not None:
            params += width * out + out
            macs += width * out
            width = out
    return ArchCosts(params=params, macs=macs)


@register_proxy
class ParamsProxy(AccuracyProxy):
    """Natural log of the built network's parameter count (the usual baseline).

    The log keeps scores on the scale of the other proxies (MnasNet's soft reward
    multiplies the score by a latency factor); ranks are those of the raw count, which
    :func:`arch_costs` gives.

    Surveys of zero-cost proxies (e.g. Krishnakumar et al., NeurIPS 2022 "NAS-Bench-Suite-Zero")
    find #params a strong baseline that many proxies fail to beat.

    Args:
        seed: Accepted for a uniform interface; the count is exact and needs no randomness.
        resolution: Accepted for a uniform interface; parameters do not depend on it.
    """

    name = "params"

    def __init__(self, *, seed: int = 0, resolution: int | None = None) -> None:
        self.seed = seed
        self.resolution = check_resolution(resolution)

    def score(self, arch: Arch) -> float:
        return math.log(arch_costs(arch).params)


@register_proxy
class FlopsProxy(AccuracyProxy):
    """Natural log of the multiply-accumulates of one image (the FLOPs baseline).

    Counted analytically from the ``Arch`` (conv + Linear MACs, see :func:`arch_costs`).

    Args:
        seed: Accepted for a uniform interface; the count is exact and needs no randomness.
        resolution: Count at this input size instead of each arch's own.
    """

    name = "flops"

    def __init__(self, *, seed: int = 0, resolution: int | None = None) -> None:
        self.seed = seed
        self.resolution = check_resolution(resolution)

    def score(self, arch: Arch) -> float:
        return math.log(arch_costs(at_resolution(arch, self.resolution)).macs)
