"""Latency lookup tables: one JSON file per (device, runtime + version, threads, dtype).

File layout (``mnas-latency-table/1``, documented in the README)::

    {"format": "mnas-latency-table/1",
     "header": {"target": ..., "device": ..., "cpu": ..., "runtime": ..., "runtime_version": ...,
                "threads": 1, "cpu_mask": null, "dtype": "float32", "batch": 1, "date": ...,
                "provenance": "measured" | "estimated", "error_band": 0.05,
                "missing_keys": "error" | "device_model", "statistic": "median" | "min",
                "how_to_measure": ..., "notes": ...},
     "calibration": {"a": 1.0, "b": 0.0, "c": 0.0, "w0": 0.0, "n": 0, "mape": ...,
                     "max_abs_pct_err": ...}
                    | null,
     "device_model": {...} | null,
     "entries": {"<op key>": {"median_ms": ..., "p90_ms": ..., "n": ..., "std_ms": ...,
                              "min_ms": ..., "passes": 2}}}

An entry key is an operator key (:class:`mnas.latency.OpKey`), or one qualified by the
network's input resolution, ``<key>@<R>px``, where two resolutions reach the same shape but
were measured apart (:func:`mnas.latency.resolution_key`).
``w0`` is optional (0: the weights term charges every weight; see :class:`Calibration`).
``min_ms`` and ``passes`` are optional (absent in estimated tables); a table whose header
says ``"statistic": "min"`` needs ``min_ms`` in every entry and predicts from it.
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
from mnas._limits import MAX_LATENCY_MS, MAX_TABLE_BYTES, parse_json, read_input_text
from mnas.errors import MnasInputError

__all__ = [
    "PROVENANCES",
    "STATISTICS",
    "TABLE_FORMAT",
    "Calibration",
    "LatencyEntry",
    "LatencyTable",
    "TableHeader",
    "load_table",
]

TABLE_FORMAT = "mnas-latency-table/1"
PROVENANCES = ("measured", "estimated")
STATISTICS = ("median", "min")
"""What a table's predictions are made of: each entry's ``median_ms`` (the typical run on
a device to itself, e.g. a pinned phone core) or its ``min_ms`` (the uncontended run: the
fastest of all runs of all passes, for a shared machine whose neighbours slow the median
down by tens of percent for seconds at a time)."""
_MISSING_KEY_POLICIES = ("error", "device_model")
#: Largest calibration slope: a fitted slope is near 1 (0.5-2 in practice).
_MAX_SLOPE = 1000.0
_MAX_W0 = 1e6
"""Largest ``w0`` (millions of weights) a table may hold: a trillion weights."""


def _number(value: Any) -> float:
    """A JSON number as float; booleans and strings are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    return float(value)


def _integer(value: Any) -> int:
    """A JSON integer (``3`` or ``3.0``); booleans, strings and fractions are not."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TypeError(value)
    return int(value)


@dataclass(frozen=True, kw_only=True)
class LatencyEntry:
    """Timing statistics of one operator key, in milliseconds.

    Attributes:
        median_ms: Median run (of the pass with the lowest median).
        p90_ms: 90th-percentile run (same pass).
        n: Timed runs over all passes.
        std_ms: Standard deviation of the runs (same pass).
        min_ms: Fastest run over all passes (None where not measured, e.g. estimates).
        passes: Separate timing passes the entry combines (the builder re-times every
            key in a later pass, in a new random order, so that a slow spell of the
            machine does not decide a key).
    """

    median_ms: float
    p90_ms: float
    n: int
    std_ms: float
    min_ms: float | None = None
    passes: int = 1

    def value(self, statistic: str) -> float:
        """The entry's latency as ``statistic`` (see :data:`STATISTICS`) defines it."""
        if statistic == "min":
            if self.min_ms is None:
                raise MnasInputError("entry has no min_ms; rebuild the table with `mnas "
                                     "latency build`")
            return self.min_ms
        return self.median_ms

    def merged(self, other: LatencyEntry) -> LatencyEntry:
        """This entry and a later pass of the same key as one entry.

        The fastest run of either, all runs counted, and the median, p90 and spread of the
        pass with the lower median (the one less disturbed).
        """
        base = self if self.median_ms <= other.median_ms else other
        mins = [m for m in (self.min_ms, other.min_ms) if m is not None]
        return LatencyEntry(median_ms=base.median_ms, p90_ms=base.p90_ms,
                            n=self.n + other.n, std_ms=base.std_ms,
                            min_ms=min(mins) if mins else None,
                            passes=self.passes + other.passes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form; ``min_ms`` and ``passes`` only where they say something."""
        out: dict[str, Any] = {"median_ms": self.median_ms, "p90_ms": self.p90_ms, "n": self.n,
                               "std_ms": self.std_ms}
        if self.min_ms is not None:
            out["min_ms"] = self.min_ms
        if self.passes != 1:
            out["passes"] = self.passes
        return out


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Whole-network correction ``total = a * sum + c * max(0, weights - w0) + b``, with
    its fit error.

    ``sum`` is the sum of a network's entries in ms and ``weights`` its weight count in
    millions (:attr:`mnas.latency.OpKey.weights` summed). The weights term is the cost
    an isolated timing misses: timed alone and repeated, a block finds its weights in
    cache; inside a network they were evicted by the blocks before it and come from
    memory. It matters most for small inputs, where there is little compute per weight.
    ``w0`` (millions of weights, 0 = the term is linear in all weights, as in tables
    written before it existed) is what the cache keeps between two runs of a network:
    a network whose weights fit pays nothing, a larger one pays for those beyond
    (fitted by :func:`mnas.latency.fit_calibration` with ``weights_threshold``).

    Attributes:
        a: Slope on the summed entries.
        b: Intercept in ms.
        c: ms per million weights (0 when not fitted).
        w0: Millions of weights the term does not charge (0: it charges all).
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

    c: float = 0.0
    w0: float = 0.0

    def apply(self, total_ms: float, mweights: float = 0.0) -> float:
        """The calibrated whole-network latency for a summed latency and weight count (M)."""
        return self.a * total_ms + self.c * max(0.0, mweights - self.w0) + self.b


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
        statistic: What predictions are made of: ``median`` or ``min`` (see
            :data:`STATISTICS`).
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
    statistic: str = "median"
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
            "entries": {key: entry.to_dict() for key, entry in sorted(self.entries.items())},
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
        if "provenance" not in kwargs:
            raise bad("header field 'provenance' is missing: say whether the entries are "
                      "'measured' or 'estimated'")
        if kwargs.get("provenance") not in PROVENANCES:
            raise bad(f"header field 'provenance' must be one of {', '.join(PROVENANCES)}, got "
                      f"{kwargs.get('provenance')!r}")
        if kwargs.get("missing_keys", "error") not in _MISSING_KEY_POLICIES:
            raise bad("header field 'missing_keys' must be one of "
                      f"{', '.join(_MISSING_KEY_POLICIES)}, got {kwargs.get('missing_keys')!r}")
        if kwargs.get("statistic", "median") not in STATISTICS:
            raise bad(f"header field 'statistic' must be one of {', '.join(STATISTICS)}, got "
                      f"{kwargs.get('statistic')!r}")
        for band_field in ("model_error_band", "entries_error_band"):
            value = extra.get(band_field)
            if band_field in extra and (isinstance(value, bool)
                                        or not isinstance(value, int | float)
                                        or not 0 < value < 1):
                raise bad(f"header field {band_field!r} must be a fraction in (0, 1), got "
                          f"{value!r}")
        if (kwargs["provenance"] == "measured" and kwargs.get("missing_keys") == "device_model"
                and "model_error_band" not in extra):
            raise bad("header says provenance 'measured' but missing_keys 'device_model' without "
                      "a 'model_error_band' (keys not in the table are estimated: a prediction "
                      "that needs one is estimated, with that band); add it, or set provenance "
                      "to 'estimated'")
        if "error_band" not in kwargs:
            raise bad("header field 'error_band' is missing: give the expected relative error "
                      "of a prediction, e.g. 0.1 for ±10%")
        band = kwargs["error_band"]
        if (isinstance(band, bool) or not isinstance(band, int | float)
                or not 0 < band < 1):
            raise bad(f"header field 'error_band' must be a fraction in (0, 1), got {band!r}")
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
            if isinstance(key, str) and "@" in key:
                from mnas.latency._opkey import split_resolution_key

                try:
                    split_resolution_key(key)
                except MnasInputError as err:
                    raise bad(str(err)) from None
            if not isinstance(value, Mapping):
                raise bad(f"entry {key!r} must be an object with median_ms, p90_ms, n, std_ms")
            try:
                raw_min = value.get("min_ms")
                entry = LatencyEntry(median_ms=_number(value["median_ms"]),
                                     p90_ms=_number(value["p90_ms"]), n=_integer(value["n"]),
                                     std_ms=_number(value["std_ms"]),
                                     min_ms=None if raw_min is None else _number(raw_min),
                                     passes=_integer(value.get("passes", 1)))
            except (KeyError, TypeError, ValueError, OverflowError):
                raise bad(f"entry {key!r} must have numeric median_ms, p90_ms, n, std_ms (and "
                          f"optionally min_ms, passes), got {dict(value)!r}") from None
            if not all(math.isfinite(v) for v in (entry.median_ms, entry.p90_ms, entry.std_ms)
                       ) or not 0 <= entry.median_ms <= MAX_LATENCY_MS or entry.p90_ms < 0 \
                    or entry.std_ms < 0 or entry.p90_ms > MAX_LATENCY_MS or entry.n < 0:
                raise bad(f"entry {key!r} has median_ms {entry.median_ms!r}, p90_ms "
                          f"{entry.p90_ms!r}, std_ms {entry.std_ms!r}, n {entry.n!r}; they must "
                          f"be finite, >= 0 and at most {MAX_LATENCY_MS:g} ms")
            if entry.min_ms is not None and not (math.isfinite(entry.min_ms)
                                                 and 0 <= entry.min_ms <= entry.median_ms):
                raise bad(f"entry {key!r} has min_ms {entry.min_ms!r}; it must be finite and "
                          f"between 0 and its median_ms {entry.median_ms!r}")
            if entry.passes < 1:
                raise bad(f"entry {key!r} has passes {entry.passes!r}; it must be >= 1")
            if header.statistic == "min" and entry.min_ms is None:
                raise bad(f"entry {key!r} has no min_ms but the header's statistic is 'min'")
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
            terms = {"a": calibration.a, "b": calibration.b, "c": calibration.c,
                     "w0": calibration.w0}
            for name, term in terms.items():
                if (isinstance(term, bool) or not isinstance(term, int | float)
                        or not math.isfinite(term)):
                    raise bad(f"calibration {name!r} must be a finite number, got {term!r}")
            if not 0 < calibration.a <= _MAX_SLOPE:
                raise bad(f"calibration slope 'a' must be in (0, {_MAX_SLOPE:g}], got "
                          f"{calibration.a!r} (a slope <= 0 predicts negative latencies)")
            for name in ("b", "c"):
                if not 0 <= terms[name] <= MAX_LATENCY_MS:
                    raise bad(f"calibration term {name!r} must be in [0, {MAX_LATENCY_MS:g}] ms, "
                              f"got {terms[name]!r} (a negative term can predict negative "
                              "latencies)")
            if not 0 <= calibration.w0 <= _MAX_W0:
                raise bad(f"calibration 'w0' (millions of weights) must be in [0, {_MAX_W0:g}], "
                          f"got {calibration.w0!r}")
        device_model = data.get("device_model")
        if device_model is not None and not isinstance(device_model, Mapping):
            raise bad("field 'device_model' must be an object or null")
        if header.missing_keys == "device_model":
            if device_model is None:
                raise bad("header says missing_keys 'device_model' but the table has no "
                          "'device_model'")
            from mnas.latency._device_model import load_device_model

            try:
                load_device_model(device_model)
            except MnasInputError as err:
                raise MnasInputError(f"{source}: {err}") from None
        overhead = header.extra.get("call_overhead_ms", 0.0)
        if (isinstance(overhead, bool) or not isinstance(overhead, int | float)
                or not 0 <= overhead <= MAX_LATENCY_MS):
            raise bad(f"header field 'call_overhead_ms' must be a number of ms >= 0, got "
                      f"{overhead!r}")
        return cls(header=header, entries=entries, calibration=calibration,
                   device_model=dict(device_model) if device_model else None)

    # ---------------------------------------------------------------- views
    @property
    def call_overhead_ms(self) -> float:
        """The runtime's fixed cost of one call (header ``call_overhead_ms``; 0 if absent)."""
        value = self.header.extra.get("call_overhead_ms")
        return float(value) if isinstance(value, int | float) else 0.0

    def unit_ms(self, key: str) -> float:
        """What entry ``key`` adds to a network before calibration: its ``statistic``
        less the runtime's call overhead, which a network pays once, not per unit."""
        return max(0.0, self.entries[key].value(self.header.statistic) - self.call_overhead_ms)

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
    text = read_input_text(path, what="latency table", limit=MAX_TABLE_BYTES,
                           missing_hint="list the shipped ones in latency_tables/ or build one "
                                        "with `mnas latency build`")
    data = parse_json(text, str(path), hint="the file is corrupted: rebuild it with `mnas "
                                            "latency build` (it resumes) or restore it")
    table = LatencyTable.from_dict(data, source=str(path))
    table.path = path
    return table
