"""Calibrate a target's table with whole networks the user timed on their own device.

``mnas latency calibrate --target pixel4 --measurements mine.csv -o my-pixel4.json``: a
user who timed a few whole networks on their phone (with any tool: ``benchmark_model``,
``executor_runner``, an app) fits ``total = a * sum + b`` to them (the same relative-error
least squares as the builder's calibration, :func:`mnas.latency._calibrate.fit_calibration`)
and gets a copy of the table marked as calibrated, with its new error band. The entries and
the device model are not changed, so a calibrated *estimated* table stays ``estimated``.

Measurement files:

* CSV with a header; one column names the network (``arch``, ``name`` or ``file``: a zoo
  name or an ``mnas-arch/1`` file, relative paths from the CSV's folder) and one holds the
  latency in ms (``ms``, ``measured_ms`` or ``latency_ms``);
* JSON: a list of ``{"arch": ..., "ms": ...}`` objects (same column names), an object
  ``{"measurements": [...]}``, or an object mapping names to ms.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mnas._limits import MAX_LATENCY_MS, parse_json, read_input_text
from mnas.arch import Arch, load_arch
from mnas.errors import MnasInputError
from mnas.latency._calibrate import CalibrationPoint, fit_calibration, pct_text
from mnas.latency._predictor import TablePredictor, resolve_target
from mnas.latency._table import Calibration, LatencyTable

__all__ = ["CalibrationResult", "Measurement", "calibrate_table", "read_measurements"]

_NAME_COLUMNS = ("arch", "name", "file")
MIN_POINTS_FOR_INTERCEPT = 8
"""Fewer whole networks than this fit ``a`` only (``b = 0``)."""
_MS_COLUMNS = ("ms", "measured_ms", "latency_ms")


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One whole network timed by the user."""

    arch: str
    measured_ms: float


@dataclass(frozen=True, kw_only=True)
class CalibrationResult:
    """What ``calibrate_table`` wrote.

    Attributes:
        path: The calibrated table file.
        calibration: The fitted calibration (in-sample error).
        error_band: The new table's declared band.
        rows: Per network: name, measured, predicted before and after (ms).
    """

    path: Path
    calibration: Calibration
    error_band: float
    rows: tuple[dict[str, Any], ...]


def _pick(row: dict[str, Any], columns: tuple[str, ...], source: str, what: str) -> Any:
    for column in columns:
        if column in row and row[column] not in (None, ""):
            return row[column]
    raise MnasInputError(f"{source}: each measurement needs a {what} column "
                         f"({' or '.join(columns)}), got {sorted(row)}")


def read_measurements(path: str | os.PathLike[str]) -> list[Measurement]:
    """Parse a CSV or JSON measurement file (see the module docstring).

    Raises:
        MnasInputError: Unreadable file, missing columns, a latency that is not a positive
            number, or no rows; the message names the file and the row.
    """
    path = Path(path)
    text = read_input_text(path, what="measurements file",
                           missing_hint="pass the CSV or JSON of networks you timed")
    rows: list[dict[str, Any]]
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        data = parse_json(text, str(path))
        if isinstance(data, dict) and "measurements" in data:
            data = data["measurements"]
        if isinstance(data, dict):
            rows = [{"arch": k, "ms": v} for k, v in data.items()]
        elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
            rows = list(data)
        else:
            raise MnasInputError(f"{path}: JSON measurements must be a list of objects with "
                                 "'arch' and 'ms', or an object mapping names to ms")
    else:
        rows = [dict(r) for r in csv.DictReader(io.StringIO(text))]
        rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()}
                for r in rows]
    out = []
    for i, row in enumerate(rows, start=1):
        where = f"{path} row {i}"
        name = str(_pick(row, _NAME_COLUMNS, where, "network"))
        raw = _pick(row, _MS_COLUMNS, where, "latency")
        try:
            if isinstance(raw, bool):
                raise TypeError(raw)
            ms = float(raw)
        except (TypeError, ValueError):
            raise MnasInputError(f"{where}: latency must be a number of ms, got {raw!r}"
                                 ) from None
        if not (math.isfinite(ms) and 0 < ms <= MAX_LATENCY_MS):
            raise MnasInputError(f"{where}: latency must be a number of ms in (0, "
                                 f"{MAX_LATENCY_MS:g}], got {raw!r}")
        out.append(Measurement(arch=name, measured_ms=ms))
    if not out:
        raise MnasInputError(f"{path}: no measurements; add rows like `arch,ms` / "
                             "`mobilenet_v2,41.7`")
    return out


def _resolve(name: str, base: Path) -> Arch:
    from mnas.models._registry import get_arch, list_archs

    if name in list_archs():
        return get_arch(name)
    candidate = Path(name)
    if not candidate.is_absolute():
        candidate = base / candidate
    if candidate.exists() or name.endswith(".json"):
        return load_arch(candidate)
    raise MnasInputError(f"measurement names {name!r}, which is neither a zoo name (`mnas zoo "
                         "list`) nor an arch file")


def _band(errors: list[float]) -> float:
    # Round the worst error up to a whole percent, never below 3%.
    return min(0.5, max(0.03, math.ceil(max(errors) * 100 - 1e-9) / 100))


def calibrate_table(*, target: str, measurements: str | os.PathLike[str],
                    output: str | os.PathLike[str] | None = None,
                    force: bool = False) -> CalibrationResult:
    """Fit ``a * sum + b`` to the user's whole-network timings and write a calibrated table.

    With fewer than :data:`MIN_POINTS_FOR_INTERCEPT` networks only the slope is fitted.
    The band of the new table is the worst error of the calibrated prediction on the given
    networks; with 4 or more networks, the worst leave-one-out error (each network predicted
    by a line fitted without it), which is what an unseen network can expect.

    Args:
        target: The table to calibrate: a shipped name (``pixel4``) or a table file.
        measurements: CSV or JSON of ``arch, ms`` (see :func:`read_measurements`).
        output: Where to write the calibrated table. Default: none, which requires
            ``force`` and then overwrites the target's own file.
        force: Allow overwriting an existing file (the target's, or ``output``).

    Raises:
        MnasInputError: Bad file, unknown network, or an output that exists without
            ``force``.
    """
    table = resolve_target(target)
    source_path = Path(table.path) if table.path else None
    if output is None:
        if not force or source_path is None:
            raise MnasInputError(
                f"mnas latency calibrate writes a new table: pass -o OUT.json (or --force to "
                f"overwrite {source_path or target})")
        out = source_path
    else:
        out = Path(output)
        if out.exists() and not force:
            raise MnasInputError(f"{out} exists; pass --force to overwrite it or another -o")
    rows_in = read_measurements(measurements)
    base = Path(measurements).resolve().parent
    predictor = TablePredictor(table)
    points, names = [], []
    for row in rows_in:
        arch = _resolve(row.arch, base)
        total = sum(block.ms for block in predictor.predict(arch).per_block)
        points.append(CalibrationPoint(sum_ms=total, measured_ms=row.measured_ms, name=row.arch))
        names.append(row.arch)
    # A slope alone until there are enough networks to pin an intercept too: with a handful
    # of points an intercept mostly fits noise and extrapolates badly to unseen sizes.
    intercept = len(points) >= MIN_POINTS_FOR_INTERCEPT
    calibration = fit_calibration(
        points, intercept=intercept,
        source=f"{len(points)} whole networks timed by the user ({Path(measurements).name}) "
               f"fitted by `mnas latency calibrate`")
    predicted = [calibration.apply(p.sum_ms) for p in points]
    errors = [abs(p / q.measured_ms - 1) for p, q in zip(predicted, points, strict=True)]
    held_out = []
    if len(points) >= 4:
        for i in range(len(points)):
            rest = points[:i] + points[i + 1:]
            loo = fit_calibration(rest, intercept=intercept)
            held_out.append(abs(loo.apply(points[i].sum_ms) / points[i].measured_ms - 1))
    band = _band(held_out or errors)
    header = table.header
    extra = dict(header.extra)
    extra.update({
        "calibrated": True, "calibrated_from": str(Path(measurements).name),
        "calibration_n": calibration.n, "calibration_mape": calibration.mape,
        "calibration_max_abs_pct_err": calibration.max_abs_pct_err,
        "calibration_leave_one_out_max_abs_pct_err": max(held_out) if held_out else None,
        "calibrated_base": {"target": header.target, "error_band": header.error_band,
                            "calibration": None if table.calibration is None else {
                                "a": table.calibration.a, "b": table.calibration.b}},
    })
    target_name = out.stem if output is not None else header.target
    notes = (f"{header.notes} Calibrated with {calibration.n} whole networks timed by the "
             f"user: total = {calibration.a:.4f} * sum + {calibration.b:.3f} ms, in-sample MAPE "
             f"{pct_text(calibration.mape)} (max {pct_text(calibration.max_abs_pct_err)})"
             + (f", leave-one-out max {max(held_out) * 100:.1f}%" if held_out else "")
             + f"; band ±{band * 100:.0f}%.").strip()
    new_header = replace(header, target=target_name, error_band=band, notes=notes, extra=extra)
    new_table = LatencyTable(header=new_header, entries=dict(table.entries),
                             calibration=calibration, device_model=table.device_model)
    path = new_table.save(out)
    rows = tuple({"arch": name, "measured_ms": p.measured_ms,
                  "before_ms": table.calibration.apply(p.sum_ms) if table.calibration
                  else p.sum_ms,
                  "after_ms": after}
                 for name, p, after in zip(names, points, predicted, strict=True))
    return CalibrationResult(path=path, calibration=calibration, error_band=band, rows=rows)
