"""Samplers of ``mnas search`` beyond Optuna's own: regularized evolution, and the candidate
generation (budget-screened fresh samples and mutations) that model-based samplers share."""

from __future__ import annotations

from mnas.search._samplers._candidates import CandidateGenerator
from mnas.search._samplers._evolution import EvolutionSampler

__all__ = ["CandidateGenerator", "EvolutionSampler"]
