"""Accuracy models fitted on real labels (``mnas accuracy fit``) and their estimators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.accuracy._encoding import ENCODINGS, ArchEncoding, SpaceEncoding
    from mnas.accuracy._estimators import (
        DefaultEstimator,
        LabelsEstimator,
        ModelEstimator,
        describe_score,
        estimate_context,
        estimator_for_space,
        format_score,
        load_shipped_model,
        model_estimate,
        resolve_estimator,
    )
    from mnas.accuracy._fit import fit_accuracy_model
    from mnas.accuracy._labels import LabelledArch, LabelSet, load_label_sources, load_labels
    from mnas.accuracy._model import (
        MIN_LABELS,
        MODEL_FORMAT,
        AccuracyModel,
        accuracy_model_from_dict,
        cross_validate,
        load_accuracy_model,
    )
    from mnas.accuracy._quality import BAND, Quality, band_mask, kendall, measure_quality
    from mnas.accuracy._regressors import FAMILIES, Regressor, fit_regressor
    from mnas.accuracy._shipped import DEFAULT_ESTIMATOR, list_shipped_models

_EXPORTS = {
    "mnas.accuracy._encoding": ("ENCODINGS", "ArchEncoding", "SpaceEncoding"),
    "mnas.accuracy._estimators": (
        "DefaultEstimator", "LabelsEstimator", "ModelEstimator", "describe_score",
        "estimate_context", "estimator_for_space", "format_score", "load_shipped_model",
        "model_estimate", "resolve_estimator"
    ),
    "mnas.accuracy._shipped": ("DEFAULT_ESTIMATOR", "list_shipped_models"),
    "mnas.accuracy._labels": ("LabelledArch", "LabelSet", "load_label_sources", "load_labels"),
    "mnas.accuracy._fit": ("fit_accuracy_model",),
    "mnas.accuracy._model": (
        "MIN_LABELS", "MODEL_FORMAT", "AccuracyModel", "accuracy_model_from_dict",
        "cross_validate", "load_accuracy_model"
    ),
    "mnas.accuracy._quality": ("BAND", "Quality", "band_mask", "kendall", "measure_quality"),
    "mnas.accuracy._regressors": ("FAMILIES", "Regressor", "fit_regressor"),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

__all__ = [
    "BAND",
    "DEFAULT_ESTIMATOR",
    "DefaultEstimator",
    "LabelsEstimator",
    "ModelEstimator",
    "describe_score",
    "estimate_context",
    "estimator_for_space",
    "format_score",
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
    "load_label_sources",
    "load_labels",
    "measure_quality",
    "model_estimate",
]
