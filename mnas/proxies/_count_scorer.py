"""Vectorised parameter and MAC counts of a space's code rows (the ``params`` and ``flops``
proxies' batch scorers).

Both counts are sums over a network's units (stem, blocks, head) of what
:func:`mnas.arch.arch_costs` counts for each, so the per-unit tables of
:class:`mnas.spaces.UnitSums` give them exactly for any number of code rows: probe
architectures are counted by the one analytic counter, once per (width, resolution).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from mnas.arch import Arch, block_costs, conv_out_size, head_costs, stem_costs

if TYPE_CHECKING:
    from mnas.proxies._base import BatchScorer
    from mnas.spaces import SearchSpace, UnitSums

__all__ = ["LogCountScorer", "count_scorer", "unit_costs"]


def unit_costs(arch: Arch) -> list[tuple[float, float]]:
    """``(params, MACs)`` of every unit of ``arch``: the stem, each block, the head."""
    out = [stem_costs(arch.stem, arch.resolution)]
    size = conv_out_size(arch.resolution, arch.stem.kernel, arch.stem.stride)
    units = [(float(out[0].params), float(out[0].macs))]
    for cost in block_costs(arch):
        units.append((float(cost.params), float(cost.macs)))
        size = cost.out_size
    head = head_costs(arch.head, in_channels=arch.feature_channels, in_size=size,
                      num_classes=arch.num_classes)
    units.append((float(head.params), float(head.macs)))
    return units


class LogCountScorer:
    """``log`` of a space's parameter or MAC count, for code rows (a :class:`BatchScorer`).

    Args:
        sums: Per-unit ``(params, MACs)`` tables of the space.
        quantity: ``params`` or ``macs``.
    """

    def __init__(self, sums: UnitSums, quantity: Literal["params", "macs"]) -> None:
        self._sums = sums
        self._index = 0 if quantity == "params" else 1

    def __call__(self, codes: npt.NDArray[np.int64], /
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        total = self._sums.sums(codes)[self._index]
        return np.log(total), np.zeros(len(total))


def count_scorer(space: SearchSpace, quantity: Literal["params", "macs"]) -> BatchScorer | None:
    """The batch scorer of ``log(params)`` or ``log(MACs)`` over ``space``'s code rows, or
    None for a space that does not decompose into units (whole-layer op choices)."""
    from mnas.spaces import UnitSums, decomposes

    if not decomposes(space):
        return None
    return LogCountScorer(UnitSums(space, 2, unit_costs), quantity)
