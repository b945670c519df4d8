"""The layers every mnas network is made of: conv-BN-act, squeeze-excitation, blocks.

Block layouts follow the papers: MobileNetV1's depthwise separable conv
(Howard et al., arXiv:1704.04861), MobileNetV2's inverted residual with linear
bottleneck (Sandler et al., arXiv:1801.04381), MobileNetV3's squeeze-excitation
and h-swish (Howard et al., arXiv:1905.02244).
"""

from __future__ import annotations

import torch
from torch import nn

from mnas.arch import Arch, Block

__all__ = [
    "ConvBNAct",
    "ConvBlock",
    "DepthwiseSeparable",
    "InvertedResidual",
    "SqueezeExcite",
    "make_activation",
    "make_gate",
]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
    "swish": nn.SiLU,
    "identity": nn.Identity,
}
_GATES: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "hard_sigmoid": nn.Hardsigmoid}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for an ``Arch`` activation name."""
    return _ACTIVATIONS[name]()


def make_gate(name: str) -> nn.Module:
    """A fresh SE gate module (``sigmoid`` or ``hard_sigmoid``)."""
    return _GATES[name]()


class ConvBNAct(nn.Module):
    """A conv (no bias, padding ``kernel // 2``), BatchNorm and activation."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel: int, stride: int = 1,
                 groups: int = 1, act: str, bn_eps: float, bn_momentum: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Squeeze-excitation (Hu et al., arXiv:1709.01507): pool, 1x1 reduce, act, 1x1 expand, gate."""

    def __init__(self, channels: int, squeeze: int, *, act: str, gate: str) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_reduce = nn.Conv2d(channels, squeeze, 1, bias=True)
        self.act = make_activation(act)
        self.conv_expand = nn.Conv2d(squeeze, channels, 1, bias=True)
        self.gate = make_gate(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.conv_expand(self.act(self.conv_reduce(self.pool(x)))))
        return x * scale


class InvertedResidual(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand, kxk depthwise, optional SE, 1x1 linear."""

    def __init__(self, block: Block, arch: Arch) -> None:
        super().__init__()
        bn = {"bn_eps": arch.bn_eps, "bn_momentum": arch.bn_momentum}
        self.skip = block.skip
        self.conv_pw = ConvBNAct(block.in_channels, block.mid_channels, kernel=1, act=block.act,
                                 **bn)
        self.conv_dw = ConvBNAct(block.mid_channels, block.mid_channels, kernel=block.kernel,
                                 stride=block.stride, groups=block.mid_channels, act=block.act,
                                 **bn)
        self.se = (SqueezeExcite(block.mid_channels, block.se_channels, act=arch.se_act,
                                 gate=arch.se_gate) if block.has_se else nn.Identity())
        self.conv_pwl = ConvBNAct(block.mid_channels, block.out_channels, kernel=1,
                                  act="identity", **bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pwl(self.se(self.conv_dw(self.conv_pw(x))))
        return out + x if self.skip else out


class DepthwiseSeparable(nn.Module):
    """kxk depthwise, optional SE, then 1x1: linear (``ds``) or with activation (``dsa``, V1)."""

    def __init__(self, block: Block, arch: Arch) -> None:
        super().__init__()
        bn = {"bn_eps": arch.bn_eps, "bn_momentum": arch.bn_momentum}
        self.skip = block.skip
        self.conv_dw = ConvBNAct(block.in_channels, block.in_channels, kernel=block.kernel,
                                 stride=block.stride, groups=block.in_channels, act=block.act,
                                 **bn)
        self.se = (SqueezeExcite(block.in_channels, block.se_channels, act=arch.se_act,
                                 gate=arch.se_gate) if block.has_se else nn.Identity())
        self.conv_pw = ConvBNAct(block.in_channels, block.out_channels, kernel=1,
                                 act=block.act if block.type == "dsa" else "identity", **bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pw(self.se(self.conv_dw(x)))
        return out + x if self.skip else out


class ConvBlock(nn.Module):
    """A plain kxk conv-BN-act block, with a residual only when the arch asks for one."""

    def __init__(self, block: Block, arch: Arch) -> None:
        super().__init__()
        self.skip = block.skip
        self.conv = ConvBNAct(block.in_channels, block.out_channels, kernel=block.kernel,
                              stride=block.stride, act=block.act, bn_eps=arch.bn_eps,
                              bn_momentum=arch.bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.skip else out


BLOCK_CLASSES: dict[str, type[nn.Module]] = {
    "ir": InvertedResidual,
    "ds": DepthwiseSeparable,
    "dsa": DepthwiseSeparable,
    "cn": ConvBlock,
}
