"""The counting baselines: log #params and log MACs of an ``Arch``.

Both read the one analytic counter, :func:`mnas.arch.arch_costs` (its module states
what counts as a MAC); ``ArchCosts``, ``BlockCost``, ``arch_costs`` and ``block_costs``
are re-exported here for the proxies' users.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mnas.arch import Arch, ArchCosts, BlockCost, arch_costs, block_costs
from mnas.proxies._base import AccuracyProxy, register_proxy
from mnas.proxies._resolution import at_resolution, check_resolution

if TYPE_CHECKING:
    from mnas.proxies._base import BatchScorer
    from mnas.spaces import SearchSpace

__all__ = ["ArchCosts", "BlockCost", "FlopsProxy", "ParamsProxy", "arch_costs", "block_costs"]


@register_proxy
class ParamsProxy(AccuracyProxy):
    """Natural log of the built network's parameter count (the usual baseline).

    The log keeps scores on the scale of the other proxies (MnasNet's soft reward
    multiplies the score by a latency factor); ranks are those of the raw count, which
    :func:`arch_costs` gives.

    Surveys of zero-cost proxies (e.g. Krishnakumar et al., NeurIPS 2022 "NAS-Bench-Suite-Zero")
    find #params a strong baseline that many proxies fail to beat.

    Args:
        seed: Accepted for a uniform interface; the count is exact and needs no randomness.
        resolution: Accepted for a uniform interface; parameters do not depend on it.
    """

    name = "params"

    def __init__(self, *, seed: int = 0, resolution: int | None = None) -> None:
        self.seed = seed
        self.resolution = check_resolution(resolution)

    def score(self, arch: Arch) -> float:
        return math.log(arch_costs(arch).params)

    def batch_scorer(self, space: SearchSpace) -> BatchScorer | None:
        """``log(params)`` of code rows, exactly, from per-unit count tables."""
        from mnas.proxies._count_scorer import count_scorer

        return count_scorer(space, "params")


@register_proxy
class FlopsProxy(AccuracyProxy):
    """Natural log of the multiply-accumulates of one image (the FLOPs baseline).

    Counted analytically from the ``Arch`` (conv + Linear MACs, see :func:`mnas.arch.arch_costs`).

    Args:
        seed: Accepted for a uniform interface; the count is exact and needs no randomness.
        resolution: Count at this input size instead of each arch's own.
    """

    name = "flops"

    def __init__(self, *, seed: int = 0, resolution: int | None = None) -> None:
        self.seed = seed
        self.resolution = check_resolution(resolution)

    def score(self, arch: Arch) -> float:
        return math.log(arch_costs(at_resolution(arch, self.resolution)).macs)

    def batch_scorer(self, space: SearchSpace) -> BatchScorer | None:
        """``log(MACs)`` of code rows, exactly, from per-unit count tables (None with a
        ``resolution`` override: then the rows are scored one ``Arch`` at a time)."""
        if self.resolution is not None:
            return None
        from mnas.proxies._count_scorer import count_scorer

        return count_scorer(space, "macs")
