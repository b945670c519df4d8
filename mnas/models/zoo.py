"""Reference architectures as :class:`~mnas.arch.Arch` values.

Each factory mirrors the layer table of its paper and, where torchvision has the
model, torchvision's exact channel rounding, so that parameter counts and weights
match the real library (``tests/models/test_torchvision_compat.py``).

Registered names (``mnas zoo list``) are width variants at 224x224; the factories
take any width multiplier and resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

from mnas.arch import Arch, Block, Head, Stem, make_divisible, se_squeeze_channels
from mnas.models._registry import register_arch

__all__ = [
    "efficientnet_lite0",
    "mnasnet_a1",
    "mnasnet_b1",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "V3_LAYOUTS",
]

# One row per block: (kernel, mid_channels, out_channels, se_ratio, act, stride).
_Row = tuple[int, int, int, float, str, int]


def _stages(stem_channels: int, stage_rows: Sequence[Sequence[_Row]], *, se_reduce_from: str,
            mid_is_expansion: bool = False) -> tuple[tuple[Block, ...], ...]:
    """Blocks from rows. A row whose mid equals its input width becomes a ``ds`` block.

    With ``mid_is_expansion`` the second field is an expansion factor and mid =
    ``in_channels * factor`` (exact, as torchvision's MNASNet and MobileNetV2 do).
    """
    channels = stem_channels
    stages = []
    for rows in stage_rows:
        stage = []
        for kernel, mid, out, se_ratio, act, stride in rows:
            if mid_is_expansion:
                mid = int(round(channels * mid))
            block_type = "ds" if mid == channels else "ir"
            stage.append(Block(
                type=block_type, in_channels=channels, mid_channels=mid, out_channels=out,
                kernel=kernel, stride=stride, act=act, se_ratio=se_ratio,
                se_channels=se_squeeze_channels(channels, mid, se_ratio, se_reduce_from),
                skip=stride == 1 and channels == out))
            channels = out
        stages.append(tuple(stage))
    return tuple(stages)


def _repeat(rows: Sequence[_Row], n: int) -> list[_Row]:
    first = rows[0]
    return [first] + [(first[0], first[1], first[2], first[3], first[4], 1)] * (n - 1)


def _width_suffix(width: float) -> str:
    return "" if width == 1.0 else f"_{int(round(width * 100)):03d}"


def mobilenet_v1(width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
                 act: str = "relu6") -> Arch:
    """MobileNetV1 (Howard et al., 2017, arXiv:1704.04861, Table 1).

    Depthwise separable blocks (``dsa``: the 1x1 conv has BN and an activation);
    channels ``make_divisible(c * width, 8)``. 569M MACs and 4.2M parameters at width 1.0
    (paper, Table 8). The activation is ReLU6, as in TF-slim's ``mobilenet_v1.py``, whose
    checkpoints the published top-1 figures (70.9 at 1.0/224, TF-slim's
    ``mobilenet_v1.md``) belong to; the paper's figure says ReLU (``act="relu"``).
    """
    def c(channels: int) -> int:
        return make_divisible(channels * width, 8)

    layout = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
        (1024, 2), (1024, 1)]
    stages_out = [[0], [1, 2], [3, 4], [5, 6, 7, 8, 9, 10], [11, 12]]
    channels = c(32)
    stages = []
    for indices in stages_out:
        stage = []
        for i in indices:
            out, stride = layout[i]
            stage.append(Block(type="dsa", in_channels=channels, mid_channels=channels,
                               out_channels=c(out), kernel=3, stride=stride, act=act))
            channels = c(out)
        stages.append(tuple(stage))
    return Arch(name=f"mobilenet_v1{_width_suffix(width)}", resolution=resolution,
                num_classes=num_classes, stem=Stem(channels=c(32), stride=2, act=act),
                stages=tuple(stages), head=Head(type="conv_bn_act_pool", act=act),
                act_default=act)


def mobilenet_v2(width: float = 1.0, resolution: int = 224, num_classes: int = 1000) -> Arch:
    """MobileNetV2 (Sandler et al., CVPR 2018, arXiv:1801.04381, Table 2).

    Inverted residuals with linear bottlenecks, ReLU6; torchvision's rounding
    (``_make_divisible(c * width, 8)``, last channel ``1280 * max(1, width)``).
    300M MACs and 3.4M parameters at width 1.0 (Table 4).
    """
    def c(channels: float) -> int:
        return make_divisible(channels * width, 8)

    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]
    stage_rows = []
    for t, out, n, s in settings:
        stage_rows.append([(3, t, c(out), 0.0, "relu6", s if i == 0 else 1) for i in range(n)])
    stem = c(32)
    return Arch(
        name=f"mobilenet_v2{_width_suffix(width)}", resolution=resolution,
        num_classes=num_classes, stem=Stem(channels=stem, stride=2, act="relu6"),
        stages=_stages(stem, stage_rows, se_reduce_from="in", mid_is_expansion=True),
        head=Head(type="conv_bn_act_pool", channels=make_divisible(1280 * max(1.0, width), 8),
                  act="relu6", dropout=0.2))


#: How a width multiplier scales a MobileNetV3: ``torchvision`` (every table width,
#: expanded ones included, times the multiplier; head Linear scaled) or ``tfslim``
#: (TF-slim's ``mobilenet_v3.py``: expanded width = the *scaled* input times the block's
#: expansion ratio, and the head's last layer kept at full width, its
#: ``finegrain_classification_mode``; the layout of the published 0.75 checkpoints).
V3_LAYOUTS = ("torchvision", "tfslim")


def _v3_arch(name: str, width: float, resolution: int, num_classes: int,
             table: Sequence[Sequence[tuple[int, int, int, bool, str, int]]],
             last_channel: int, minimal: bool, layout: str) -> Arch:
    if layout not in V3_LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(V3_LAYOUTS)}, got {layout!r}")

    def c(channels: float) -> int:
        return make_divisible(channels * width, 8)

    stage_rows = []
    stem = c(16)
    in_full, in_scaled = 16, stem  # the block input at width 1.0 and at this width
    for rows in table:
        stage = []
        for kernel, mid, out, se, act, stride in rows:
            if minimal:
                kernel, se, act = 3, False, "relu"
            if layout == "tfslim":  # TF-slim's expand_input_by_factor(mid / in)
                scaled_mid = make_divisible(in_scaled * mid / in_full, 8)
            else:
                scaled_mid = c(mid)
            stage.append((kernel, scaled_mid, c(out), 0.25 if se else 0.0, act, stride))
            in_full, in_scaled = out, c(out)
        stage_rows.append(stage)
    stages = _stages(stem, stage_rows, se_reduce_from="mid")
    head_act = "relu" if minimal else "hswish"
    last_in = stages[-1][-1].out_channels
    # torchvision: lastconv_output_channels = 6 * lastconv_input_channels (960 / 576 at 1.0).
    last = Block(type="cn", in_channels=last_in, mid_channels=6 * last_in,
                 out_channels=6 * last_in, kernel=1, stride=1, act=head_act)
    hidden = last_channel if layout == "tfslim" else make_divisible(last_channel * width, 8)
    return Arch(
        name=name, resolution=resolution, num_classes=num_classes,
        stem=Stem(channels=stem, stride=2, act=head_act),
        stages=stages + ((last,),),
        head=Head(type="pool_conv_act", hidden=hidden, act=head_act, dropout=0.2),
        se_gate="hard_sigmoid", se_reduce_from="mid", se_act="relu",
        bn_eps=0.001, bn_momentum=0.01, act_default=head_act)


def mobilenet_v3_large(width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
                       minimal: bool = False, layout: str = "torchvision") -> Arch:
    """MobileNetV3-Large (Howard et al., ICCV 2019, arXiv:1905.02244, Table 1).

    SE reduced from the expanded width with hard-sigmoid, efficient head (pool, Linear to
    1280, h-swish). ``minimal`` gives the "minimalistic" variant of the TF-slim README (no
    SE, no h-swish, 3x3 kernels only). 219M MACs and 5.4M parameters at width 1.0
    (Table 3). ``layout`` decides how a width below 1.0 scales (:data:`V3_LAYOUTS`; both
    are the same network at 1.0): the registered ``mobilenet_v3_large_075`` is TF-slim's
    (3.99M parameters, 155M MACs, as its README lists for the 0.75 checkpoint).
    """
    table = [
        [(3, 16, 16, False, "relu", 1)],
        [(3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1)],
        [(5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1),
         (5, 120, 40, True, "relu", 1)],
        [(3, 240, 80, False, "hswish", 2), (3, 200, 80, False, "hswish", 1),
         (3, 184, 80, False, "hswish", 1), (3, 184, 80, False, "hswish", 1)],
        [(3, 480, 112, True, "hswish", 1), (3, 672, 112, True, "hswish", 1)],
        [(5, 672, 160, True, "hswish", 2), (5, 960, 160, True, "hswish", 1),
         (5, 960, 160, True, "hswish", 1)],
    ]
    name = "mobilenet_v3_large" + _width_suffix(width) + ("_minimal" if minimal else "")
    return _v3_arch(name, width, resolution, num_classes, table, 1280, minimal, layout)


def mobilenet_v3_small(width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
                       minimal: bool = False, layout: str = "torchvision") -> Arch:
    """MobileNetV3-Small (Howard et al., ICCV 2019, arXiv:1905.02244, Table 2).

    56M MACs and 2.5M parameters in the paper (Table 3); torchvision's and the TF-slim
    checkpoints' layout counts 2.54M (torchvision) with the 1024-wide head. ``layout`` as
    for :func:`mobilenet_v3_large`: the registered ``mobilenet_v3_small_075`` is TF-slim's
    (2.04M parameters, 43.4M MACs, as its README lists).
    """
    table = [
        [(3, 16, 16, True, "relu", 2)],
        [(3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1)],
        [(5, 96, 40, True, "hswish", 2), (5, 240, 40, True, "hswish", 1),
         (5, 240, 40, True, "hswish", 1)],
        [(5, 120, 48, True, "hswish", 1), (5, 144, 48, True, "hswish", 1)],
        [(5, 288, 96, True, "hswish", 2), (5, 576, 96, True, "hswish", 1),
         (5, 576, 96, True, "hswish", 1)],
    ]
    name = "mobilenet_v3_small" + _width_suffix(width) + ("_minimal" if minimal else "")
    return _v3_arch(name, width, resolution, num_classes, table, 1024, minimal, layout)


def mnasnet_b1(width: float = 1.0, resolution: int = 224, num_classes: int = 1000) -> Arch:
    """MnasNet-B1 (Tan et al., CVPR 2019, arXiv:1807.11626 v1, Figure 7 without SE).

    The network torchvision calls ``mnasnet1_0``: ReLU, no SE, BatchNorm momentum
    ``1 - 0.9997``; channels rounded as torchvision's ``_round_to_multiple_of``.
    """
    depths = [make_divisible(d * width, 8) for d in (32, 16, 24, 40, 80, 96, 192, 320)]
    stacks = [(3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1)]
    stage_rows: list[list[_Row]] = [[(3, 1, depths[1], 0.0, "relu", 1)]]
    for i, (kernel, stride, factor, repeats) in enumerate(stacks):
        stage_rows.append(_repeat([(kernel, factor, depths[i + 2], 0.0, "relu", stride)],
                                  repeats))
    stages = _stages(depths[0], stage_rows, se_reduce_from="in", mid_is_expansion=True)
    # torchvision's first unit is a depthwise-separable conv with no residual (32 -> 16).
    return Arch(
        name=f"mnasnet_b1{_width_suffix(width)}", resolution=resolution,
        num_classes=num_classes, stem=Stem(channels=depths[0], stride=2, act="relu"),
        stages=stages, head=Head(type="conv_bn_act_pool", channels=1280, act="relu",
                                 dropout=0.2),
        bn_momentum=1 - 0.9997)


def mnasnet_a1(width: float = 1.0, resolution: int = 224, num_classes: int = 1000) -> Arch:
    """MnasNet-A1 (Tan et al., CVPR 2019, arXiv:1807.11626, Figure 7).

    ReLU; SE (ratio 0.25 of the block input, sigmoid gate) in the 40, 112 and 160
    stages; 312M MACs and 3.9M parameters (TPU models README). BatchNorm as in the
    TensorFlow reference (eps 1e-3, momentum 0.01 in PyTorch's convention).
    """
    def c(channels: int) -> int:
        return make_divisible(channels * width, 8)

    settings = [(3, 6, 24, 0.0, 2, 2), (5, 3, 40, 0.25, 2, 3), (3, 6, 80, 0.0, 2, 4),
                (3, 6, 112, 0.25, 1, 2), (5, 6, 160, 0.25, 2, 3), (3, 6, 320, 0.0, 1, 1)]
    stage_rows: list[list[_Row]] = [[(3, 1, c(16), 0.0, "relu", 1)]]
    for kernel, factor, out, se, stride, repeats in settings:
        stage_rows.append(_repeat([(kernel, factor, c(out), se, "relu", stride)], repeats))
    stem = c(32)
    return Arch(
        name=f"mnasnet_a1{_width_suffix(width)}", resolution=resolution,
        num_classes=num_classes, stem=Stem(channels=stem, stride=2, act="relu"),
        stages=_stages(stem, stage_rows, se_reduce_from="in", mid_is_expansion=True),
        head=Head(type="conv_bn_act_pool", channels=1280, act="relu", dropout=0.2),
        se_gate="sigmoid", se_reduce_from="in", bn_eps=0.001, bn_momentum=0.01)


def efficientnet_lite0(resolution: int = 224, num_classes: int = 1000) -> Arch:
    """EfficientNet-Lite0 (Tan & Le, ICML 2019, arXiv:1905.11946; TPU models ``lite`` README).

    EfficientNet-B0's MBConv layout without SE, ReLU6 instead of swish, stem and head
    fixed at 32 and 1280 (the lite README: 4.7M parameters).
    """
    settings = [(3, 1, 16, 1, 1), (3, 6, 24, 2, 2), (5, 6, 40, 2, 2), (3, 6, 80, 2, 3),
                (5, 6, 112, 1, 3), (5, 6, 192, 2, 4), (3, 6, 320, 1, 1)]
    stage_rows = [_repeat([(k, e, out, 0.0, "relu6", s)], n) for k, e, out, s, n in settings]
    return Arch(
        name="efficientnet_lite0", resolution=resolution, num_classes=num_classes,
        stem=Stem(channels=32, stride=2, act="relu6"),
        stages=_stages(32, stage_rows, se_reduce_from="in", mid_is_expansion=True),
        head=Head(type="conv_bn_act_pool", channels=1280, act="relu6", dropout=0.2),
        bn_eps=0.001, bn_momentum=0.01)


def _register_all() -> None:
    entries: list[tuple[str, object]] = []
    for w in (1.0, 0.75, 0.5, 0.25):
        entries.append((f"mobilenet_v1{_width_suffix(w)}", lambda w=w: mobilenet_v1(w)))
    for w in (1.0, 1.4, 0.75, 0.5, 0.35):
        entries.append((f"mobilenet_v2{_width_suffix(w)}", lambda w=w: mobilenet_v2(w)))
    # torchvision's layout at 1.0 (the same network as TF-slim's there), TF-slim's at 0.75
    # (the published 0.75 checkpoints; torchvision ships none)
    for w in (1.0, 0.75):
        entries.append((f"mobilenet_v3_large{_width_suffix(w)}",
                        lambda w=w: mobilenet_v3_large(w, layout="tfslim")))
        entries.append((f"mobilenet_v3_small{_width_suffix(w)}",
                        lambda w=w: mobilenet_v3_small(w, layout="tfslim")))
    entries.append(("mobilenet_v3_large_minimal", lambda: mobilenet_v3_large(minimal=True)))
    entries.append(("mobilenet_v3_small_minimal", lambda: mobilenet_v3_small(minimal=True)))
    for w in (1.0, 0.75, 0.5, 0.35):
        entries.append((f"mnasnet_a1{_width_suffix(w)}", lambda w=w: mnasnet_a1(w)))
    for w in (1.0, 1.3, 0.75, 0.5):
        entries.append((f"mnasnet_b1{_width_suffix(w)}", lambda w=w: mnasnet_b1(w)))
    entries.append(("efficientnet_lite0", efficientnet_lite0))
    for name, factory in entries:
        register_arch(name)(factory)  # type: ignore[arg-type]


_register_all()
