"""A MobileNet-family network, written by `mnas export --format pytorch`.

Architecture: example-pixel4-20ms-trial126

Needs only PyTorch. ``build()`` returns the network; ``build("weights.pt")`` also loads
a state_dict saved with ``torch.save`` (its keys are those of mnas's own model).

Blocks: MobileNetV1 depthwise separable (arXiv:1704.04861), MobileNetV2 inverted
residual (arXiv:1801.04381), MobileNetV3 squeeze-excitation and h-swish
(arXiv:1905.02244).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MobileNet", "build"]

RESOLUTION = 192  # input height = width
NUM_CLASSES = 1000
BN_EPS = 0.001
BN_MOMENTUM = 0.01
SE_ACT = "relu"  # between the SE convs
SE_GATE = "hard_sigmoid"

# out channels, kernel, stride, activation
STEM = (16, 3, 2, "hswish")

# One row per block, one tuple per stage. type: "ir" inverted residual, "ds"
# depthwise separable with a linear 1x1, "dsa" MobileNetV1 depthwise separable (1x1
# with activation), "cn" conv-BN-act. mid: width of the spatial conv; se: squeeze
# width (0: no SE); skip: residual add.
STAGES = (
    #    type  in   mid  out  kernel stride act       se   skip
    (  # stage 0
        ("ds", 16,  16,  16,  3,     1,     "relu",   0,   True),
    ),
    (  # stage 1
        ("ir", 16,  96,  24,  5,     2,     "relu",   24,  False),
        ("ir", 24,  72,  24,  5,     1,     "relu",   24,  True),
    ),
    (  # stage 2
        ("ir", 24,  144, 40,  5,     2,     "relu",   0,   False),
        ("ir", 40,  240, 40,  5,     1,     "hswish", 0,   True),
        ("ir", 40,  240, 40,  3,     1,     "hswish", 64,  True),
    ),
    (  # stage 3
        ("ir", 40,  120, 80,  3,     2,     "relu",   0,   False),
        ("ir", 80,  320, 80,  5,     1,     "relu",   80,  True),
        ("ir", 80,  480, 80,  7,     1,     "hswish", 120, True),
        ("ir", 80,  320, 80,  5,     1,     "relu",   80,  True),
    ),
    (  # stage 4
        ("ir", 80,  240, 112, 5,     1,     "hswish", 64,  False),
        ("ir", 112, 336, 112, 5,     1,     "hswish", 0,   True),
        ("ir", 112, 336, 112, 3,     1,     "hswish", 88,  True),
    ),
    (  # stage 5
        ("ir", 112, 672, 160, 7,     2,     "relu",   168, False),
        ("ir", 160, 480, 160, 5,     1,     "relu",   120, True),
    ),
    (  # stage 6
        ("cn", 160, 960, 960, 1,     1,     "hswish", 0,   False),
    ),
)

# type, conv channels (None: no conv), hidden Linear width (None: none), activation,
# dropout
HEAD = ("pool_conv_act", None, 1280, "hswish", 0.2)

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
    "swish": nn.SiLU,
    "identity": nn.Identity,
}
_GATES = {"sigmoid": nn.Sigmoid, "hard_sigmoid": nn.Hardsigmoid}


class ConvBNAct(nn.Module):
    """A conv (no bias, padding kernel // 2), BatchNorm and an activation."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: str = "identity") -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = _ACTIVATIONS[act]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Squeeze-excitation: pool, 1x1 reduce, activation, 1x1 expand, gate, scale."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_reduce = nn.Conv2d(channels, squeeze, 1, bias=True)
        self.act = _ACTIVATIONS[SE_ACT]()
        self.conv_expand = nn.Conv2d(squeeze, channels, 1, bias=True)
        self.gate = _GATES[SE_GATE]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.conv_expand(self.act(self.conv_reduce(self.pool(x)))))


def _se(channels: int, squeeze: int) -> nn.Module:
    return SqueezeExcite(channels, squeeze) if squeeze else nn.Identity()


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, kxk depthwise, optional SE, 1x1 linear projection."""

    def __init__(self, in_ch: int, mid: int, out: int, kernel: int, stride: int, act: str,
                 se: int, skip: bool) -> None:
        super().__init__()
        self.skip = skip
        self.conv_pw = ConvBNAct(in_ch, mid, 1, act=act)
        self.conv_dw = ConvBNAct(mid, mid, kernel, stride, groups=mid, act=act)
        self.se = _se(mid, se)
        self.conv_pwl = ConvBNAct(mid, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pwl(self.se(self.conv_dw(self.conv_pw(x))))
        return out + x if self.skip else out


class DepthwiseSeparable(nn.Module):
    """kxk depthwise, optional SE, then a linear 1x1 conv."""

    pw_act = False

    def __init__(self, in_ch: int, mid: int, out: int, kernel: int, stride: int, act: str,
                 se: int, skip: bool) -> None:
        super().__init__()
        self.skip = skip
        self.conv_dw = ConvBNAct(in_ch, in_ch, kernel, stride, groups=in_ch, act=act)
        self.se = _se(in_ch, se)
        self.conv_pw = ConvBNAct(in_ch, out, 1, act=act if self.pw_act else "identity")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pw(self.se(self.conv_dw(x)))
        return out + x if self.skip else out


class DepthwiseSeparableV1(DepthwiseSeparable):
    """MobileNetV1 block: as DepthwiseSeparable, with the activation after the 1x1 conv."""

    pw_act = True


class ConvBlock(nn.Module):
    """A plain kxk conv-BN-act block."""

    def __init__(self, in_ch: int, mid: int, out: int, kernel: int, stride: int, act: str,
                 se: int, skip: bool) -> None:
        super().__init__()
        self.skip = skip
        self.conv = ConvBNAct(in_ch, out, kernel, stride, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.skip else out


_BLOCKS = {
    "ir": InvertedResidual,
    "ds": DepthwiseSeparable,
    "dsa": DepthwiseSeparableV1,
    "cn": ConvBlock,
}


class MobileNet(nn.Module):
    """The network of STEM, STAGES and HEAD above.

    Layout: ``stem``, ``blocks`` (one ``nn.Sequential`` per stage), then the head:
    ``head_conv`` (optional 1x1 conv-BN-act), global average pool (before ``head_conv``
    for a "pool_conv_act" head), ``head_hidden`` + ``head_act`` (optional Linear),
    ``dropout`` and ``classifier``.
    """

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        stem_ch, stem_kernel, stem_stride, stem_act = STEM
        self.stem = ConvBNAct(3, stem_ch, stem_kernel, stem_stride, act=stem_act)
        self.blocks = nn.Sequential(*(
            nn.Sequential(*(_BLOCKS[row[0]](*row[1:]) for row in stage)) for stage in STAGES))
        head_type, head_ch, hidden, head_act, dropout = HEAD
        width = STAGES[-1][-1][3]
        self.pool_first = head_type == "pool_conv_act"
        self.head_conv: nn.Module = nn.Identity()
        if head_ch is not None:
            self.head_conv = ConvBNAct(width, head_ch, 1, act=head_act)
            width = head_ch
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_hidden: nn.Module = nn.Identity()
        self.head_act: nn.Module = nn.Identity()
        if hidden is not None:
            self.head_hidden = nn.Linear(width, hidden)
            self.head_act = _ACTIVATIONS[head_act]()
            width = hidden
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, num_classes)
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        if self.pool_first:
            x = self.head_conv(self.pool(x))
        else:
            x = self.pool(self.head_conv(x))
        x = torch.flatten(x, 1)
        x = self.head_act(self.head_hidden(x))
        return self.classifier(self.dropout(x))


def build(weights: str | None = None, num_classes: int = NUM_CLASSES) -> MobileNet:
    """The network, with the state_dict in ``weights`` (a ``torch.save`` file) if given."""
    model = MobileNet(num_classes)
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model


if __name__ == "__main__":
    net = build().eval()
    with torch.no_grad():
        logits = net(torch.zeros(1, 3, RESOLUTION, RESOLUTION))
    print(f"{sum(p.numel() for p in net.parameters())} parameters, output {tuple(logits.shape)}")
