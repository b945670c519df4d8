"""``--format pytorch``: a standalone model file that needs torch alone.

The file has three parts: a docstring, a configuration table generated from the
validated fields of an :class:`~mnas.arch.Arch` (ints, floats and allow-listed
names only), and a fixed body of small module classes, one per block type, whose
module names match :class:`mnas.models.MobileNet` so that an mnas state_dict loads
into it unchanged.
"""

from __future__ import annotations

from mnas.arch import Arch, Block
from mnas.export._source import (
    py_bool,
    py_float,
    py_int,
    py_name,
    py_optional_int,
    sanitize_text,
)

__all__ = ["pytorch_source"]

_ACT_LITERALS = {
    "relu": '"relu"',
    "relu6": '"relu6"',
    "hswish": '"hswish"',
    "swish": '"swish"',
    "identity": '"identity"',
}
_GATE_LITERALS = {"sigmoid": '"sigmoid"', "hard_sigmoid": '"hard_sigmoid"'}
_TYPE_LITERALS = {"ir": '"ir"', "ds": '"ds"', "dsa": '"dsa"', "cn": '"cn"'}
_HEAD_LITERALS = {"conv_bn_act_pool": '"conv_bn_act_pool"', "pool_conv_act": '"pool_conv_act"'}

_ROW_HEADER = ("type", "in", "mid", "out", "kernel", "stride", "act", "se", "skip")

_BODY = '''
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
'''


def _row(block: Block, where: str) -> tuple[str, ...]:
    return (
        py_name(block.type, _TYPE_LITERALS, where=f"{where}.type"),
        py_int(block.in_channels, where=f"{where}.in_channels"),
        py_int(block.mid_channels, where=f"{where}.mid_channels"),
        py_int(block.out_channels, where=f"{where}.out_channels"),
        py_int(block.kernel, where=f"{where}.kernel"),
        py_int(block.stride, where=f"{where}.stride"),
        py_name(block.act, _ACT_LITERALS, where=f"{where}.act"),
        py_int(block.se_channels, where=f"{where}.se_channels"),
        py_bool(block.skip, where=f"{where}.skip"),
    )


def _table(arch: Arch) -> list[str]:
    rows = [[_row(block, f"stages[{s}][{b}]") for b, block in enumerate(stage)]
            for s, stage in enumerate(arch.stages)]
    widths = [len(h) for h in _ROW_HEADER]
    for stage in rows:
        for row in stage:
            widths = [max(w, len(cell) + 1) for w, cell in zip(widths, row, strict=True)]
    header = " ".join(h.ljust(w) for h, w in zip(_ROW_HEADER, widths, strict=True))
    lines = ["STAGES = (", ("    #    " + header).rstrip()]
    for s, stage in enumerate(rows):
        lines.append(f"    (  # stage {s}")
        for row in stage:
            cells = " ".join((cell + ",").ljust(w) for cell, w in zip(row, widths, strict=True))
            lines.append("        (" + cells.rstrip()[:-1] + "),")
        lines.append("    ),")
    lines.append(")")
    return lines


def pytorch_source(arch: Arch) -> str:
    """The standalone PyTorch source of ``arch`` (see the module docstring)."""
    stem, head = arch.stem, arch.head
    name = sanitize_text(arch.name)
    stem_row = ", ".join((
        py_int(stem.channels, where="stem.channels"),
        py_int(stem.kernel, where="stem.kernel"),
        py_int(stem.stride, where="stem.stride"),
        py_name(stem.act, _ACT_LITERALS, where="stem.act"),
    ))
    head_row = ", ".join((
        py_name(head.type, _HEAD_LITERALS, where="head.type"),
        py_optional_int(head.channels, where="head.channels"),
        py_optional_int(head.hidden, where="head.hidden"),
        py_name(head.act, _ACT_LITERALS, where="head.act"),
        py_float(head.dropout, where="head.dropout"),
    ))
    lines = [
        '"""A MobileNet-family network, written by `mnas export --format pytorch`.',
        "",
        f"Architecture: {name}",
        "",
        "Needs only PyTorch. ``build()`` returns the network; ``build(\"weights.pt\")`` also loads",
        "a state_dict saved with ``torch.save`` (its keys are those of mnas's own model).",
        "",
        "Blocks: MobileNetV1 depthwise separable (arXiv:1704.04861), MobileNetV2 inverted",
        "residual (arXiv:1801.04381), MobileNetV3 squeeze-excitation and h-swish",
        "(arXiv:1905.02244).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import torch",
        "from torch import nn",
        "",
        '__all__ = ["MobileNet", "build"]',
        "",
        f"RESOLUTION = {py_int(arch.resolution, where='resolution')}  # input height = width",
        f"NUM_CLASSES = {py_int(arch.num_classes, where='num_classes')}",
        f"BN_EPS = {py_float(arch.bn_eps, where='bn_eps')}",
        f"BN_MOMENTUM = {py_float(arch.bn_momentum, where='bn_momentum')}",
        f"SE_ACT = {py_name(arch.se_act, _ACT_LITERALS, where='se_act')}  # between the SE convs",
        f"SE_GATE = {py_name(arch.se_gate, _GATE_LITERALS, where='se_gate')}",
        "",
        "# out channels, kernel, stride, activation",
        f"STEM = ({stem_row})",
        "",
        '# One row per block, one tuple per stage. type: "ir" inverted residual, "ds"',
        '# depthwise separable with a linear 1x1, "dsa" MobileNetV1 depthwise separable (1x1',
        '# with activation), "cn" conv-BN-act. mid: width of the spatial conv; se: squeeze',
        "# width (0: no SE); skip: residual add.",
        *_table(arch),
        "",
        "# type, conv channels (None: no conv), hidden Linear width (None: none), activation,",
        "# dropout",
        f"HEAD = ({head_row})",
        "",
    ]
    return "\n".join(lines) + _BODY
