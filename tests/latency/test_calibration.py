"""Whole-network calibration fit ``total = a * sum + b``."""

from __future__ import annotations

import pytest

from mnas.errors import MnasInputError
from mnas.latency._calibrate import CalibrationPoint, fit_calibration


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
