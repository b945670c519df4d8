"""Whole-network calibration: fit ``total = a * sum + c * max(0, weights - w0) + b``, report
its error.

Isolated blocks do not add up exactly to a network: each isolated run pays the
runtime's call overhead but, repeated, finds its weights and activations in cache;
inside a network the blocks before it have evicted them, and the runtime fuses across
block boundaries. A straight line through a couple of dozen whole networks measured on
the same device corrects the overhead and the average cache loss; the optional
``c * weights`` term (millions of weights) charges for fetching the weights, which
matters for small inputs: on this project's host it took 30 held-out networks from 5.60%
to 2.77% MAPE (``benchmarks/latency_method.py``, in benchmarks/RESULTS-latency.md).

The weights a cache keeps between two runs of a network cost nothing more than they did
in the isolated timings, so with ``weights_threshold`` the term charges only the weights
beyond a fitted ``w0``: LiteRT on this host (XNNPACK, 1 thread, L2 512 KiB, L3 32 MiB
shared) runs networks up to about 0.8 M weights at the sum of their blocks and larger
ones slower by about 0.4 ms per million weights beyond (``benchmarks/litert_cache.py``;
held out 4.4% MAPE against 7.6% for the linear term, same session).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mnas.errors import MnasInputError
from mnas.latency._table import Calibration

__all__ = ["CalibrationPoint", "fit_calibration", "pct_text", "percent_errors"]


@dataclass(frozen=True, kw_only=True)
class CalibrationPoint:
    """One whole network: the sum of its table entries, its measured latency (ms) and
    its weight count in millions (for the optional weights term)."""

    sum_ms: float
    measured_ms: float
    name: str = ""
    mweights: float = 0.0


def pct_text(fraction: float | None) -> str:
    """A fraction as a percentage with one decimal (``12.3%``), ``?`` when not known."""
    return "?" if fraction is None else f"{fraction * 100:.1f}%"


def percent_errors(predicted: Sequence[float], measured: Sequence[float]) -> list[float]:
    """Signed errors ``(predicted - measured) / measured`` as fractions."""
    return [(p - m) / m for p, m in zip(predicted, measured, strict=True)]


def fit_calibration(points: Sequence[CalibrationPoint], *, source: str = "",
                    intercept: bool = True, weights_term: bool = False,
                    weights_threshold: bool = False) -> Calibration:
    """Fit ``a``, ``b`` (and ``c``) minimising the squared *relative* error over ``points``.

    Minimising relative rather than absolute error keeps small networks (128 px, width
    0.5) from being ignored next to large ones. With fewer than 3 points, or with
    ``intercept=False``, only the slope is fitted (``b = 0``). The weights term is
    fitted only when asked, with at least 6 points, and then every coefficient is kept
    >= 0 (non-negative least squares; the slope-and-intercept fit likewise keeps
    ``b >= 0``): each term is a cost, and a free fit on two dozen
    noisy networks traded a spurious negative intercept (-0.78 ms on this host) against
    a steeper slope, which under-predicted the smallest networks by up to 18%. With
    ``weights_threshold`` the weights term charges only the weights beyond ``w0``: the
    fit tries ``w0`` = 0, every network's weight count that leaves at least 3 networks
    beyond it and the midpoints between them, and keeps the one of least squared
    relative error (a tie keeps the smaller ``w0``; ``w0 = 0`` is the plain weights term).

    Args:
        points: Whole networks measured on the device.
        source: Where the timings come from (stored with the calibration).
        intercept: Fit ``b`` too.
        weights_term: Fit ``c``, the cost per million weights, too.
        weights_threshold: With ``weights_term``, fit ``w0`` too (see above).

    Returns:
        The calibration with its in-sample MAPE and largest absolute error (fractions).

    Raises:
        MnasInputError: No points, or a non-positive sum or measurement.
    """
    if not points:
        raise MnasInputError("calibration needs at least one whole-network measurement, "
                             "got none")
    for point in points:
        if not (point.sum_ms > 0 and point.measured_ms > 0
                and math.isfinite(point.sum_ms) and math.isfinite(point.measured_ms)):
            raise MnasInputError(
                f"calibration point {point.name or '?'} must have sum_ms > 0 and "
                f"measured_ms > 0, got sum_ms={point.sum_ms!r}, measured_ms={point.measured_ms!r}")
    # Weighted least squares with weights 1/y^2: minimise sum(((a*s + b) / y - 1)^2).
    # Regress 1 on u = s/y and v = 1/y.
    u = [p.sum_ms / p.measured_ms for p in points]
    v = [1.0 / p.measured_ms for p in points]
    a, b = _solve(u, v, intercept and len(points) >= 3)
    c = w0 = 0.0
    if weights_term and len(points) >= 6 and all(p.mweights > 0 for p in points):
        counts = sorted({p.mweights for p in points})
        knots = counts[:-3]  # at least 3 networks beyond w0
        midpoints = ((x + y) / 2 for x, y in zip(knots, knots[1:], strict=False))
        candidates = [0.0, *sorted({*knots, *midpoints})] if weights_threshold else [0.0]
        best: tuple[float, float, float, float, float] | None = None
        for threshold in candidates:
            fa, fc, fb, residual = _solve_nonnegative(points, intercept, threshold)
            if fa > 0 and (best is None or residual < best[0] - 1e-12):
                best = (residual, fa, fc, fb, threshold)
        if best is not None:  # a zero slope would ignore the table; keep the fit without c
            _, a, c, b, w0 = best
            if c == 0:
                w0 = 0.0
    predicted = [a * p.sum_ms + c * max(0.0, p.mweights - w0) + b for p in points]
    errors = [abs(e) for e in percent_errors(predicted, [p.measured_ms for p in points])]
    return Calibration(a=a, b=b, c=c, w0=w0, n=len(points), mape=sum(errors) / len(errors),
                       max_abs_pct_err=max(errors), source=source)


def _solve_nonnegative(points: Sequence[CalibrationPoint], intercept: bool,
                       threshold: float = 0.0) -> tuple[float, float, float, float]:
    """``a, c, b >= 0`` minimising the squared relative error (b = 0 without intercept) of
    ``a * sum + c * max(0, weights - threshold) + b``, and that squared error."""
    import numpy as np
    from scipy.optimize import nnls

    rows = [[p.sum_ms / p.measured_ms, max(0.0, p.mweights - threshold) / p.measured_ms]
            + ([1.0 / p.measured_ms] if intercept else []) for p in points]
    solution, norm = nnls(np.array(rows), np.ones(len(points)))
    return (float(solution[0]), float(solution[1]),
            float(solution[2]) if intercept else 0.0, float(norm) ** 2)


def _solve(u: list[float], v: list[float], intercept: bool) -> tuple[float, float]:
    suu = sum(x * x for x in u)
    if not intercept:
        return sum(u) / suu, 0.0
    svv = sum(x * x for x in v)
    suv = sum(x * y for x, y in zip(u, v, strict=True))
    su, sv = sum(u), sum(v)
    det = suu * svv - suv * suv
    if abs(det) <= 1e-12 * suu * svv:
        return su / suu, 0.0
    a = (su * svv - sv * suv) / det
    b = (suu * sv - suv * su) / det
    if b < 0 or a <= 0:
        # Each term is a cost (a table refuses b < 0): the least-squares fit under b >= 0
        # lies on b = 0 when the free fit's intercept is negative (the problem is convex).
        return su / suu, 0.0
    return a, b
