"""A MobileNet-family network, written by `mnas export --format pytorch`.

Architecture: example-pixel4-20ms-trial9631

Needs only PyTorch. ``build()`` returns the network; ``build("weights.pt")`` also loads
a state_dict saved with ``torch.save`` (its keys are those of mnas's own model).
The classes are mnas's own (mnas.models._torchnet); the architecture is SPEC at the end.

Blocks: MobileNetV1 depthwise separable (arXiv:1704.04861), MobileNetV2 inverted
residual (arXiv:1801.04381), MobileNetV3 squeeze-excitation and h-swish
(arXiv:1905.02244).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
    "swish": nn.SiLU,
    "identity": nn.Identity,
}
_GATES: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "hard_sigmoid": nn.Hardsigmoid}


class StemSpec(NamedTuple):
    """The first conv-BN-act: output channels, kernel, stride, activation."""

    channels: int
    kernel: int
    stride: int
    act: str


class BlockSpec(NamedTuple):
    """One block.

    ``type``: ``ir`` inverted residual, ``ds`` depthwise separable with a linear 1x1,
    ``dsa`` MobileNetV1 depthwise separable (1x1 with activation), ``cn`` conv-BN-act;
    ``mid_channels``: width of the spatial conv; ``se_channels``: squeeze width (0: no
    SE); ``skip``: residual add.
    """

    type: str
    in_channels: int
    mid_channels: int
    out_channels: int
    kernel: int
    stride: int
    act: str
    se_channels: int
    skip: bool


class HeadSpec(NamedTuple):
    """The head.

    ``type``: ``conv_bn_act_pool`` or ``pool_conv_act`` (MobileNetV3: pool first);
    ``channels``: the 1x1 conv width (None: none); ``hidden``: the Linear width after
    pooling (None: none); then activation and dropout.
    """

    type: str
    channels: int | None
    hidden: int | None
    act: str
    dropout: float


class Norm(NamedTuple):
    """Network-wide conventions.

    BatchNorm epsilon and momentum, the activation between the two SE convs and the SE
    gate (``sigmoid`` or ``hard_sigmoid``).
    """

    bn_eps: float
    bn_momentum: float
    se_act: str
    se_gate: str


class NetSpec(NamedTuple):
    """A whole network: stem, one tuple of blocks per stage, head, classes, conventions."""

    stem: StemSpec
    stages: tuple[tuple[BlockSpec, ...], ...]
    head: HeadSpec
    num_classes: int
    norm: Norm


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for an activation name."""
    return _ACTIVATIONS[name]()


def make_gate(name: str) -> nn.Module:
    """A fresh SE gate module (``sigmoid`` or ``hard_sigmoid``)."""
    return _GATES[name]()


class ConvBNAct(nn.Module):
    """A conv (no bias, padding ``kernel // 2``), BatchNorm and activation."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel: int, stride: int = 1,
                 groups: int = 1, act: str, norm: Norm) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=norm.bn_eps, momentum=norm.bn_momentum)
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Squeeze-excitation (Hu et al., arXiv:1709.01507): pool, 1x1 reduce, act, 1x1 expand, gate."""

    def __init__(self, channels: int, squeeze: int, *, norm: Norm) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_reduce = nn.Conv2d(channels, squeeze, 1, bias=True)
        self.act = make_activation(norm.se_act)
        self.conv_expand = nn.Conv2d(squeeze, channels, 1, bias=True)
        self.gate = make_gate(norm.se_gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.conv_expand(self.act(self.conv_reduce(self.pool(x)))))
        return x * scale


def _squeeze_excite(channels: int, squeeze: int, norm: Norm) -> nn.Module:
    return SqueezeExcite(channels, squeeze, norm=norm) if squeeze else nn.Identity()


class InvertedResidual(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand, kxk depthwise, optional SE, 1x1 linear."""

    def __init__(self, block: BlockSpec, norm: Norm) -> None:
        super().__init__()
        mid = block.mid_channels
        self.skip = block.skip
        self.conv_pw = ConvBNAct(block.in_channels, mid, kernel=1, act=block.act, norm=norm)
        self.conv_dw = ConvBNAct(mid, mid, kernel=block.kernel, stride=block.stride, groups=mid,
                                 act=block.act, norm=norm)
        self.se = _squeeze_excite(mid, block.se_channels, norm)
        self.conv_pwl = ConvBNAct(mid, block.out_channels, kernel=1, act="identity", norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pwl(self.se(self.conv_dw(self.conv_pw(x))))
        return out + x if self.skip else out


class DepthwiseSeparable(nn.Module):
    """kxk depthwise, optional SE, then 1x1: linear (``ds``) or with activation (``dsa``, V1)."""

    def __init__(self, block: BlockSpec, norm: Norm) -> None:
        super().__init__()
        width = block.in_channels
        self.skip = block.skip
        self.conv_dw = ConvBNAct(width, width, kernel=block.kernel, stride=block.stride,
                                 groups=width, act=block.act, norm=norm)
        self.se = _squeeze_excite(width, block.se_channels, norm)
        self.conv_pw = ConvBNAct(width, block.out_channels, kernel=1,
                                 act=block.act if block.type == "dsa" else "identity", norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pw(self.se(self.conv_dw(x)))
        return out + x if self.skip else out


class ConvBlock(nn.Module):
    """A plain kxk conv-BN-act block, with a residual only when the spec asks for one."""

    def __init__(self, block: BlockSpec, norm: Norm) -> None:
        super().__init__()
        self.skip = block.skip
        self.conv = ConvBNAct(block.in_channels, block.out_channels, kernel=block.kernel,
                              stride=block.stride, act=block.act, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.skip else out


BLOCK_CLASSES: dict[str, type[InvertedResidual | DepthwiseSeparable | ConvBlock]] = {
    "ir": InvertedResidual,
    "ds": DepthwiseSeparable,
    "dsa": DepthwiseSeparable,
    "cn": ConvBlock,
}


class MobileNet(nn.Module):
    """A MobileNet-family network (V1, V2, V3, MnasNet, searched) built from a :class:`NetSpec`.

    Layout: ``stem`` (conv-BN-act), ``blocks`` (one ``nn.Sequential`` per stage),
    then the head: ``head_conv`` (1x1 conv-BN-act, optional), global average pool,
    ``head_hidden`` + ``head_act`` (Linear with bias, optional), ``dropout``,
    ``classifier``. For ``pool_conv_act`` heads (MobileNetV3) the pool comes
    before ``head_conv``.

    Args:
        spec: The network; plain tuples in the field order of the spec types work too.
    """

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        stem, head, norm = StemSpec(*spec.stem), HeadSpec(*spec.head), Norm(*spec.norm)
        stages = [[BlockSpec(*block) for block in stage] for stage in spec.stages]
        self.stem = ConvBNAct(3, stem.channels, kernel=stem.kernel, stride=stem.stride,
                              act=stem.act, norm=norm)
        self.blocks = nn.Sequential(*(
            nn.Sequential(*(BLOCK_CLASSES[block.type](block, norm) for block in stage))
            for stage in stages))
        width = stages[-1][-1].out_channels
        self.pool_first = head.type == "pool_conv_act"
        self.head_conv: nn.Module = nn.Identity()
        if head.channels is not None:
            self.head_conv = ConvBNAct(width, head.channels, kernel=1, act=head.act, norm=norm)
            width = head.channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_hidden: nn.Module = nn.Identity()
        self.head_act: nn.Module = nn.Identity()
        if head.hidden is not None:
            self.head_hidden = nn.Linear(width, head.hidden, bias=True)
            self.head_act = make_activation(head.act)
            width = head.hidden
        self.dropout = nn.Dropout(head.dropout)
        self.classifier = nn.Linear(width, spec.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's MobileNet initialisation (Kaiming fan-out convs, N(0, 0.01) linears)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and blocks: the feature map before the head."""
        return self.blocks(self.stem(x))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Head and classifier on a feature map."""
        if self.pool_first:
            x = self.head_conv(self.pool(x))
        else:
            x = self.pool(self.head_conv(x))
        x = torch.flatten(x, 1)
        x = self.head_act(self.head_hidden(x))
        return self.classifier(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def load(spec: NetSpec, weights: str | None = None) -> MobileNet:
    """The network of ``spec``, with the state_dict in ``weights`` (a ``torch.save`` file).

    The file is read with ``torch.load(weights_only=True)``: tensors only, no pickled code.
    """
    model = MobileNet(spec)
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model


# The architecture, generated by mnas from its validated fields.

__all__ = ["SPEC", "MobileNet", "NetSpec", "build"]

RESOLUTION = 192  # input height = width

STEM = StemSpec(channels=16, kernel=3, stride=2, act="hswish")

STAGES = (
    #             type  in   mid  out  kernel  stride  act       se   skip
    (  # stage 0
        BlockSpec("ds", 16,  16,  16,  3,      1,      "relu",   0,   True),
    ),
    (  # stage 1
        BlockSpec("ir", 16,  48,  24,  3,      2,      "relu",   0,   False),
        BlockSpec("ir", 24,  96,  24,  3,      1,      "relu",   0,   True),
    ),
    (  # stage 2
        BlockSpec("ir", 24,  144, 40,  5,      2,      "relu",   40,  False),
        BlockSpec("ir", 40,  240, 40,  3,      1,      "relu",   64,  True),
        BlockSpec("ir", 40,  240, 40,  3,      1,      "relu",   0,   True),
        BlockSpec("ir", 40,  240, 40,  5,      1,      "relu",   0,   True),
    ),
    (  # stage 3
        BlockSpec("ir", 40,  240, 80,  7,      2,      "hswish", 64,  False),
        BlockSpec("ir", 80,  480, 80,  3,      1,      "hswish", 120, True),
        BlockSpec("ir", 80,  480, 80,  5,      1,      "hswish", 120, True),
        BlockSpec("ir", 80,  480, 80,  3,      1,      "hswish", 120, True),
    ),
    (  # stage 4
        BlockSpec("ir", 80,  480, 112, 5,      1,      "hswish", 120, False),
        BlockSpec("ir", 112, 448, 112, 5,      1,      "hswish", 112, True),
    ),
    (  # stage 5
        BlockSpec("ir", 112, 672, 160, 5,      2,      "hswish", 168, False),
        BlockSpec("ir", 160, 960, 160, 5,      1,      "hswish", 240, True),
    ),
    (  # stage 6
        BlockSpec("cn", 160, 960, 960, 1,      1,      "hswish", 0,   False),
    ),
)

HEAD = HeadSpec(type="pool_conv_act", channels=None, hidden=1280, act="hswish", dropout=0.2)

NORM = Norm(bn_eps=0.001, bn_momentum=0.01, se_act="relu", se_gate="hard_sigmoid")

SPEC = NetSpec(stem=STEM, stages=STAGES, head=HEAD, num_classes=1000, norm=NORM)


def build(weights: str | None = None, num_classes: int = SPEC.num_classes) -> MobileNet:
    """The network; with ``weights`` (a state_dict saved by ``torch.save``) loaded into it.

    The state_dict's keys are those of mnas's own model of this architecture.
    """
    return load(SPEC._replace(num_classes=num_classes), weights)


if __name__ == "__main__":
    net = build().eval()
    with torch.no_grad():
        logits = net(torch.zeros(1, 3, RESOLUTION, RESOLUTION))
    print(f"{sum(p.numel() for p in net.parameters())} parameters, output {tuple(logits.shape)}")
