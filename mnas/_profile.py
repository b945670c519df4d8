"""Parameter and multiply-accumulate counts of an architecture, measured with fvcore.

fvcore traces the built network and counts convolutions and linear layers as MACs
(the convention of the MobileNet papers' "Mult-Adds"). It skips element-wise ops
(h-swish, hard-sigmoid, the SE multiply, residual adds) unless given handlers: mnas
gives it handlers that count one MAC per output element of the SE multiply only and
zero for the rest, so every op is accounted for on purpose and no warning is printed.
BatchNorm is folded into the preceding conv at inference and counts zero.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from mnas.arch import Arch
from mnas.models import build

__all__ = ["Profile", "profile"]

_ZERO_OPS = (
    "aten::hardswish", "aten::hardswish_", "aten::hardsigmoid", "aten::hardsigmoid_",
    "aten::relu", "aten::relu_", "aten::relu6", "aten::hardtanh", "aten::hardtanh_",
    "aten::silu", "aten::silu_", "aten::sigmoid", "aten::sigmoid_", "aten::add", "aten::add_",
    "aten::batch_norm", "aten::dropout", "aten::flatten", "aten::adaptive_avg_pool2d",
    "aten::mean",
)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Size and cost of an architecture at its resolution, batch 1.

    Attributes:
        params: Trainable parameters (including BatchNorm affine parameters).
        macs: Multiply-accumulates of convs, linears and the SE channel-wise multiply.
    """

    params: int
    macs: int


def _zero_handle(inputs: list[Any], outputs: list[Any]) -> int:
    return 0


def _mul_handle(inputs: list[Any], outputs: list[Any]) -> int:
    from fvcore.nn.jit_handles import get_shape

    shape = get_shape(outputs[0])
    count = 1
    for dim in shape or ():
        count *= dim
    return count


@functools.lru_cache(maxsize=256)
def _profile_cached(key: str, arch: Arch) -> Profile:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore calls the deprecated torch.jit.script on import
        from fvcore.nn import FlopCountAnalysis

    model = build(arch).eval()
    params = sum(p.numel() for p in model.parameters())
    x = torch.zeros(1, 3, arch.resolution, arch.resolution)
    analysis = FlopCountAnalysis(model, x)
    analysis.set_op_handle(**{op: _zero_handle for op in _ZERO_OPS})
    analysis.set_op_handle(**{"aten::mul": _mul_handle, "aten::mul_": _mul_handle})
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore traces through the deprecated torch.jit
        macs = int(analysis.total())
    return Profile(params=params, macs=macs)


def profile(arch: Arch) -> Profile:
    """Parameters and MACs of ``arch`` (fvcore trace of the built network, batch 1)."""
    return _profile_cached(arch.canonical_key(), arch)
