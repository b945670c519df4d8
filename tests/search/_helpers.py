"""Small helpers shared by the search tests."""

from __future__ import annotations

from mnas.arch import Arch


class CountingProxy:
    """An analytic stand-in proxy that counts its calls (score = -latency-free MAC proxy)."""

    name = "counting"
    cost = "analytic"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, arch: Arch) -> float:
        self.calls += 1
        return float(sum(b.mid_channels * b.kernel for b in arch.blocks) + arch.resolution)
