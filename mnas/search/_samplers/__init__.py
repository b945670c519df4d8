"""Samplers of ``mnas search`` beyond Optuna's own: regularized evolution, predictor-guided
search, and the candidate generation (budget-screened fresh samples and mutations) they share."""

from __future__ import annotations

from mnas.search._samplers._candidates import CandidateGenerator
from mnas.search._samplers._evolution import EvolutionSampler
from mnas.search._samplers._predictor import ACQUISITIONS, PredictorSampler, one_hot

__all__ = ["ACQUISITIONS", "CandidateGenerator", "EvolutionSampler", "PredictorSampler",
           "one_hot"]
