"""Accuracy models fitted on real labels (``mnas accuracy fit``) and their estimators."""

from __future__ import annotations

from mnas.accuracy._encoding import ENCODINGS, ArchEncoding, SpaceEncoding
from mnas.accuracy._estimators import (
    DEFAULT_ESTIMATOR,
    DefaultEstimator,
    LabelsEstimator,
    ModelEstimator,
    describe_score,
    estimator_for_space,
    list_shipped_models,
    load_shipped_model,
    resolve_estimator,
)
from mnas.accuracy._labels import LabelledArch, LabelSet, load_labels
from mnas.accuracy._model import (
    MIN_LABELS,
    MODEL_FORMAT,
    AccuracyModel,
    accuracy_model_from_dict,
    cross_validate,
    fit_accuracy_model,
    load_accuracy_model,
)
from mnas.accuracy._quality import BAND, Quality, band_mask, kendall, measure_quality
from mnas.accuracy._regressors import FAMILIES, Regressor, fit_regressor

__all__ = [
    "BAND",
    "DEFAULT_ESTIMATOR",
    "DefaultEstimator",
    "LabelsEstimator",
    "ModelEstimator",
    "describe_score",
    "estimator_for_space",
    "list_shipped_models",
    "load_shipped_model",
    "resolve_estimator",
    "ENCODINGS",
    "FAMILIES",
    "MIN_LABELS",
    "MODEL_FORMAT",
    "AccuracyModel",
    "ArchEncoding",
    "LabelSet",
    "LabelledArch",
    "Quality",
    "Regressor",
    "SpaceEncoding",
    "accuracy_model_from_dict",
    "band_mask",
    "cross_validate",
    "fit_accuracy_model",
    "fit_regressor",
    "kendall",
    "load_accuracy_model",
    "load_labels",
    "measure_quality",
]
