"""Latency lookup tables: one JSON file per (device, runtime + version, threads, dtype).

File layout (``mnas-latency-table/1``, documented in the README)::

    {"format": "mnas-latency-table/1",
     "header": {"target": ..., "device": ..., "cpu": ..., "runtime": ..., "runtime_version": ...,
                "threads": 1, "cpu_mask": null, "dtype": "float32", "batch": 1, "date": ...,
                "provenance": "measured" | "estimated", "error_band": 0.05,
                "missing_keys": "error" | "device_model", "how_to_measure": ..., "notes": ...},
     "calibration": {"a": 1.0, "b": 0.0, "n": 0, "mape": ..., "max_abs_pct_err": ...} | null,
     "device_model": {...} | null,
     "entries": {"<op key>": {"median_ms": ..., "p90_ms": ..., "n": ..., "std_ms": ...}}}
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mnas._io import atomic_write_text
from mnas.errors import MnasInputError

__all__ = [
    "PROVENANCES",
    "TABLE_FORMAT",
    "Calibration",
    "LatencyEntry",
    "LatencyTable",
    "TableHeader",
    "load_table",
]

TABLE_FORMAT = "mnas-latency-table/1"
PROVENANCES = ("measured", "estimated")
_MISSING_KEY_POLICIES = ("error", "device_model")


@dataclass(frozen=True, kw_only=True)
class LatencyEntry:
    """Timing statistics of one operator key, in milliseconds."""

    median_ms: float
    p90_ms: float
    n: int
    std_ms: float


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Whole-network correction ``total = a * sum_of_entries + b``, with its fit error.

    Attributes:
        a: Slope.
        b: Intercept in ms.
        n: Number of whole networks it was fitted on (0: identity, not fitted).
        mape: Mean absolute percentage error of the calibrated prediction on those networks.
        max_abs_pct_err: Largest absolute percentage error on those networks.
        source: Where the whole-network timings came from.
    """

    a: float = 1.0
    b: float = 0.0
    n: int = 0
    mape: float | None = None
    max_abs_pct_err: float | None = None
    source: str = ""

    def apply(self, total_ms: float) -> float:
        """The calibrated whole-network latency for a summed latency."""
        return self.a * total_ms + self.b


@dataclass(frozen=True, kw_only=True)
class TableHeader:
    """Who and what a table was measured (or estimated) on.

    Attributes:
        target: Short name used with ``--target`` (e.g. ``pixel4``, ``host``).
        device: Device identity (phone model, board, or host name).
        cpu: CPU model or SoC.
        runtime: Inference runtime (``onnxruntime``, ``torch``, ``executorch``, ``tflite``).
        runtime_version: Its version.
        threads: Threads used.
        cpu_mask: CPU affinity mask (hex, as for ``taskset``), if pinned.
        dtype: Data type (``float32``).
        batch: Batch size.
        date: ISO date of the measurement.
        provenance: ``measured`` on the device, or ``estimated`` from a model.
        error_band: Expected relative error of a whole-network prediction (0.05 = ±5%).
        missing_keys: ``error``: a key not in the table is an error; ``device_model``:
            it is estimated from the table's device model.
        how_to_measure: The command that measures (or replaces) this table.
        notes: Free text: sources, fit errors.
        extra: Other header fields (e.g. Android version, governor), kept as is.
    """

    target: str
    device: str
    cpu: str
    runtime: str
    runtime_version: str
    threads: int = 1
    cpu_mask: str | None = None
    dtype: str = "float32"
    batch: int = 1
    date: str = ""
    provenance: str = "measured"
    error_band: float = 0.1
    missing_keys: str = "error"
    how_to_measure: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class LatencyTable:
    """A latency lookup table (mutable while being built, saved atomically).

    Attributes:
        header: Identity and provenance.
        entries: Timing per operator key string.
        calibration: Whole-network calibration, or None before it is fitted.
        device_model: Constants of the analytic device model behind an estimated table.
        path: Where it was loaded from / is saved to.
    """

    header: TableHeader
    entries: dict[str, LatencyEntry] = field(default_factory=dict)
    calibration: Calibration | None = None
    device_model: dict[str, Any] | None = None
    path: Path | None = None

    # ------------------------------------------------------------- file I/O
    def to_dict(self) -> dict[str, Any]:
        """The JSON content of the table."""
        header = asdict(self.header)
        extra = header.pop("extra")
        header.update(extra)
        return {
            "format": TABLE_FORMAT,
            "header": header,
            "calibration": asdict(self.calibration) if self.calibration else None,
            "device_model": self.device_model,
            "entries": {key: asdict(entry) for key, entry in sorted(self.entries.items())},
        }

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the table atomically (temp file + rename) and return its path."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise MnasInputError("LatencyTable.save needs a path: the table was not loaded "
                                 "from a file")
        self.path = target
        return atomic_write_text(target, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "table") -> LatencyTable:
        """Parse table JSON content; errors name ``source`` and the problem."""
        def bad(what: str) -> MnasInputError:
            return MnasInputError(f"{source}: {what}; rebuild it with `mnas latency build` or "
                                  "restore the file")

        if not isinstance(data, Mapping):
            raise bad("a latency table must be a JSON object")
        if data.get("format") != TABLE_FORMAT:
            raise bad(f"field 'format' must be {TABLE_FORMAT!r}, got {data.get('format')!r}")
        raw_header = data.get("header")
        if not isinstance(raw_header, Mapping):
            raise bad("field 'header' must be an object")
        known = {f for f in TableHeader.__dataclass_fields__ if f != "extra"}
        kwargs = {k: v for k, v in raw_header.items() if k in known}
        extra = {k: v for k, v in raw_header.items() if k not in known}
        for required in ("target", "device", "cpu", "runtime", "runtime_version"):
            if not isinstance(kwargs.get(required), str):
                raise bad(f"header field {required!r} must be a string, got "
                          f"{kwargs.get(required)!r}")
        if kwargs.get("provenance", "measured") not in PROVENANCES:
            raise bad(f"header field 'provenance' must be one of {', '.join(PROVENANCES)}, got "
                      f"{kwargs.get('provenance')!r}")
        if kwargs.get("missing_keys", "error") not in _MISSING_KEY_POLICIES:
            raise bad("header field 'missing_keys' must be one of "
                      f"{', '.join(_MISSING_KEY_POLICIES)}, got {kwargs.get('missing_keys')!r}")
        band = kwargs.get("error_band", 0.1)
        if isinstance(band, bool) or not isinstance(band, int | float) or not 0 <= band < 1:
            raise bad(f"header field 'error_band' must be a fraction in [0, 1), got {band!r}")
        for int_field in ("threads", "batch"):
            value = kwargs.get(int_field, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(f"header field {int_field!r} must be an integer >= 1, got {value!r}")
        header = TableHeader(**kwargs, extra=extra)

        raw_entries = data.get("entries")
        if not isinstance(raw_entries, Mapping):
            raise bad("field 'entries' must be an object mapping op keys to timings")
        entries: dict[str, LatencyEntry] = {}
        for key, value in raw_entries.items():
            if not isinstance(value, Mapping):
                raise bad(f"entry {key!r} must be an object with median_ms, p90_ms, n, std_ms")
            try:
                entry = LatencyEntry(median_ms=float(value["median_ms"]),
                                     p90_ms=float(value["p90_ms"]), n=int(value["n"]),
                                     std_ms=float(value["std_ms"]))
            except (KeyError, TypeError, ValueError, OverflowError):
                raise bad(f"entry {key!r} must have numeric median_ms, p90_ms, n, std_ms, got "
                          f"{dict(value)!r}") from None
            if not all(math.isfinite(v) for v in (entry.median_ms, entry.p90_ms, entry.std_ms)
                       ) or entry.median_ms < 0:
                raise bad(f"entry {key!r} has median_ms {entry.median_ms!r}, p90_ms "
                          f"{entry.p90_ms!r}, std_ms {entry.std_ms!r}; they must be finite, "
                          "median_ms >= 0")
            entries[key] = entry

        calibration = None
        raw_cal = data.get("calibration")
        if raw_cal is not None:
            if not isinstance(raw_cal, Mapping):
                raise bad("field 'calibration' must be an object or null")
            try:
                calibration = Calibration(**raw_cal)
            except TypeError as err:
                raise bad(f"field 'calibration' is malformed ({err})") from None
            if not all(isinstance(v, int | float) and math.isfinite(v)
                       for v in (calibration.a, calibration.b)):
                raise bad("calibration 'a' and 'b' must be finite numbers")
        device_model = data.get("device_model")
        if device_model is not None and not isinstance(device_model, Mapping):
            raise bad("field 'device_model' must be an object or null")
        if header.missing_keys == "device_model" and device_model is None:
            raise bad("header says missing_keys 'device_model' but the table has no "
                      "'device_model'")
        return cls(header=header, entries=entries, calibration=calibration,
                   device_model=dict(device_model) if device_model else None)

    # ---------------------------------------------------------------- views
    def with_calibration(self, calibration: Calibration) -> LatencyTable:
        """A copy with a new calibration."""
        return replace(self, calibration=calibration)


def load_table(path: str | os.PathLike[str]) -> LatencyTable:
    """Read a latency table file.

    Raises:
        MnasInputError: Missing, unreadable, not JSON, or not a valid table; the message
            names the file and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MnasInputError(f"{path}: no such latency table; list the shipped ones in "
                             "latency_tables/ or build one with `mnas latency build`") from None
    except (OSError, UnicodeDecodeError) as err:
        raise MnasInputError(f"{path}: cannot read latency table ({err})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise MnasInputError(
            f"{path}: latency table is not valid JSON ({err.msg} at line {err.lineno}); the "
            "file is corrupted: rebuild it with `mnas latency build` (it resumes) or restore "
            "it") from None
    table = LatencyTable.from_dict(data, source=str(path))
    table.path = path
    return table
