"""Latency: operator keys, lookup tables, predictors, table builders and device models.

The builder, validation and key-model names (which import torch) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from mnas.latency._calibrate import CalibrationPoint, fit_calibration, percent_errors
from mnas.latency._host import cpu_model, host_table_name
from mnas.latency._opkey import OpKey, op_keys, unique_op_keys
from mnas.latency._predictor import (
    BlockLatency,
    DeviceModel,
    Estimate,
    LatencyPredictor,
    TablePredictor,
    default_tables_dir,
    list_targets,
    predict,
    resolve_target,
)
from mnas.latency._table import (
    STATISTICS,
    TABLE_FORMAT,
    Calibration,
    LatencyEntry,
    LatencyTable,
    TableHeader,
    load_table,
)

_LAZY = {
    "BuildReport": "mnas.latency._builder",
    "BuildSettings": "mnas.latency._builder",
    "KeyCoverage": "mnas.latency._builder",
    "NetworkTiming": "mnas.latency._builder",
    "Sentinel": "mnas.latency._builder",
    "TableBuilder": "mnas.latency._builder",
    "build_table": "mnas.latency._builder",
    "time_networks": "mnas.latency._builder",
    "enumerate_space_keys": "mnas.latency._builder",
    "ValidationReport": "mnas.latency._validate",
    "ValidationRow": "mnas.latency._validate",
    "kendall_tau": "mnas.latency._validate",
    "validate_table": "mnas.latency._validate",
    "validation_archs": "mnas.latency._validate",
    "key_example": "mnas.latency._key_model",
    "key_model": "mnas.latency._key_model",
    "ScreeningPredictor": "mnas.latency._screen",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mnas.latency' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "STATISTICS",
    "TABLE_FORMAT",
    "BlockLatency",
    "BuildReport",
    "BuildSettings",
    "Calibration",
    "CalibrationPoint",
    "KeyCoverage",
    "NetworkTiming",
    "ScreeningPredictor",
    "Sentinel",
    "TableBuilder",
    "ValidationReport",
    "ValidationRow",
    "build_table",
    "cpu_model",
    "enumerate_space_keys",
    "fit_calibration",
    "host_table_name",
    "kendall_tau",
    "key_example",
    "key_model",
    "percent_errors",
    "validate_table",
    "validation_archs",
    "DeviceModel",
    "Estimate",
    "LatencyEntry",
    "LatencyPredictor",
    "LatencyTable",
    "OpKey",
    "TableHeader",
    "TablePredictor",
    "default_tables_dir",
    "list_targets",
    "load_table",
    "op_keys",
    "predict",
    "resolve_target",
    "time_networks",
    "unique_op_keys",
]
