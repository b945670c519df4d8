"""What a batched search maximises: the score under the hard budget, MnasNet's soft reward
otherwise (:func:`mnas.search.soft_reward`, vectorised)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mnas.search._config import SearchConfig

__all__ = ["fitness"]


def fitness(config: SearchConfig, score: npt.NDArray[np.float64],
            latency_ms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The score (hard budget: every candidate is within it) or the soft reward
    ``score * (latency / budget) ** w`` (the exponent's sign flipped for a negative score)."""
    if config.objective == "soft":
        weight = np.where(score >= 0, config.soft_weight, -config.soft_weight)
        return np.asarray(score * (latency_ms / config.budget_ms) ** weight, dtype=np.float64)
    return score
