"""Whole-network calibration fit ``total = a * sum + c * max(0, weights - w0) + b``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnas.errors import MnasInputError
from mnas.latency._calibrate import CalibrationPoint, fit_calibration
from mnas.latency._validate import accuracy

LITERT = Path(__file__).resolve().parent / "data" / "litert_networks.json"


def test_exact_line_is_recovered() -> None:
    points = [CalibrationPoint(sum_ms=s, measured_ms=0.82 * s + 0.4) for s in (3, 6, 11, 20)]
    cal = fit_calibration(points, source="test")
    assert cal.a == pytest.approx(0.82) and cal.b == pytest.approx(0.4)
    assert cal.n == 4 and cal.mape == pytest.approx(0, abs=1e-12)
    assert cal.max_abs_pct_err == pytest.approx(0, abs=1e-12) and cal.source == "test"


def test_fit_minimises_relative_error() -> None:
    # one large outlier must not drag the small networks' relative error up
    points = [CalibrationPoint(sum_ms=s, measured_ms=0.8 * s) for s in (1, 1.5, 2, 2.5)]
    points.append(CalibrationPoint(sum_ms=100, measured_ms=95))
    cal = fit_calibration(points)
    small = [abs(cal.apply(p.sum_ms) - p.measured_ms) / p.measured_ms for p in points[:4]]
    assert max(small) < 0.1
    assert 0 <= cal.mape <= cal.max_abs_pct_err


def test_few_points_fit_slope_only() -> None:
    cal = fit_calibration([CalibrationPoint(sum_ms=10, measured_ms=8),
                           CalibrationPoint(sum_ms=20, measured_ms=16)])
    assert cal.b == 0 and cal.a == pytest.approx(0.8)


@pytest.mark.parametrize("points", [[], [CalibrationPoint(sum_ms=0, measured_ms=1)],
                                    [CalibrationPoint(sum_ms=1, measured_ms=-2)]])
def test_bad_points_are_input_errors(points) -> None:
    with pytest.raises(MnasInputError):
        fit_calibration(points)


def _weighted(a: float, c: float, b: float) -> list[CalibrationPoint]:
    sums = (2.0, 3.5, 5.0, 7.5, 9.0, 12.0, 4.0)
    mweights = (1.0, 4.0, 2.0, 3.5, 1.5, 5.0, 6.0)
    return [CalibrationPoint(sum_ms=s, mweights=w, measured_ms=a * s + c * w + b)
            for s, w in zip(sums, mweights, strict=True)]


def test_weights_term_is_recovered() -> None:
    points = _weighted(1.04, 0.24, 0.3)
    cal = fit_calibration(points, weights_term=True)
    assert (cal.a, cal.c, cal.b) == pytest.approx((1.04, 0.24, 0.3))
    assert cal.mape == pytest.approx(0, abs=1e-9)
    assert cal.apply(5.0, 2.0) == pytest.approx(1.04 * 5 + 0.24 * 2 + 0.3)
    # without the term the same points fit worse, and c stays 0
    plain = fit_calibration(points)
    assert plain.c == 0 and plain.mape > 0.01


@pytest.mark.parametrize(("a", "c", "b"), [(1.1, -0.3, 2.0), (1.2, 0.2, -0.8)])
def test_no_term_of_the_weights_fit_is_negative(a: float, c: float, b: float) -> None:
    """Each term is a cost: weights or an intercept that would cost negative time are 0."""
    points = _weighted(a, c, b)
    cal = fit_calibration(points, weights_term=True)
    assert cal.a > 0 and cal.c >= 0 and cal.b >= 0
    assert (cal.c == 0) == (c < 0) and (cal.b == 0) == (b < 0)
    # the constrained fit is the best one with that term dropped
    if b < 0:
        free = fit_calibration(points, weights_term=True, intercept=False)
        assert (cal.a, cal.c) == pytest.approx((free.a, free.c))


def test_weights_term_needs_six_points_with_weights() -> None:
    assert fit_calibration(_weighted(1.0, 0.2, 0.1)[:5], weights_term=True).c == 0
    no_weights = [CalibrationPoint(sum_ms=p.sum_ms, measured_ms=p.measured_ms)
                  for p in _weighted(1.0, 0.2, 0.1)]
    assert fit_calibration(no_weights, weights_term=True).c == 0


def _hinged(a: float, c: float, w0: float, b: float) -> list[CalibrationPoint]:
    sums = (2.0, 3.5, 5.0, 7.5, 9.0, 12.0, 4.0, 6.0, 1.5)
    mweights = (1.0, 4.0, 2.0, 3.5, 1.5, 5.0, 6.0, 0.5, 2.5)
    return [CalibrationPoint(sum_ms=s, mweights=w,
                             measured_ms=a * s + c * max(0.0, w - w0) + b)
            for s, w in zip(sums, mweights, strict=True)]


def test_weights_threshold_is_recovered() -> None:
    points = _hinged(1.0, 0.4, 2.0, 0.05)
    cal = fit_calibration(points, weights_term=True, weights_threshold=True)
    assert (cal.a, cal.c, cal.w0, cal.b) == pytest.approx((1.0, 0.4, 2.0, 0.05))
    assert cal.mape == pytest.approx(0, abs=1e-9)
    assert cal.apply(5.0, 1.0) == pytest.approx(5.05)  # below w0: no weights cost
    assert cal.apply(5.0, 3.0) == pytest.approx(5.0 + 0.4 + 0.05)
    # the linear term (the default) fits the same points worse and keeps w0 = 0
    linear = fit_calibration(points, weights_term=True)
    assert linear.w0 == 0 and linear.mape > 0.01


def test_weights_threshold_keeps_zero_for_linear_costs() -> None:
    """Points that are linear in all weights fit best at w0 = 0: the plain weights term."""
    cal = fit_calibration(_weighted(1.04, 0.24, 0.3), weights_term=True, weights_threshold=True)
    assert cal.w0 == 0 and (cal.a, cal.c, cal.b) == pytest.approx((1.04, 0.24, 0.3))


def test_weights_threshold_leaves_three_networks_beyond_it() -> None:
    points = _hinged(1.0, 0.4, 4.5, 0.05)  # only 2 networks (5.0, 6.0 M) beyond 4.5 M
    cal = fit_calibration(points, weights_term=True, weights_threshold=True)
    assert cal.w0 <= sorted(p.mweights for p in points)[-4]
    assert cal.a > 0 and cal.c >= 0 and cal.b >= 0


def test_weights_threshold_predicts_held_out_litert_networks() -> None:
    """Measured on this project's host (LiteRT, XNNPACK, 1 thread; one round-robin session):
    fitted on the 24 calibration networks, the thresholded weights term predicts the 30
    validation networks it never saw within 5% MAPE; the linear term does not."""
    networks = json.loads(LITERT.read_text(encoding="utf-8"))["networks"]
    points = {group: [CalibrationPoint(sum_ms=n["sum_ms"], measured_ms=n["measured_ms"],
                                       mweights=n["mweights"], name=n["name"])
                      for n in networks if n["group"] == group]
              for group in ("calibration", "validation")}
    assert len(points["calibration"]) == 24 and len(points["validation"]) == 30
    held_out = {}
    for threshold in (False, True):
        cal = fit_calibration(points["calibration"], weights_term=True,
                              weights_threshold=threshold)
        held_out[threshold] = accuracy([cal.apply(p.sum_ms, p.mweights)
                                        for p in points["validation"]],
                                       [p.measured_ms for p in points["validation"]])
        if threshold:
            assert 0.5 < cal.w0 < 1.0 and 0.3 < cal.c < 0.6  # ~0.4 ms/M beyond ~0.8 M
    assert held_out[True]["mape"] < 0.05 < held_out[False]["mape"]
    assert held_out[True]["kendall_tau"] >= 0.9
