"""Alerts: failure probability from an interval, alert rule and reasons, lead time, false alarms.

Every expected number follows from the split normal of the module docstring: the interval's
ends are its 5 % and 95 % points and the estimate its median.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from dt_platform.phm.alerts import (
    Z95,
    AlertRule,
    alert_flags,
    driving_branch,
    evaluate_alerts,
    failure_probability,
    false_alarm_rate,
    lead_times,
    trend_text,
)

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_the_interval_ends_and_the_estimate_are_the_5_50_95_percent_points() -> None:
    p = failure_probability([100.0] * 3, [50.0] * 3, [200.0] * 3, 0.0)
    assert p[0] == pytest.approx(stats.norm.cdf(-100 / (50 / Z95)))
    for horizon, expected in ((50.0, 0.05), (100.0, 0.5), (200.0, 0.95)):
        assert failure_probability(100.0, 50.0, 200.0, horizon)[0] == pytest.approx(expected)
    # one right-half sigma above the median: Phi(1)
    assert failure_probability(100.0, 50.0, 200.0, 100.0 + 100.0 / Z95)[0] == pytest.approx(
        stats.norm.cdf(1.0)
    )


def test_an_interval_reaching_zero_counts_its_lower_tail_as_failing_now() -> None:
    # lo = 0 h: 5 % of the mass lies at or below zero hours, so even a zero horizon has P = 0.05
    assert failure_probability(40.0, 0.0, 100.0, 0.0)[0] == pytest.approx(0.05)


def test_degenerate_and_open_intervals() -> None:
    step = failure_probability([10.0, 10.0, 10.0], [10.0] * 3, [10.0] * 3, 10.0)
    assert step.tolist() == [1.0, 1.0, 1.0]
    assert failure_probability(10.0, 10.0, 10.0, 9.99)[0] == 0.0
    # no upper bound (the physics found no failure in its draws): the right half is flat
    assert failure_probability(100.0, 50.0, None, 1e6)[0] == pytest.approx(0.5)
    assert failure_probability(100.0, 50.0, math.inf, 150.0)[0] == pytest.approx(0.5)
    assert np.isnan(failure_probability(math.nan, 1.0, 2.0, 3.0)[0])
    # a missing lower bound is read as 0 h
    assert failure_probability(100.0, None, 200.0, 0.0)[0] == pytest.approx(0.05)


@given(
    point=st.floats(0.0, 1000.0),
    lo_frac=st.floats(0.0, 1.0),
    hi_extra=st.floats(0.0, 1000.0),
    h1=st.floats(0.0, 2000.0),
    h2=st.floats(0.0, 2000.0),
)
def test_probability_is_a_cdf_in_the_horizon(point, lo_frac, hi_extra, h1, h2) -> None:
    lo, hi = point * lo_frac, point + hi_extra
    a, b = sorted((h1, h2))
    pa = failure_probability(point, lo, hi, a)[0]
    pb = failure_probability(point, lo, hi, b)[0]
    assert 0.0 <= pa <= pb <= 1.0


def test_alert_rule_validates_its_numbers() -> None:
    with pytest.raises(ValueError, match="horizon_h"):
        AlertRule(horizon_h=0)
    with pytest.raises(ValueError, match="threshold"):
        AlertRule(threshold=0.95, critical=0.9)


def test_driving_branch_follows_the_fusion_weight_and_the_basis() -> None:
    assert driving_branch("fused", 0.8) == "physics"
    assert driving_branch("fused", 0.1) == "ml"
    assert driving_branch("fused", 0.5) == "both"
    assert driving_branch("physics_only", None) == "physics"
    assert driving_branch("ml_only", 0.9) == "ml"
    assert driving_branch("ml_fallback", 0.0) == "ml"
    assert driving_branch("physics_fallback", 1.0) == "physics"


def _predictions() -> pl.DataFrame:
    rows = [
        # near failure, fused leans on the data branch
        dict(
            machine_id="CNC-01",
            machine_type="cnc_spindle",
            stage="spall_growth",
            rul_physics_h=150.0,
            rul_physics_lo_h=60.0,
            rul_physics_hi_h=400.0,
            rul_ml_h=25.0,
            rul_ml_lo_h=5.0,
            rul_ml_hi_h=60.0,
            rul_fused_h=30.0,
            rul_fused_lo_h=10.0,
            rul_fused_hi_h=70.0,
            w_physics=0.2,
            basis="fused",
        ),
        # far from failure
        dict(
            machine_id="OVEN-01",
            machine_type="reflow_oven",
            stage="miner",
            rul_physics_h=600.0,
            rul_physics_lo_h=300.0,
            rul_physics_hi_h=900.0,
            rul_ml_h=336.0,
            rul_ml_lo_h=250.0,
            rul_ml_hi_h=400.0,
            rul_fused_h=500.0,
            rul_fused_lo_h=300.0,
            rul_fused_hi_h=800.0,
            w_physics=0.5,
            basis="fused",
        ),
        # already failed: repair under way, no alert
        dict(
            machine_id="SMT-01",
            machine_type="smt_placer",
            stage="failed",
            rul_physics_h=0.0,
            rul_physics_lo_h=0.0,
            rul_physics_hi_h=0.0,
            rul_ml_h=0.0,
            rul_ml_lo_h=0.0,
            rul_ml_hi_h=0.0,
            rul_fused_h=0.0,
            rul_fused_lo_h=0.0,
            rul_fused_hi_h=0.0,
            w_physics=None,
            basis="failed",
        ),
        # no data-branch model yet: the physics alone, at the threshold exactly (median = horizon)
        dict(
            machine_id="SERVO-01",
            machine_type="servo_drive",
            stage="miner",
            rul_physics_h=72.0,
            rul_physics_lo_h=20.0,
            rul_physics_hi_h=200.0,
            rul_ml_h=None,
            rul_ml_lo_h=None,
            rul_ml_hi_h=None,
            rul_fused_h=72.0,
            rul_fused_lo_h=20.0,
            rul_fused_hi_h=200.0,
            w_physics=1.0,
            basis="physics_only",
        ),
    ]
    return pl.DataFrame(rows).with_columns(pl.lit(h(24)).alias("ts"))


def test_alerts_are_raised_over_the_threshold_with_a_reason() -> None:
    context = pl.DataFrame(
        {
            "machine_id": ["CNC-01", "SERVO-01"],
            "dominant_stress": ["bearing load P/C 0.150", "delta_tj_k 47.0 K swing"],
            "trend_sensor": ["vibration_rms_mm_s", "vce_on_v"],
            "trend_value": [3.9, 1.75],
            "trend_slope_per_h": [0.02, 0.0001],
            "trend_limit": [4.5, 0.05],
            "trend_limit_kind": ["above", "rise"],
            "trend_limit_fraction": [0.8667, 0.6],
        }
    )
    out = evaluate_alerts(_predictions(), AlertRule(horizon_h=72.0, threshold=0.5), context=context)
    by = {r["machine_id"]: r for r in out.iter_rows(named=True)}
    cnc = by["CNC-01"]
    assert cnc["alert"] and cnc["severity"] == "critical"
    assert cnc["probability"] == pytest.approx(stats.norm.cdf((72 - 30) / (40 / Z95)))
    assert cnc["driver"] == "ml"
    assert "data branch" in cnc["reason"] and "physics weight 0.20" in cnc["reason"]
    assert "vibration_rms_mm_s 3.90 mm/s" in cnc["reason"]
    assert "87% of the way to its 4.5 mm/s limit" in cnc["reason"]
    assert "rising 0.020" in cnc["reason"] and "bearing load P/C 0.150" in cnc["reason"]
    assert cnc["p_ml"] > cnc["p_physics"]

    assert not by["OVEN-01"]["alert"] and by["OVEN-01"]["reason"] is None
    assert by["OVEN-01"]["probability"] < 1e-3
    smt = by["SMT-01"]
    assert smt["probability"] == 1.0 and not smt["alert"]  # failed already: no alert
    servo = by["SERVO-01"]
    assert servo["alert"] and servo["probability"] == pytest.approx(0.5)
    assert servo["severity"] == "warning" and servo["driver"] == "physics"
    assert "physics branch" in servo["reason"] and "60% of the allowed 5% rise" in servo["reason"]
    assert servo["p_ml"] is None


def test_trend_text_without_a_sensor_is_none() -> None:
    assert trend_text({"trend_sensor": None}) is None


def _evaluations(spec: dict[str, list[tuple[float, bool]]]) -> pl.DataFrame:
    rows = [
        {"machine_id": m, "ts": h(t), "alert": a} for m, items in spec.items() for t, a in items
    ]
    return pl.DataFrame(
        rows, schema={"machine_id": pl.String, "ts": pl.Datetime("us", "UTC"), "alert": pl.Boolean}
    )


def test_lead_time_is_the_start_of_the_last_alert_run_before_the_failure() -> None:
    ev = _evaluations(
        {
            # alerts from t=10 to t=19 (hourly), failure at 20.5: 10.5 h of warning
            "A": [(t, t >= 10) for t in range(20)],
            # alerted early, then quiet before the failure: missed
            "B": [(t, 5 <= t <= 8) for t in range(20)],
            # an alert run broken by a 30 h silence: only the run after it counts
            "C": [(0, True), (1, True), (31, True), (32, True)],
        }
    )
    failures = pl.DataFrame(
        {
            "machine_id": ["A", "B", "C", "D"],
            "failed_at": [h(20.5), h(20.0), h(33.0), h(5.0)],
        },
        schema={"machine_id": pl.String, "failed_at": pl.Datetime("us", "UTC")},
    )
    out = {r["machine_id"]: r for r in lead_times(ev, failures).iter_rows(named=True)}
    assert out["A"]["lead_h"] == pytest.approx(10.5)
    assert out["B"]["lead_h"] == 0.0
    assert out["C"]["lead_h"] == pytest.approx(2.0)
    assert out["D"]["evaluated"] is False and out["D"]["lead_h"] is None


def test_lead_time_stays_within_the_failed_components_life() -> None:
    # the machine failed at 10 (repaired) and again at 30: alerts before 10 belong to the
    # first life and cannot count as warning of the second failure
    ev = _evaluations({"A": [(t, t < 10 or t >= 25) for t in range(30)]})
    failures = pl.DataFrame(
        {"machine_id": ["A", "A"], "failed_at": [h(10.0), h(30.0)]},
        schema={"machine_id": pl.String, "failed_at": pl.Datetime("us", "UTC")},
    )
    leads = lead_times(ev, failures)["lead_h"].to_list()
    assert leads == [pytest.approx(10.0), pytest.approx(5.0)]


def test_false_alarm_rate_counts_alerts_without_a_failure_within_the_horizon() -> None:
    ev = _evaluations(
        {
            "A": [(t, t >= 10) for t in range(20)],  # 10 alerts, failure at 20.5: all true
            "B": [(t, t < 4) for t in range(20)],  # 4 alerts, failure at 100: beyond 72 h
            "C": [(0, False)],
        }
    )
    failures = pl.DataFrame(
        {"machine_id": ["A", "B"], "failed_at": [h(20.5), h(100.0)]},
        schema={"machine_id": pl.String, "failed_at": pl.Datetime("us", "UTC")},
    )
    assert false_alarm_rate(ev, failures, 72.0) == pytest.approx(4 / 14)
    # with a longer horizon B's alerts come true too
    assert false_alarm_rate(ev, failures, 100.0) == pytest.approx(0.0)
    assert math.isnan(false_alarm_rate(_evaluations({"C": [(0, False)]}), failures, 72.0))


def test_alert_rule_round_trips_and_checks_release_and_smoothing() -> None:
    rule = AlertRule(horizon_h=120.0, threshold=0.4, release=0.2, smoothing_h=6.0)
    assert AlertRule.from_dict(rule.to_dict()) == rule
    with pytest.raises(ValueError, match="release"):
        AlertRule(threshold=0.4, release=0.5)
    with pytest.raises(ValueError, match="smoothing_h"):
        AlertRule(smoothing_h=0.5)


def test_alert_flags_smooth_over_the_trailing_hours_and_hold_until_the_release() -> None:
    # A: hourly 0.2 0.6 0.4 0.3 0.2 0.7; B: 0.9 0.9 then missing (NaN counts as 0)
    frame = pl.DataFrame(
        {"machine_id": ["A"] * 6 + ["B"] * 3, "ts": [h(t) for t in (1, 2, 3, 4, 5, 6, 1, 2, 3)]}
    )
    p = np.array([0.2, 0.6, 0.4, 0.3, 0.2, 0.7, 0.9, 0.9, np.nan])
    # hysteresis: on at 0.6 (>= 0.5), held while >= 0.25 (0.4, 0.3), off at 0.2, on at 0.7
    prob, alert = alert_flags(frame, p, AlertRule(threshold=0.5, release=0.25))
    assert alert.tolist() == [False, True, True, True, False, True, True, True, False]
    assert np.isnan(prob[-1])
    # a 2 h trailing mean, rows given in any order: A 0.2 0.4 0.5 0.35 0.25 0.45, B 0.9 0.9 0.45
    rev = frame.reverse()
    prob, alert = alert_flags(rev, p[::-1], AlertRule(threshold=0.5, smoothing_h=2.0))
    assert prob[1:].tolist() == pytest.approx([0.9, 0.9, 0.45, 0.25, 0.35, 0.5, 0.4, 0.2])
    assert alert.tolist() == [False, True, True, False, False, False, True, False, False]


def test_the_smoothing_window_restarts_where_the_physics_starts_tracking_a_fault() -> None:
    # a spindle quiet for 24 h, then a detected spall: P jumps to 0.9 at hour 25
    hours = list(range(1, 31))
    stages = ["initiation"] * 24 + ["spall_growth"] * 6
    frame = pl.DataFrame({"machine_id": ["C"] * 30, "ts": [h(t) for t in hours], "stage": stages})
    p = np.array([0.1] * 24 + [0.9] * 6)
    rule = AlertRule(threshold=0.5, smoothing_h=24.0)
    prob, alert = alert_flags(frame, p, rule)
    # the hours before the detection do not dilute it: the alert starts at the onset
    assert prob[24] == pytest.approx(0.9) and alert[24] and not alert[23]
    # without a stage column the same timeline waits for the 24 h mean to cross 0.5 (hour 36)
    prob, alert = alert_flags(frame.drop("stage"), p, rule)
    assert prob[-1] == pytest.approx((18 * 0.1 + 6 * 0.9) / 24) and not alert.any()


def test_alert_flags_restart_with_each_life_and_stop_at_a_failure() -> None:
    frame = pl.DataFrame(
        {
            "machine_id": ["A"] * 5 + ["B"] * 3,
            "ts": [h(t) for t in (1, 2, 3, 4, 5, 1, 2, 3)],
            "component_installed_at": [h(0), h(0), h(0), h(3), h(3), h(0), h(0), h(2)],
            "stage": ["miner", "miner", "failed", "miner", "miner", "miner", "miner", "miner"],
        }
    )
    # A: held by hysteresis, stopped by the failure; B: a replaced component starts quiet
    _, alert = alert_flags(
        frame,
        np.array([0.9, 0.3, 0.9, 0.3, 0.3, 0.9, 0.3, 0.3]),
        AlertRule(threshold=0.5, release=0.2),
    )
    assert alert.tolist() == [True, True, False, False, False, True, True, False]
