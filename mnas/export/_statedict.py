"""Move a state_dict between two modules that hold the same tensors in the same order.

mnas, torchvision and timm register a MobileNet's parameters and buffers in the same
order (stem, blocks, head); only the names differ, and a Linear may stand where the
other has a 1x1 conv. Matching by position, with every shape checked, maps one onto
the other without a hand-written name table.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mnas.errors import MnasError

__all__ = ["map_state_dict"]


def _fits(source: torch.Tensor, target: torch.Tensor) -> bool:
    if source.shape == target.shape:
        return True
    # a Linear weight [out, in] standing for a 1x1 conv weight [out, in, 1, 1], or back
    squeeze = [d for d in source.shape if d != 1] == [d for d in target.shape if d != 1]
    return squeeze and source.numel() == target.numel() and source.shape[:2] == target.shape[:2]


def map_state_dict(state_dict: Mapping[str, torch.Tensor], target: nn.Module
                   ) -> dict[str, torch.Tensor]:
    """``state_dict`` renamed (and 1x1-reshaped) onto the keys of ``target``, by position.

    Args:
        state_dict: Tensors of the source module, in its registration order.
        target: A module with the same tensors in the same order.

    Returns:
        A state_dict that ``target.load_state_dict`` accepts (strict).

    Raises:
        MnasError: The two disagree in count or in the shape at some position; the
            message names both keys.
    """
    target_sd = target.state_dict()
    if len(state_dict) != len(target_sd):
        raise MnasError(
            f"cannot map the state_dict onto {type(target).__name__}: {len(state_dict)} tensors "
            f"against {len(target_sd)}; the two networks differ")
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, src), (dst_key, dst) in zip(state_dict.items(), target_sd.items(), strict=True):
        if not _fits(src, dst):
            raise MnasError(
                f"cannot map {src_key!r} {tuple(src.shape)} onto {dst_key!r} {tuple(dst.shape)} "
                f"of {type(target).__name__}; the two networks differ at this tensor")
        mapped[dst_key] = src.detach().reshape(dst.shape).clone()
    return mapped
