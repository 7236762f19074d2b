"""The cold-start warning (:mod:`dt_platform.phm.fleet.limit_projection`) on hand-made lives
whose hours to the failure limit are known, and the alert it raises where the RUL model has no
physics for a type (:func:`dt_platform.phm.alerts.evaluate_alerts`)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from dt_platform.phm import fleet
from dt_platform.phm.alerts import LIMIT_ALERT_H, AlertRule, evaluate_alerts, limit_text
from dt_platform.phm.fleet.limit_projection import PROJECTION_SCHEMA, projection_timeline

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def life(
    machine: str,
    mtype: str,
    n: int,
    *,
    installed_h: float = 0.0,
    start_h: int = 1,
    idle_every: int = 0,
    **sensors: np.ndarray | float,
) -> pl.DataFrame:
    """``n`` hourly base rows of one life; a sensor is a constant or an array over the rows;
    with ``idle_every`` every such hour is idle (op_fraction 0, no sensor values)."""
    hours = np.arange(start_h, start_h + n)
    idle = (hours % idle_every == 0) if idle_every else np.zeros(n, dtype=bool)
    frame = pl.DataFrame(
        {
            "machine_id": machine,
            "machine_type": mtype,
            "ts": [T0 + dt.timedelta(hours=int(k)) for k in hours],
            "component_installed_at": T0 + dt.timedelta(hours=installed_h),
            "n_readings": 12,
            "op_fraction": np.where(idle, 0.0, 1.0),
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )
    cols = []
    for c in fleet.SIGNAL_COLUMNS:
        value = sensors.get(c)
        if value is None:
            cols.append(pl.lit(None, dtype=pl.Float64).alias(c))
            continue
        arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
        arr[idle] = np.nan
        cols.append(pl.Series(c, arr).fill_nan(None))
    return frame.with_columns(cols)


def smt(n: int, offset: np.ndarray | float, **kw) -> pl.DataFrame:
    defaults = {"vacuum_kpa": 75.0, "placement_force_n": 3.0, "placement_rate_per_min": 40.0}
    return life("SMT-01", "smt_placer", n, placement_offset_um=offset, **(defaults | kw))


def test_a_linear_rise_projects_the_hours_left_to_the_limit() -> None:
    rng = np.random.default_rng(0)
    k = np.arange(300, dtype=np.float64)
    offset = 30.0 + 0.1 * k + rng.normal(0.0, 0.5, k.size)  # reaches 60 µm at row 300
    out = projection_timeline(smt(300, offset))
    assert out.columns == list(PROJECTION_SCHEMA)
    assert out.height == 300
    first = out["hours_to_limit"].to_list()
    assert all(x is None for x in first[:83]) and first[83] is not None  # 84 hours needed
    last = out.row(-1, named=True)
    assert last["limit_sensor"] == "placement_offset_um" and last["limit"] == 60.0
    assert last["limit_kind"] == "above"
    assert last["limit_slope_per_h"] == pytest.approx(0.1, rel=0.05)
    assert last["hours_to_limit"] == pytest.approx(1.0, abs=3.0)
    at_200 = out.row(199, named=True)  # 100 hours before the limit
    assert at_200["hours_to_limit"] == pytest.approx(100.0, rel=0.1)


def test_a_falling_vacuum_and_a_flat_signal() -> None:
    k = np.arange(200, dtype=np.float64)
    falling = smt(200, 20.0, vacuum_kpa=75.0 - 0.1 * k)  # 45 kPa at row 300
    row = projection_timeline(falling).row(-1, named=True)
    assert row["limit_sensor"] == "vacuum_kpa" and row["limit_kind"] == "below"
    assert row["hours_to_limit"] == pytest.approx(101.0, abs=1e-6)
    assert row["limit_value"] == pytest.approx(55.1)

    rng = np.random.default_rng(1)
    flat = smt(200, 30.0 + rng.normal(0.0, 1.0, 200), vacuum_kpa=75.0 + rng.normal(0, 1, 200))
    hours = projection_timeline(flat)["hours_to_limit"].drop_nulls().to_numpy()
    assert (hours > 1000.0).all()  # noise around a healthy level is no approach to a limit

    past = projection_timeline(smt(100, 61.0 + 0.01 * np.arange(100.0))).row(-1, named=True)
    assert past["hours_to_limit"] == 0.0


def test_a_rise_limit_is_measured_from_the_lifes_first_day() -> None:
    k = np.arange(150, dtype=np.float64)
    vce = 1.0 + 0.0004 * k  # the first day's mean 1.0046 V: the limit 5 % above it
    servo = life(
        "SERVO-01",
        "servo_drive",
        150,
        vce_on_v=vce,
        junction_temp_c=80.0,
        power_cycles_per_min=30.0,
    )
    row = projection_timeline(servo).row(99, named=True)
    limit = (1.0 + 0.0004 * 11.5) * 1.05
    assert row["limit_kind"] == "rise" and row["limit"] == pytest.approx(limit)
    assert row["hours_to_limit"] == pytest.approx((limit - 1.0) / 0.0004 - 99.0)


def test_each_life_starts_afresh_and_idle_hours_are_skipped() -> None:
    k = np.arange(120, dtype=np.float64)
    old = smt(120, 30.0 + 0.25 * k)  # worn out: its trend must not reach into the new life
    new = smt(120, 20.0, installed_h=121.0, start_h=121)
    out = projection_timeline(pl.concat([old, new]))
    new_rows = out.filter(pl.col("ts") > T0 + dt.timedelta(hours=121))
    assert new_rows["hours_to_limit"].head(80).is_null().all()
    assert new_rows["hours_to_limit"].drop_nulls().is_infinite().all()

    # every other hour idle; the wear grows 0.1 µm per operating hour, 0.05 per calendar hour
    operating = np.cumsum(np.arange(1, 301) % 2 == 1)
    out = projection_timeline(smt(300, 30.0 + 0.1 * operating, idle_every=2))
    assert out.height == 150  # operating hours only
    last = out.row(-1, named=True)
    assert last["limit_slope_per_h"] == pytest.approx(0.05)
    assert last["hours_to_limit"] == pytest.approx((60.0 - 45.0) / 0.05, rel=0.01)


def test_latest_projection_takes_each_machines_last_hour() -> None:
    k = np.arange(200, dtype=np.float64)
    a = smt(200, 30.0 + 0.1 * k)
    b = life(
        "OVEN-01",
        "reflow_oven",
        50,  # too short for a projection yet
        heater_duty_pct=60.0,
        heater_temp_c=200.0,
        fan_speed_rpm=1200.0,
    )
    out = fleet.latest_projection(pl.concat([a, b]))
    assert out["machine_id"].to_list() == ["SMT-01"]
    assert out["ts"][0] == T0 + dt.timedelta(hours=200)
    assert out["hours_to_limit"][0] == pytest.approx(101.0, abs=1e-6)
    assert fleet.latest_projection(pl.DataFrame(schema=fleet.BASE_SCHEMA)).is_empty()


def test_window_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="min_hours"):
        projection_timeline(smt(10, 30.0), window_h=24, min_hours=48)


# --- the alert it raises --------------------------------------------------------------------


def prediction(machine: str, **values) -> dict:
    row = {
        "machine_id": machine,
        "machine_type": "smt_placer",
        "ts": T0,
        "stage": None,
        "rul_physics_h": None,
        "rul_physics_lo_h": None,
        "rul_physics_hi_h": None,
        "rul_ml_h": 400.0,
        "rul_ml_lo_h": 250.0,
        "rul_ml_hi_h": 600.0,
        "rul_fused_h": 400.0,
        "rul_fused_lo_h": 250.0,
        "rul_fused_hi_h": 600.0,
        "w_physics": 0.0,
        "basis": "ml_only",
    }
    return row | values


def context(machine: str, hours: float) -> dict:
    return {
        "machine_id": machine,
        "hours_to_limit": hours,
        "limit_sensor": "placement_offset_um",
        "limit_value": 52.3,
        "limit_slope_per_h": 0.19,
        "limit": 60.0,
    }


def test_without_physics_a_sensor_trending_to_its_limit_alerts() -> None:
    preds = [
        prediction("SMT-01"),  # 40 h to the limit: warning
        prediction("SMT-02"),  # 10 h: critical
        prediction("SMT-03"),  # 100 h: beyond the alert horizon
        prediction("SMT-04", rul_physics_h=300.0, rul_physics_lo_h=100.0, rul_physics_hi_h=900.0),
        prediction("SMT-05", stage="failed", basis="failed"),
        prediction("SMT-06"),  # no projection yet
        prediction("SMT-07", rul_fused_h=20.0, rul_fused_lo_h=5.0, rul_fused_hi_h=60.0),
    ]
    ctx = [context("SMT-01", 40.0), context("SMT-02", 10.0), context("SMT-03", 100.0)]
    ctx += [context("SMT-04", 40.0), context("SMT-05", 0.0), context("SMT-07", 30.0)]
    out = evaluate_alerts(pl.DataFrame(preds), AlertRule(), context=pl.DataFrame(ctx))
    by = {r["machine_id"]: r for r in out.iter_rows(named=True)}
    one = by["SMT-01"]
    assert one["alert"] and one["severity"] == "warning" and one["driver"] == "sensor_limit"
    assert one["probability"] < 0.01  # the RUL model alone would not have alerted
    assert "placement_offset_um 52.3 µm, rising 0.190 µm/h" in one["reason"]
    assert "60.0 µm failure limit in ~40 h" in one["reason"]
    assert "no physics for this type" in one["reason"]
    assert by["SMT-02"]["alert"] and by["SMT-02"]["severity"] == "critical"
    assert 100.0 > LIMIT_ALERT_H and not by["SMT-03"]["alert"]
    assert not by["SMT-04"]["alert"]  # the model has physics for it: its own rule decides
    assert not by["SMT-05"]["alert"] and not by["SMT-06"]["alert"]
    both = by["SMT-07"]  # the model's alert, with the trend added to its reason
    assert both["alert"] and both["driver"] == "ml"
    assert both["reason"].startswith("P(failure within 72 h)")
    assert "failure limit in ~30 h" in both["reason"]


def test_limit_text() -> None:
    assert limit_text({"hours_to_limit": None, "limit_sensor": "vacuum_kpa"}) is None
    assert limit_text({"hours_to_limit": math.inf, "limit_sensor": "vacuum_kpa"}) is None
    text = limit_text(
        {
            "hours_to_limit": 0.0,
            "limit_sensor": "vacuum_kpa",
            "limit_value": 44.0,
            "limit_slope_per_h": -0.2,
            "limit": 45.0,
        }
    )
    assert text == (
        "vacuum_kpa 44.0 kPa, falling 0.200 kPa/h over its last week of operation: "
        "its 45.0 kPa failure limit reached"
    )


def test_each_hour_uses_its_past_only() -> None:
    rng = np.random.default_rng(2)
    offset = 30.0 + 0.08 * np.arange(400.0) + rng.normal(0.0, 0.6, 400)
    full = projection_timeline(smt(400, offset))
    cut = projection_timeline(smt(250, offset[:250]))
    assert cut.equals(full.head(250))
