"""Latency: operator keys, lookup tables, predictors, table builders and device models."""

from __future__ import annotations

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
    TABLE_FORMAT,
    Calibration,
    LatencyEntry,
    LatencyTable,
    TableHeader,
    load_table,
)

__all__ = [
    "TABLE_FORMAT",
    "BlockLatency",
    "Calibration",
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
    "unique_op_keys",
]
