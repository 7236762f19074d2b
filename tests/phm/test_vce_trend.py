"""The Vce(on) rise of a module already in service when the telemetry began, read from the shape
of its trend through the exposure imputed to its life before the data
(:mod:`dt_platform.phm.fitting.vce_trend`)."""

from __future__ import annotations

import numpy as np
import pytest

from dt_platform.phm.fitting.vce import MIN_HOURS
from dt_platform.phm.fitting.vce_trend import vce_trend

K, R = 2.0, 0.05


def series(e0: float, life: float, hours: int, *, noise: float, seed: int = 0):
    """ln Vce(on) of a module that had spent ``e0`` of a ``life`` (exposure, one unit an hour)
    before the data: ln(1.7) + r·((e0 + e) / life)^k, with hourly noise."""
    e = np.arange(1.0, hours + 1.0)
    rng = np.random.default_rng(seed)
    y = np.log(1.7) + R * ((e0 + e) / life) ** K + noise * rng.standard_normal(hours)
    return y, e


def test_the_rise_above_the_value_when_new_is_read_through_the_life_before_the_data() -> None:
    y, e = series(400.0, 1000.0, 500, noise=0.001)
    trend = vce_trend(y, e, np.full(500, 400.0), K)
    # at the last hour: (900 / 1000)^2 of the limit rise, of which the data saw all but 0.16
    assert np.expm1(trend.level[499]) / R == pytest.approx(0.81, abs=0.03)
    assert np.expm1(trend.seen[499]) / R == pytest.approx(0.81 - 0.16, abs=0.03)
    # what the data show alone could not say it: 0.65 of a rise that began at 0.16
    assert trend.level[499] > trend.seen[499] + 0.1 * R


def test_no_reading_before_enough_hours_nor_without_a_rise() -> None:
    y, e = series(400.0, 1000.0, 300, noise=0.001)
    before = np.full(300, 400.0)
    trend = vce_trend(y, e, before, K)
    assert (
        np.isnan(trend.level[: MIN_HOURS - 1]).all() and np.isfinite(trend.level[MIN_HOURS:]).all()
    )
    flat = np.log(1.7) + 0.001 * np.random.default_rng(1).standard_normal(300)
    calm = vce_trend(flat, e, before, K)
    assert np.nanmax(np.expm1(calm.seen) / R) < 0.2  # never the onset of a rise (1 % up)
    falling = vce_trend(np.log(1.7) - 1e-4 * e, e, before, K)
    assert np.isnan(falling.level).all()
    assert np.isnan(vce_trend(y[:10], e[:10], before[:10], K).level).all()


def test_it_never_reads_ahead_and_skips_unmeasured_hours() -> None:
    y, e = series(400.0, 1000.0, 400, noise=0.001)
    y[150:170] = np.nan  # a stop
    before = np.full(400, 400.0)
    full = vce_trend(y, e, before, K)
    cut = vce_trend(y[:250], e[:250], before[:250], K)
    np.testing.assert_allclose(cut.level, full.level[:250], atol=1e-12)
    np.testing.assert_allclose(cut.seen, full.seen[:250], atol=1e-12)
    assert np.isfinite(full.level[MIN_HOURS:]).all()


def test_only_the_hours_asked_are_fitted_and_each_as_in_the_whole_life() -> None:
    y, e = series(400.0, 1000.0, 300, noise=0.001)
    before = np.full(300, 400.0)
    full = vce_trend(y, e, before, K)
    asked = vce_trend(y, e, before, K, at=np.array([299, 120, 10]))
    fitted = np.isfinite(asked.level)
    assert np.flatnonzero(fitted).tolist() == [120, 299]  # hour 10 has too few hours before it
    np.testing.assert_array_equal(asked.level[fitted], full.level[fitted])
    np.testing.assert_array_equal(asked.seen[fitted], full.seen[fitted])
