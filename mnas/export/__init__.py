"""Export an architecture as PyTorch source, torchvision/timm models and deployable files.

Every export is loaded again in a fresh process and checked against mnas's own
model before it is put in place (see :func:`export`).
"""

from __future__ import annotations

from mnas.export._api import (
    FORMATS,
    TOLERANCE,
    ExportResult,
    HostLatency,
    export,
    load_weights,
)
from mnas.export._pytorch import pytorch_source
from mnas.export._timm import TimmPlan, timm_plan, timm_source
from mnas.export._torchvision import torchvision_source

__all__ = [
    "FORMATS",
    "TOLERANCE",
    "ExportResult",
    "HostLatency",
    "TimmPlan",
    "export",
    "load_weights",
    "pytorch_source",
    "timm_plan",
    "timm_source",
    "torchvision_source",
]
