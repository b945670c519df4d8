"""Genuine torchvision models from an ``Arch``, and state_dict conversion both ways.

``to_torchvision(arch)`` returns a real ``torchvision.models.MobileNetV3`` (through its
``inverted_residual_setting`` and ``last_channel``) or ``MobileNetV2`` whenever the
architecture fits that class, and otherwise raises an error naming the first block
that does not fit and why.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mnas.arch import Arch, Block, make_divisible
from mnas.errors import MnasInputError

__all__ = [
    "TorchvisionConfig",
    "convert_state_dict",
    "from_torchvision_state_dict",
    "to_torchvision",
    "to_torchvision_state_dict",
    "torchvision_config",
]


@dataclass(frozen=True, kw_only=True)
class TorchvisionConfig:
    """How to build the torchvision model of an arch.

    Attributes:
        cls: ``"MobileNetV3"`` or ``"MobileNetV2"``.
        kwargs: Plain-data keyword arguments; for MobileNetV3 the
            ``inverted_residual_setting`` is a list of ``InvertedResidualConfig`` argument
            tuples ``(input_channels, kernel, expanded_channels, out_channels, use_se,
            activation, stride, dilation, width_mult)``.
    """

    cls: str
    kwargs: dict[str, Any]


def _block_name(s: int, b: int, block: Block) -> str:
    se = f"_se{block.se_ratio:g}" if block.se_ratio else ""
    return (f"stages[{s}][{b}] ({block.type} k{block.kernel} s{block.stride} "
            f"{block.in_channels}->{block.mid_channels}->{block.out_channels}{se} {block.act})")


def _misfit(cls: str, where: str, why: str) -> MnasInputError:
    return MnasInputError(f"{where} does not fit torchvision {cls}: {why}")


def _is_divisible_fixed_point(channels: int) -> bool:
    return make_divisible(channels, 8) == channels


def _v3_config(arch: Arch) -> TorchvisionConfig:
    cls = "MobileNetV3"
    if arch.stem.kernel != 3 or arch.stem.stride != 2 or arch.stem.act != "hswish":
        raise _misfit(cls, "stem", "torchvision's stem is a 3x3 stride-2 conv with h-swish, got "
                      f"k{arch.stem.kernel} s{arch.stem.stride} {arch.stem.act}")
    if (arch.bn_eps, arch.bn_momentum) != (0.001, 0.01):
        raise _misfit(cls, "bn", f"torchvision uses eps 0.001, momentum 0.01, got "
                      f"{arch.bn_eps}, {arch.bn_momentum}")
    head = arch.head
    if head.type != "pool_conv_act" or head.channels is not None or head.hidden is None or (
            head.act != "hswish"):
        raise _misfit(cls, "head", "torchvision's head is pool, Linear(last_channel), h-swish, "
                      f"got {head}")
    blocks = list(arch.iter_blocks())
    *body, (ls, lb, last) = blocks
    if not (last.type == "cn" and last.kernel == 1 and last.stride == 1
            and last.act == "hswish" and not last.skip
            and last.out_channels == 6 * last.in_channels):
        raise _misfit(cls, _block_name(ls, lb, last),
                      "the last block must be a 1x1 conv-BN-h-swish to 6x its input width")
    if arch.stem.channels != (body[0][2].in_channels if body else last.in_channels):
        raise _misfit(cls, "stem", "stem width must equal the first block's input")
    uses_se = any(block.has_se for _, _, block in body)
    if uses_se and (arch.se_gate, arch.se_reduce_from, arch.se_act) != (
            "hard_sigmoid", "mid", "relu"):
        raise _misfit(cls, "se", "torchvision's SE squeezes the expanded width with ReLU and "
                      "hard-sigmoid")
    setting = []
    for s, b, block in body:
        where = _block_name(s, b, block)
        if block.type not in ("ir", "ds"):
            raise _misfit(cls, where, f"block type {block.type!r} (only ir and ds fit)")
        if block.type == "ir" and block.mid_channels == block.in_channels:
            raise _misfit(cls, where, "an ir block whose mid equals its input is built by "
                          "torchvision without the expansion conv; use a ds block")
        if block.act not in ("relu", "hswish"):
            raise _misfit(cls, where, f"activation {block.act!r} (only relu and hswish fit)")
        if block.stride not in (1, 2):
            raise _misfit(cls, where, f"stride {block.stride} (only 1 and 2 fit)")
        if block.se_ratio not in (0.0, 0.25):
            raise _misfit(cls, where, f"SE ratio {block.se_ratio} (torchvision uses 0.25)")
        if block.has_se and block.se_channels != make_divisible(block.mid_channels // 4, 8):
            raise _misfit(cls, where, "SE width must be make_divisible(mid // 4, 8)")
        if block.skip != (block.stride == 1 and block.in_channels == block.out_channels):
            raise _misfit(cls, where, "torchvision adds the residual exactly when stride is 1 "
                          "and input equals output width")
        for channels in (block.in_channels, block.mid_channels, block.out_channels):
            if not _is_divisible_fixed_point(channels):
                raise _misfit(cls, where, f"channel count {channels} is not a multiple of 8 "
                              "(torchvision rounds it)")
        setting.append((block.in_channels, block.kernel, block.mid_channels, block.out_channels,
                        block.has_se, "HS" if block.act == "hswish" else "RE", block.stride, 1,
                        1.0))
    return TorchvisionConfig(cls=cls, kwargs={
        "inverted_residual_setting": setting, "last_channel": head.hidden,
        "num_classes": arch.num_classes, "dropout": head.dropout})


def _v2_width(stem: int, last_channel: int | None) -> float | None:
    """A ``width_mult`` for which torchvision's MobileNetV2 makes this stem and head width."""
    candidates = [1.0, stem / 32] + ([last_channel / 1280] if last_channel else [])
    for width in candidates:
        if make_divisible(32 * width, 8) == stem and last_channel == make_divisible(
                1280 * max(1.0, width), 8):
            return width
    return None


def _v2_config(arch: Arch) -> TorchvisionConfig:
    cls = "MobileNetV2"
    if (arch.stem.kernel, arch.stem.stride, arch.stem.act) != (3, 2, "relu6"):
        raise _misfit(cls, "stem", "torchvision's stem is a 3x3 stride-2 conv with ReLU6")
    if (arch.bn_eps, arch.bn_momentum) != (1e-5, 0.1):
        raise _misfit(cls, "bn", "torchvision uses BatchNorm defaults (eps 1e-5, momentum 0.1)")
    head = arch.head
    if head.type != "conv_bn_act_pool" or head.channels is None or head.hidden is not None or (
            head.act != "relu6"):
        raise _misfit(cls, "head", "torchvision's head is a 1x1 conv-BN-ReLU6, pool, Linear; "
                      f"got {head}")
    width = _v2_width(arch.stem.channels, head.channels)
    if width is None:
        raise _misfit(cls, "stem", f"no width multiplier gives stem {arch.stem.channels} and "
                      f"head {head.channels} (torchvision: stem make_divisible(32 x w), head "
                      "make_divisible(1280 x max(1, w)))")
    setting = []
    for s, b, block in arch.iter_blocks():
        where = _block_name(s, b, block)
        if block.type not in ("ir", "ds") or block.kernel != 3 or block.act != "relu6" or (
                block.has_se):
            raise _misfit(cls, where, "torchvision's MobileNetV2 has only 3x3 ReLU6 inverted "
                          "residuals without SE")
        if block.type == "ir" and block.mid_channels == block.in_channels:
            raise _misfit(cls, where, "mid equal to input is built without the expansion conv")
        if block.skip != (block.stride == 1 and block.in_channels == block.out_channels):
            raise _misfit(cls, where, "residual must be exactly stride 1 and equal widths")
        if not _is_divisible_fixed_point(block.out_channels):
            raise _misfit(cls, where, f"output width {block.out_channels} is not a multiple of 8")
        expansion = block.mid_channels / block.in_channels
        if int(round(block.in_channels * expansion)) != block.mid_channels:
            raise _misfit(cls, where, "mid width is not round(input x t)")
        # torchvision scales c by width_mult; pass c / width so that it lands on the final width.
        setting.append([expansion, block.out_channels / width, 1, block.stride])
    return TorchvisionConfig(cls=cls, kwargs={
        "inverted_residual_setting": setting, "width_mult": width,
        "num_classes": arch.num_classes, "dropout": head.dropout})


def torchvision_config(arch: Arch) -> TorchvisionConfig:
    """The torchvision class and arguments that build ``arch``.

    Raises:
        MnasInputError: Naming the first block (or stem/head) that does not fit.
    """
    if arch.head.type == "pool_conv_act":
        return _v3_config(arch)
    return _v2_config(arch)


def to_torchvision(arch: Arch) -> nn.Module:
    """A genuine ``torchvision.models.MobileNetV3`` or ``MobileNetV2`` built from ``arch``.

    Raises:
        MnasInputError: If the arch does not fit either class (naming the first block
            that does not).
    """
    from torchvision.models import mobilenetv2, mobilenetv3

    config = torchvision_config(arch)
    if config.cls == "MobileNetV3":
        kwargs = dict(config.kwargs)
        kwargs["inverted_residual_setting"] = [
            mobilenetv3.InvertedResidualConfig(*row) for row in kwargs["inverted_residual_setting"]]
        model: nn.Module = mobilenetv3.MobileNetV3(**kwargs)
    else:
        model = mobilenetv2.MobileNetV2(**config.kwargs)
    return model


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], target: nn.Module
                       ) -> dict[str, torch.Tensor]:
    """Rename ``state_dict`` to ``target``'s keys, matching tensors in registration order.

    mnas networks register their layers in the same order as torchvision's MobileNetV2,
    MobileNetV3 and MNASNet (and as timm's), so the i-th tensor of one is the i-th of
    the other; every pair is checked for the same kind (weight, bias, running stats)
    and shape.

    Args:
        state_dict: The source weights.
        target: The module whose key names the result takes.

    Returns:
        A state_dict that ``target.load_state_dict(..., strict=True)`` accepts.

    Raises:
        MnasInputError: Different tensor counts, or the first pair whose kind or shape differ.
    """
    source_items = list(state_dict.items())
    target_state = target.state_dict()
    target_items = list(target_state.items())
    if len(source_items) != len(target_items):
        raise MnasInputError(
            f"cannot convert state_dict: source has {len(source_items)} tensors, target "
            f"{type(target).__name__} has {len(target_items)}; the architectures differ")
    result: OrderedDict[str, torch.Tensor] = OrderedDict()
    # Keep the target's per-module versions (torchvision's MNASNet checks them on load).
    result._metadata = getattr(target_state, "_metadata", None)  # type: ignore[attr-defined]
    for (src_key, tensor), (dst_key, dst_tensor) in zip(source_items, target_items, strict=True):
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1] or (
                tensor.shape != dst_tensor.shape):
            raise MnasInputError(
                f"cannot convert state_dict: {src_key} {tuple(tensor.shape)} does not match "
                f"{dst_key} {tuple(dst_tensor.shape)}; the architectures differ")
        result[dst_key] = tensor
    return result


def to_torchvision_state_dict(mnas_model: nn.Module, torchvision_model: nn.Module
                              ) -> dict[str, torch.Tensor]:
    """The weights of an mnas model under a torchvision model's key names."""
    return convert_state_dict(mnas_model.state_dict(), torchvision_model)


def from_torchvision_state_dict(torchvision_model: nn.Module, mnas_model: nn.Module
                                ) -> dict[str, torch.Tensor]:
    """The weights of a torchvision model under an mnas model's key names."""
    return convert_state_dict(torchvision_model.state_dict(), mnas_model)
