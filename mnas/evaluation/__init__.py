"""Measured accuracy: labelled images from disk, the standard preprocessing, top-1/top-5
with a 95% interval, and a labels-CSV row for ``mnas accuracy fit``."""

from __future__ import annotations

from mnas.evaluation._evaluate import Evaluation, evaluate_model, pick_device, wilson_interval
from mnas.evaluation._images import (
    CALIBRATION_PREPROCESS,
    ImageSet,
    calibration_batches,
    describe_eval_preprocess,
    eval_batches,
    open_images,
)
from mnas.evaluation._label_row import append_label_row

__all__ = [
    "CALIBRATION_PREPROCESS",
    "Evaluation",
    "ImageSet",
    "append_label_row",
    "calibration_batches",
    "describe_eval_preprocess",
    "eval_batches",
    "evaluate_model",
    "open_images",
    "pick_device",
    "wilson_interval",
]
