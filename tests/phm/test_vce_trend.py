"""The Vce(on) rise of a module already in service when the telemetry began, read from the shape
of its trend through the exposure imputed to its life before the data
(:mod:`dt_platform.phm.fitting.vce_trend`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def _refit_every_hour(y: np.ndarray, e: np.ndarray, e0: np.ndarray, k: float):
    """The definition, fitted from scratch at every hour: the least-squares slope of the rise on
    ``((E0 + e_i) / (E0 + e_t))^k`` over the measured hours up to ``t``."""
    level = np.full(y.size, np.nan)
    seen = np.full(y.size, np.nan)
    measured = np.flatnonzero(np.isfinite(y))
    for t in range(y.size):
        idx = measured[measured <= t]
        if idx.size < MIN_HOURS:
            continue
        x = ((e0[t] + e[idx]) / (e0[t] + e[t])) ** k
        beta = np.polyfit(x, y[idx], 1)[0]
        if beta > 0:
            level[t], seen[t] = beta, beta * (1.0 - x[0])
    return level, seen


def test_the_running_sums_give_the_fit_of_every_hour_from_scratch() -> None:
    """Carried sums, not a refit per hour, make a life linear in its length: they must give the
    same fits, also while the exposure imputed before the data still moves (the first week)
    and across hours without a measurement."""
    y, e = series(2500.0, 4000.0, 700, noise=0.002, seed=4)
    y[300:340] = np.nan
    before = np.where(np.arange(700) < 168, 2300.0 + 1.5 * np.arange(700), 2550.0)
    level, seen = _refit_every_hour(y, e, before, K)
    trend = vce_trend(y, e, before, K)
    assert np.array_equal(np.isnan(trend.level), np.isnan(level))
    np.testing.assert_allclose(trend.level, level, rtol=1e-7)
    np.testing.assert_allclose(trend.seen, seen, rtol=1e-7)
    asked = vce_trend(y, e, before, K, at=np.array([100, 150, 600]))
    for h in (100, 150, 600):
        assert asked.level[h] == trend.level[h] and asked.seen[h] == trend.seen[h]


def test_the_speed_benchmark_prints_one_json_line_and_checks_the_fits_agree() -> None:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "vce_trend.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--hours", "400", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["benchmark"] == "vce_trend" and out["hours"] == 400 and out["same_fits"] is True
    assert out["hours_fitted"] > 300 and out["ratio"] > 0
    bad = subprocess.run(
        [sys.executable, str(script), "--hours", "10"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "--hours must be at least" in bad.stderr and bad.stdout == ""
