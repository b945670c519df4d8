"""Latency: operator keys, lookup tables, predictors, table builders and device models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnas._lazy import lazy_attributes

if TYPE_CHECKING:
    from mnas.latency._build_job import (
        TableBuildOptions,
        build_latency_table,
        estimate_latency_table,
    )
    from mnas.latency._builder import (
        BuildReport,
        BuildSettings,
        KeyCoverage,
        NetworkTiming,
        Sentinel,
        TableBuilder,
        build_table,
        enumerate_space_keys,
        time_networks,
    )
    from mnas.latency._calibrate import CalibrationPoint, fit_calibration, percent_errors
    from mnas.latency._host import cpu_model, host_table_name
    from mnas.latency._host_model import HostModelSettings
    from mnas.latency._key_model import key_example, key_model
    from mnas.latency._opkey import OpKey, op_keys, resolution_key, unique_op_keys
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
    from mnas.latency._screen import ScreeningPredictor
    from mnas.latency._table import (
        STATISTICS,
        TABLE_FORMAT,
        Calibration,
        LatencyEntry,
        LatencyTable,
        TableHeader,
        load_table,
    )
    from mnas.latency._validate import (
        ValidationReport,
        ValidationRow,
        kendall_tau,
        validate_table,
        validation_archs,
    )

_EXPORTS = {
    "mnas.latency._build_job": (
        "TableBuildOptions", "build_latency_table", "estimate_latency_table"
    ),
    "mnas.latency._builder": (
        "BuildReport", "BuildSettings", "KeyCoverage", "NetworkTiming", "Sentinel", "TableBuilder",
        "build_table", "enumerate_space_keys", "time_networks"
    ),
    "mnas.latency._calibrate": ("CalibrationPoint", "fit_calibration", "percent_errors"),
    "mnas.latency._host": ("cpu_model", "host_table_name"),
    "mnas.latency._host_model": ("HostModelSettings",),
    "mnas.latency._key_model": ("key_example", "key_model"),
    "mnas.latency._opkey": ("OpKey", "op_keys", "resolution_key", "unique_op_keys"),
    "mnas.latency._predictor": (
        "BlockLatency", "DeviceModel", "Estimate", "LatencyPredictor", "TablePredictor",
        "default_tables_dir", "list_targets", "predict", "resolve_target"
    ),
    "mnas.latency._screen": ("ScreeningPredictor",),
    "mnas.latency._table": (
        "STATISTICS", "TABLE_FORMAT", "Calibration", "LatencyEntry", "LatencyTable", "TableHeader",
        "load_table"
    ),
    "mnas.latency._validate": (
        "ValidationReport", "ValidationRow", "kendall_tau", "validate_table", "validation_archs"
    ),
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

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
    "TableBuildOptions",
    "TableBuilder",
    "ValidationReport",
    "ValidationRow",
    "HostModelSettings",
    "build_latency_table",
    "estimate_latency_table",
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
    "resolution_key",
    "predict",
    "resolve_target",
    "time_networks",
    "unique_op_keys",
]
