"""The Vce(on) rise of a module already in service when the telemetry began, read from the shape
of its trend (:mod:`dt_platform.phm.fitting.vce_trend`)."""

from __future__ import annotations

import numpy as np
import pytest

from dt_platform.phm.fitting.vce import MIN_HOURS
from dt_platform.phm.fitting.vce_trend import vce_trend

SCALE, K, R = 1000.0, 2.0, 0.05


def series(e0: float, life: float, hours: int, *, noise: float, seed: int = 0):
    """ln Vce(on) of a module that had spent ``e0`` of a ``life`` (exposure, one unit an hour)
    before the data: ln(1.7) + r·((e0 + e) / life)^k, with hourly noise."""
    e = np.arange(1.0, hours + 1.0)
    rng = np.random.default_rng(seed)
    y = np.log(1.7) + R * ((e0 + e) / life) ** K + noise * rng.standard_normal(hours)
    return y, e


def test_the_exposure_before_the_data_is_read_from_the_curvature() -> None:
    y, e = series(400.0, 1000.0, 500, noise=0.001)
    trend = vce_trend(y, e, K, SCALE)
    g = trend.point(499)
    assert trend.grid[g] == pytest.approx(400.0, abs=100.0)
    # the rise above the value when new, and the share of it the data show
    assert np.expm1(trend.level[499, g]) / R == pytest.approx(0.81, abs=0.08)
    assert np.expm1(trend.seen[499, g]) / R == pytest.approx(0.81 - 0.16, abs=0.08)
    # the draws of E0 bracket it
    lo, hi = trend.grid[trend.quantile_index(499, np.array([0.05, 0.95]))]
    assert lo <= 400.0 <= hi


def test_a_straight_rise_leaves_the_exposure_before_the_data_open() -> None:
    # a long-lived module seen over a short stretch: its rise is nearly a straight line
    y, e = series(1500.0, 3000.0, 200, noise=0.001)
    trend = vce_trend(y, e, K, SCALE)
    lo, hi = trend.grid[trend.quantile_index(199, np.array([0.05, 0.95]))]
    assert hi - lo > 0.5 * SCALE


def test_no_fit_before_enough_hours_nor_without_a_rise() -> None:
    y, e = series(400.0, 1000.0, 300, noise=0.001)
    trend = vce_trend(y, e, K, SCALE)
    assert trend.point(MIN_HOURS - 2) is None and trend.point(MIN_HOURS) is not None
    flat = np.log(1.7) + 0.001 * np.random.default_rng(1).standard_normal(300)
    calm = vce_trend(flat, e, K, SCALE)
    seen = [calm.seen[h, g] for h in range(300) if (g := calm.point(h)) is not None]
    assert max(np.expm1(seen) / R) < 0.2  # never the onset of a rise (1 % up)
    falling = vce_trend(np.log(1.7) - 1e-4 * e, e, K, SCALE)
    assert all(falling.point(h) is None for h in range(300))


def test_it_never_reads_ahead_and_skips_unmeasured_hours() -> None:
    y, e = series(400.0, 1000.0, 400, noise=0.001)
    y[150:170] = np.nan  # a stop
    full = vce_trend(y, e, K, SCALE)
    cut = vce_trend(y[:250], e[:250], K, SCALE)
    np.testing.assert_allclose(cut.weight, full.weight[:250], atol=1e-12)
    np.testing.assert_allclose(cut.level, full.level[:250], atol=1e-12)
    assert np.isfinite(full.level).all()
