"""``--format timm``: the arch_def and keyword arguments that build the network with timm.

timm's ``MobileNetV3`` class holds networks whose head pools first (MobileNetV3), its
``EfficientNet`` class those whose head convolves first (MobileNetV1/V2, MnasNet).
Either is fed ``decode_arch_def(ARCH_DEF)`` plus keyword arguments that pin what an
mnas ``Arch`` states explicitly: exact channel counts (``round_chs_fn=int``), BatchNorm
eps/momentum, the SE gate, activation and squeeze rounding. An architecture either
class cannot express is a one-line error naming the first field that does not fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mnas.arch import Arch, Block, format_token, make_divisible
from mnas.errors import MnasError, MnasInputError
from mnas.export._source import py_bool, py_float, py_int, py_name, sanitize_text

__all__ = ["TimmPlan", "timm_plan", "timm_source"]

_TIMM_ACTS = {
    "relu": '"relu"',
    "relu6": '"relu6"',
    "hswish": '"hard_swish"',
    "swish": '"swish"',
    "identity": '"identity"',
}
_TOKEN_ACT_CODES = {"relu": "re", "relu6": "r6", "hswish": "hs", "swish": "sw"}
_GATES = {"sigmoid": '"sigmoid"', "hard_sigmoid": '"hard_sigmoid"'}
_CLASS_MODULES = {
    "MobileNetV3": "timm.models.mobilenetv3",
    "EfficientNet": "timm.models.efficientnet",
}
_TOKEN_RE = re.compile(r"[a-z]+(_[a-z]*[0-9.]*)*")
_MAX_OUTPUT_STRIDE = 32


@dataclass(frozen=True, kw_only=True)
class TimmPlan:
    """How timm builds an architecture.

    Attributes:
        model_class: ``"MobileNetV3"`` or ``"EfficientNet"``.
        arch_def: timm ``arch_def`` tokens, one list per stage.
        kwargs: Keyword arguments of the class, as ``(name, Python source)`` pairs.
    """

    model_class: str
    arch_def: tuple[tuple[str, ...], ...]
    kwargs: tuple[tuple[str, str], ...]


def _misfit(where: str, why: str) -> MnasInputError:
    return MnasInputError(
        f"{where} does not fit timm's MobileNetV3/EfficientNet classes: {why}; export it with "
        "--format pytorch instead")


def _se_text(block: Block, arch: Arch, expansion: float, se_from_exp: bool) -> str:
    """The shortest ``se`` value for which timm computes ``block.se_channels`` squeeze channels."""
    se_in = block.mid_channels if block.type == "ir" else block.in_channels
    def round_fn(value: float) -> int:
        return make_divisible(value, 8) if arch.se_reduce_from == "mid" else round(value)

    def squeeze(ratio: float) -> int:
        if not se_from_exp:
            ratio /= expansion
        return int(round_fn(se_in * ratio))

    exact = block.se_channels / se_in * (1.0 if se_from_exp else expansion)
    candidates = [repr(float(block.se_ratio))]
    candidates += [f"{exact:.{digits}f}".rstrip("0").rstrip(".") for digits in range(1, 12)]
    candidates.append(repr(exact))
    for text in candidates:
        if float(text) > 0 and squeeze(float(text)) == block.se_channels:
            return text[:-2] if text.endswith(".0") else text
    raise MnasError(f"no timm se ratio gives {block.se_channels} squeeze channels for a block "
                    f"of width {se_in}")


def _token(block: Block, arch: Arch, model_class: str, where: str) -> str:
    if block.stride not in (1, 2):
        raise _misfit(f"{where}.stride", f"timm allows stride 1 or 2, got {block.stride}")
    parts = [p for p in format_token(block).split("_")
             if not (p.startswith("se") or (p.startswith("n") and p != "noskip"))]
    expansion = 1.0
    for part in parts:
        if part.startswith("e"):
            expansion = float(part[1:])
    if block.act in _TOKEN_ACT_CODES:
        code = "n" + _TOKEN_ACT_CODES[block.act]
        tail = parts[-1] if parts[-1] in ("skip", "noskip") else None
        parts = [*parts[:-1], code, tail] if tail else [*parts, code]
    elif block.act != arch.stem.act:  # no code: only the network default can express it
        raise _misfit(f"{where}.act", f"timm tokens have no code for {block.act!r} (it is "
                      f"only possible as the network default, the stem's {arch.stem.act!r})")
    if block.has_se:
        se = "se" + _se_text(block, arch, expansion, se_from_exp=model_class == "MobileNetV3")
        c_index = next(i for i, p in enumerate(parts) if p.startswith("c"))
        parts.insert(c_index + 1, se)
    token = "_".join(parts)
    if not _TOKEN_RE.fullmatch(token):  # defensive: only letters, digits, '.', '_'
        raise MnasError(f"{where}: internal error, unexpected timm token {token!r}")
    return token


def _stages(arch: Arch, model_class: str) -> tuple[tuple[str, ...], ...]:
    stages: list[list[str]] = []
    stride = arch.stem.stride
    for s, b, block in arch.iter_blocks():
        where = f"stages[{s}][{b}]"
        stride *= block.stride
        if stride > _MAX_OUTPUT_STRIDE:
            raise _misfit(where, f"total stride {stride} exceeds 32, where timm turns strides "
                          "into dilation")
        token = _token(block, arch, model_class, where)
        # timm applies a stride only to the first block of a stage: split a stage there
        if b == 0 or block.stride > 1:
            stages.append([token])
        else:
            stages[-1].append(token)
    return tuple(tuple(stage) for stage in stages)


def timm_plan(arch: Arch) -> TimmPlan:
    """Which timm class builds ``arch``, with which arch_def and keyword arguments.

    Raises:
        MnasInputError: ``arch`` does not fit either class; names the first misfit.
    """
    stem, head = arch.stem, arch.head
    if stem.stride != 2:
        raise _misfit("stem.stride", f"timm's stem has stride 2, got {stem.stride}")
    has_head_act = head.channels is not None or head.hidden is not None
    if has_head_act and head.act != stem.act:
        raise _misfit("head.act", f"timm's head uses the network activation (the stem's "
                      f"{stem.act!r}), got {head.act!r}")
    act = py_name(stem.act, _TIMM_ACTS, where="stem.act")
    kwargs: list[tuple[str, str]] = [
        ("num_classes", py_int(arch.num_classes, where="num_classes")),
        ("stem_size", py_int(stem.channels, where="stem.channels")),
        ("fix_stem", "True"),
    ]
    if head.type == "pool_conv_act" and has_head_act:
        model_class = "MobileNetV3"
        if head.channels is not None and head.hidden is not None:
            raise _misfit("head", "timm's MobileNetV3 head has one 1x1 layer after pooling, "
                          "this head has a conv and a hidden Linear")
        if stem.kernel != 3:
            raise _misfit("stem.kernel", f"timm's MobileNetV3 stem is 3x3, got {stem.kernel}")
        width = head.channels if head.channels is not None else head.hidden
        kwargs += [
            ("num_features", py_int(width, where="head width")),
            ("head_bias", py_bool(head.hidden is not None, where="head_bias")),
            ("head_norm", py_bool(head.channels is not None, where="head_norm")),
            ("se_from_exp", "True"),
        ]
    else:
        model_class = "EfficientNet"
        if head.hidden is not None:
            raise _misfit("head.hidden", "timm's EfficientNet head has no hidden Linear after "
                          "pooling")
        kwargs += [
            ("num_features", py_int(head.channels or 0, where="head.channels")),
            ("stem_kernel_size", py_int(stem.kernel, where="stem.kernel")),
        ]
    round_fn = "round_channels" if arch.se_reduce_from == "mid" else "round"
    kwargs += [
        ("round_chs_fn", "int"),
        ("act_layer", f"get_act_layer({act})"),
        ("norm_layer", f"partial(nn.BatchNorm2d, eps={py_float(arch.bn_eps, where='bn_eps')}, "
                       f"momentum={py_float(arch.bn_momentum, where='bn_momentum')})"),
        ("se_layer", "partial(\n        SqueezeExcite,\n"
                     f"        gate_layer={py_name(arch.se_gate, _GATES, where='se_gate')},\n"
                     "        force_act_layer=get_act_layer("
                     f"{py_name(arch.se_act, _TIMM_ACTS, where='se_act')}),\n"
                     f"        rd_round_fn={round_fn},\n    )"),
        ("drop_rate", py_float(head.dropout, where="head.dropout")),
    ]
    return TimmPlan(model_class=model_class, arch_def=_stages(arch, model_class),
                    kwargs=tuple(kwargs))


def timm_source(arch: Arch) -> str:
    """A Python file that builds ``arch`` with timm (see the module docstring)."""
    plan = timm_plan(arch)
    cls = plan.model_class
    lines = [
        f'"""A MobileNet-family network built by timm\'s {cls}, written by '
        "`mnas export --format timm`.",
        "",
        f"Architecture: {sanitize_text(arch.name)}",
        "",
        "``build()`` returns the network; ``build(\"weights.pt\")`` also loads a state_dict in",
        "timm's key names (written beside this file by mnas export --weights).",
        "Squeeze-excitation ratios below are relative to what timm reduces from "
        + ("(the expanded width)." if cls == "MobileNetV3" else "(the block input width)."),
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from functools import partial",
        "",
        "import torch",
        "from timm.layers import get_act_layer",
        "from timm.models._efficientnet_blocks import SqueezeExcite",
        "from timm.models._efficientnet_builder import decode_arch_def, round_channels",
        f"from {_CLASS_MODULES[cls]} import {cls}",
        "from torch import nn",
        "",
        '__all__ = ["ARCH_DEF", "KWARGS", "RESOLUTION", "build"]',
        "",
        f"RESOLUTION = {py_int(arch.resolution, where='resolution')}  # input height = width",
        "",
        "ARCH_DEF = [",
    ]
    for s, stage in enumerate(plan.arch_def):
        lines.append(f"    [  # stage {s}")
        lines += [f'        "{token}",' for token in stage]
        lines.append("    ],")
    lines += ["]", "", "KWARGS = dict("]
    lines += [f"    {name}={value}," for name, value in plan.kwargs]
    lines += [
        ")",
        "",
        "",
        f"def build(weights: str | None = None) -> {cls}:",
        f'    """timm\'s {cls} of ARCH_DEF and KWARGS; loads ``weights`` if given."""',
        f"    model = {cls}(decode_arch_def(ARCH_DEF), **KWARGS)",
        "    if weights is not None:",
        '        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))',
        "    return model",
        "",
    ]
    return "\n".join(lines)
