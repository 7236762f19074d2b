"""What the training fleet's held-out rows decide: the per-type fallback of the fusion, the
interval scale and the alert rule chosen by expected cost — on hand-made rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from dt_platform.phm import fleet
from dt_platform.phm.alert_scoring import AlertCosts
from dt_platform.phm.alerts import AlertRule
from dt_platform.phm.fleet.alerting import choose_alert_rule, score_rule
from dt_platform.phm.fleet.calibration import choose_fallbacks, interval_scales

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def _held_out(mtype: str, errors: dict[str, float], n: int = 10) -> pl.DataFrame:
    """n rows of one type with true RUL 100 h and each branch off by a constant error."""
    return pl.DataFrame(
        {
            "machine_id": [f"{mtype}-{i % 2}" for i in range(n)],
            "machine_type": [mtype] * n,
            "rul_h": [100.0] * n,
            "rul_physics_h": [100.0 + errors["physics"]] * n,
            "rul_ml_h": [100.0 + errors["ml"]] * n,
            "rul_fused_h": [100.0 + errors["fused"]] * n,
        }
    )


def test_a_type_falls_back_to_the_branch_that_beats_the_fusion() -> None:
    rows = pl.concat(
        [
            _held_out("servo_drive", {"physics": 90.0, "ml": 20.0, "fused": -30.0}),
            _held_out("smt_placer", {"physics": 80.0, "ml": 40.0, "fused": 10.0}),
            _held_out("cnc_spindle", {"physics": 5.0, "ml": -60.0, "fused": 30.0}),
            # a tie is no gain: the fusion must be strictly better than the best branch
            _held_out("reflow_oven", {"physics": 50.0, "ml": 25.0, "fused": -25.0}),
        ]
    )
    out = choose_fallbacks(rows, min_machines=2)
    assert {t: v["fallback"] for t, v in out.items()} == {
        "cnc_spindle": "physics",
        "reflow_oven": "ml",
        "servo_drive": "ml",
        "smt_placer": None,
    }
    assert out["servo_drive"]["rmse_fused"] == pytest.approx(30.0)
    assert out["servo_drive"]["rmse_ml"] == pytest.approx(20.0)
    assert out["servo_drive"]["machines"] == 2
    # two held-out machines are too few to overrule the fusion
    strict = choose_fallbacks(rows, min_machines=3)
    assert all(v["fallback"] is None for v in strict.values())


def test_combine_branches_reports_the_fallback_branch_and_says_so() -> None:
    frame = pl.DataFrame(
        {
            "machine_id": ["S", "P"],
            "machine_type": ["servo_drive", "smt_placer"],
            "ts": [h(1)] * 2,
            "component_installed_at": [h(0)] * 2,
            "stage": ["miner", "miner"],
            "rul_physics_h": [300.0, 200.0],
            "rul_physics_lo_h": [100.0, 50.0],
            "rul_physics_hi_h": [None, 400.0],
            "rul_ml_h": [80.0, 90.0],
            "rul_ml_lo_h": [60.0, 40.0],
            "rul_ml_hi_h": [120.0, 150.0],
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )
    out = fleet.combine_branches(
        frame,
        None,
        504.0,
        fallback={"servo_drive": "ml", "smt_placer": "physics"},
        interval_scale={"servo_drive": 1.5},
    )
    rows = {r["machine_id"]: r for r in out.iter_rows(named=True)}
    servo, smt = rows["S"], rows["P"]
    assert servo["basis"] == "ml_fallback" and servo["w_physics"] == 0.0
    # the data branch's value, its interval's halves stretched 1.5 x: 80 - 30, 80 + 60
    assert (servo["rul_fused_h"], servo["rul_fused_lo_h"], servo["rul_fused_hi_h"]) == (
        80.0,
        50.0,
        140.0,
    )
    assert smt["basis"] == "physics_fallback" and smt["w_physics"] == 1.0
    assert (smt["rul_fused_h"], smt["rul_fused_lo_h"], smt["rul_fused_hi_h"]) == (
        200.0,
        50.0,
        400.0,
    )


def test_interval_scale_is_the_split_conformal_factor_of_the_held_out_rows() -> None:
    # reported 100 h with [80, 120]; truths 100 + k for k = -19..30: the factor each row needs is
    # |k| / 20, and the 90 % finite-sample quantile (the 46th of 50) is 26 / 20
    k = np.arange(-19, 31, dtype=np.float64)
    rows = pl.DataFrame(
        {
            "machine_type": ["servo_drive"] * k.size,
            "rul_h": 100.0 + k,
            "rul_fused_h": [100.0] * k.size,
            "rul_fused_lo_h": [80.0] * k.size,
            "rul_fused_hi_h": [120.0] * k.size,
        }
    )
    out = interval_scales(rows, 0.9, min_rows=10)["servo_drive"]
    assert out["factor"] == pytest.approx(26 / 20)
    assert out["coverage_before"] == pytest.approx(40 / 50)
    assert out["coverage_after"] == pytest.approx(46 / 50)
    assert interval_scales(rows, 0.9)["servo_drive"]["factor"] == 1.0  # too few rows


def _timeline() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hourly predictions, sharp intervals. A fails at 200 h and its estimate tracks the truth;
    B never fails, but its estimate dips to 10 h for three hours at t = 50-52."""
    hours = np.arange(1, 200)
    a = 200.0 - hours
    b = np.where((hours >= 50) & (hours <= 52), 10.0, 300.0)
    frame = pl.DataFrame(
        {
            "machine_id": ["A"] * hours.size + ["B"] * hours.size,
            "ts": [h(float(t)) for t in hours] * 2,
            "rul_fused_h": np.r_[a, b],
        },
        schema_overrides={"ts": UTC},
    ).with_columns(
        (pl.col("rul_fused_h") - 5.0).clip(0.0, None).alias("rul_fused_lo_h"),
        (pl.col("rul_fused_h") + 5.0).alias("rul_fused_hi_h"),
    )
    failures = pl.DataFrame(
        {"machine_id": ["A"], "failed_at": [h(200)], "life_start": [h(0)]},
        schema_overrides={"failed_at": UTC, "life_start": UTC},
    )
    return frame, failures


def test_the_alert_rule_is_the_cheapest_of_the_grid() -> None:
    timeline, failures = _timeline()
    costs = AlertCosts()
    # the default rule warns A 72 h ahead but raises a false alert on B's dip
    default = score_rule(timeline, failures, AlertRule(), costs)
    assert default["false_episodes"] == 1 and default["warned_late"] == 0
    rule, chosen = choose_alert_rule(
        timeline, failures, costs, horizons_h=(24.0, 72.0), smoothing_h=(1.0, 12.0)
    )
    # a 24 h horizon warns too late (a miss: 10), an unsmoothed 72 h one pays B's dip (1); a
    # 12 h mean dilutes three hours of P = 1 to 0.25 and still warns A 60-70 h ahead
    assert rule.horizon_h == 72.0 and rule.smoothing_h == 12.0
    assert rule.threshold > 0.25 and rule.release == pytest.approx(rule.threshold / 2)
    assert chosen["chosen"]["false_episodes"] == 0 and chosen["chosen"]["warned_late"] == 0
    assert chosen["chosen"]["cost"] < default["cost"]
    assert chosen["costs"] == costs.describe() and chosen["failures"] == 1
