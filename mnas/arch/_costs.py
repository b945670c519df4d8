"""Parameters and multiply-accumulates (MACs) of an ``Arch``: the one counter in mnas.

Counted analytically from the ``Arch`` (one walker, never over modules), for one
image at ``arch.resolution``, exactly for the network :func:`mnas.models.build` makes.

MACs convention (the MobileNet papers' "Mult-Adds"; NAS-Bench-Macro's ``count_FLOPs``):

* counted: every convolution, ``out_h * out_w * out_channels * in_channels / groups *
  k * k``: the stem, each block's convs (1x1 expansion, kxk depthwise, 1x1 projection,
  a ``cn`` block's conv), the squeeze-excitation's two 1x1 convs (on the pooled 1x1
  map), the head's 1x1 conv (on the feature map, or on the pooled 1x1 map when the pool
  comes first); every Linear, ``in_features * out_features``.
* not counted: BatchNorm (folded into the conv before it at inference), biases,
  activations and SE gates (h-swish, hard-sigmoid included), pooling, the SE's
  channel-wise multiply, residual adds, dropout.

Parameters: every conv and Linear weight, their biases (the SE convs, the Linears) and
each BatchNorm's weight and bias; ``params == sum(p.numel() for p in build(arch).parameters())``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnas.arch._arch import Arch, Block, Head, Stem, conv_out_size

__all__ = ["ArchCosts", "BlockCost", "arch_costs", "block_cost", "block_costs", "head_costs",
           "stem_costs"]


@dataclass(frozen=True)
class ArchCosts:
    """Size and cost of a network, or of one part of it (see the module's convention).

    Attributes:
        params: Trainable parameters.
        macs: Multiply-accumulates for one image.
    """

    params: int
    macs: int

    def __add__(self, other: ArchCosts) -> ArchCosts:
        return ArchCosts(self.params + other.params, self.macs + other.macs)


@dataclass(frozen=True)
class BlockCost:
    """Size and cost of one block where it sits in its network.

    Attributes:
        block: The block.
        in_size: Input height = width.
        out_size: Output height = width.
        params: Its parameters.
        macs: Its MACs.
    """

    block: Block
    in_size: int
    out_size: int
    params: int
    macs: int


def _conv(cin: int, cout: int, kernel: int, groups: int, out_size: int, *,
          bias: bool = False, bn: bool = True) -> ArchCosts:
    weights = cout * (cin // groups) * kernel * kernel
    params = weights + (cout if bias else 0) + (2 * cout if bn else 0)
    return ArchCosts(params, weights * out_size * out_size)


def _squeeze_excite(channels: int, squeeze: int) -> ArchCosts:
    return (_conv(channels, squeeze, 1, 1, 1, bias=True, bn=False)
            + _conv(squeeze, channels, 1, 1, 1, bias=True, bn=False))


def stem_costs(stem: Stem, resolution: int) -> ArchCosts:
    """The stem conv-BN-act on a ``resolution`` x ``resolution`` RGB image."""
    size = conv_out_size(resolution, stem.kernel, stem.stride)
    return _conv(3, stem.channels, stem.kernel, 1, size)


def block_cost(block: Block, in_size: int) -> BlockCost:
    """One block on an ``in_size`` x ``in_size`` input (SE counted when ``se_channels``)."""
    out = conv_out_size(in_size, block.kernel, block.stride)
    cin, mid, cout, k = block.in_channels, block.mid_channels, block.out_channels, block.kernel
    se = _squeeze_excite(mid, block.se_channels) if block.se_channels else ArchCosts(0, 0)
    if block.type == "ir":
        total = (_conv(cin, mid, 1, 1, in_size) + _conv(mid, mid, k, mid, out) + se
                 + _conv(mid, cout, 1, 1, out))
    elif block.type in ("ds", "dsa"):
        total = _conv(cin, cin, k, cin, out) + se + _conv(cin, cout, 1, 1, out)
    else:  # "cn"
        total = _conv(cin, cout, k, 1, out)
    return BlockCost(block=block, in_size=in_size, out_size=out, params=total.params,
                     macs=total.macs)


def head_costs(head: Head, *, in_channels: int, in_size: int, num_classes: int) -> ArchCosts:
    """The head on an ``in_size`` x ``in_size`` feature map of ``in_channels``."""
    total = ArchCosts(0, 0)
    width = in_channels
    if head.channels is not None:
        total += _conv(width, head.channels, 1, 1,
                       in_size if head.type == "conv_bn_act_pool" else 1)
        width = head.channels
    for out in (head.hidden, num_classes):
        if out is not None:
            total += ArchCosts(width * out + out, width * out)
            width = out
    return total


def block_costs(arch: Arch) -> list[BlockCost]:
    """Each block's parameters and MACs, in order (the walker :func:`arch_costs` sums)."""
    size = conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)
    out = []
    for block in arch.blocks:
        cost = block_cost(block, size)
        out.append(cost)
        size = cost.out_size
    return out


def arch_costs(arch: Arch) -> ArchCosts:
    """Count the parameters and MACs of ``arch`` analytically (the module's convention).

    Args:
        arch: The architecture.

    Returns:
        The counts; ``params`` equals ``sum(p.numel() for p in build(arch).parameters())``.
    """
    total = stem_costs(arch.stem, arch.resolution)
    size = conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)
    for cost in block_costs(arch):
        total += ArchCosts(cost.params, cost.macs)
        size = cost.out_size
    return total + head_costs(arch.head, in_channels=arch.feature_channels, in_size=size,
                              num_classes=arch.num_classes)
