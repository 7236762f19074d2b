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
from dt_platform.phm.fleet.calibration import (
    choose_fallbacks,
    interval_scales,
    machine_quantile,
)

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def _branch_rows(
    machines: dict[str, str],
    physics: list[tuple[float, float, float | None]],
    ml: list[tuple[float, float, float]],
) -> pl.DataFrame:
    """One prediction row per machine (id → type) with each branch's (value, lo, hi) in hours."""
    n = len(machines)
    return pl.DataFrame(
        {
            "machine_id": list(machines),
            "machine_type": list(machines.values()),
            "ts": [h(1)] * n,
            "component_installed_at": [h(0)] * n,
            "stage": ["miner"] * n,
            **{
                f"rul_physics{s}_h": [p[i] for p in physics]
                for i, s in enumerate(("", "_lo", "_hi"))
            },
            **{f"rul_ml{s}_h": [m[i] for m in ml] for i, s in enumerate(("", "_lo", "_hi"))},
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )


def _held_out(mtype: str, errors: dict[str, float], n: int = 10, machines: int = 2) -> pl.DataFrame:
    """n rows on each of ``machines`` machines of one type, true RUL 100 h, each branch off by a
    constant error (a list: one error per machine)."""
    err = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), machines) for k, v in errors.items()}
    return pl.DataFrame(
        {
            "machine_id": [f"{mtype}-{m}" for m in range(machines) for _ in range(n)],
            "machine_type": [mtype] * (n * machines),
            "rul_h": [100.0] * (n * machines),
            **{
                col: np.repeat(100.0 + err[branch], n)
                for branch, col in (
                    ("physics", "rul_physics_h"),
                    ("ml", "rul_ml_h"),
                    ("fused", "rul_fused_h"),
                )
            },
        }
    )


def test_a_type_falls_back_when_the_branch_beats_the_fusion_on_many_machines() -> None:
    rows = pl.concat(
        [
            _held_out("servo_drive", {"physics": 90.0, "ml": 20.0, "fused": -30.0}, machines=6),
            _held_out("smt_placer", {"physics": 80.0, "ml": 40.0, "fused": 10.0}, machines=6),
            _held_out("cnc_spindle", {"physics": 5.0, "ml": -60.0, "fused": 30.0}, machines=6),
            # a tie is no evidence: the fusion stays
            _held_out("reflow_oven", {"physics": 50.0, "ml": 25.0, "fused": -25.0}, machines=6),
        ]
    )
    out = choose_fallbacks(rows)
    assert {t: v["fallback"] for t, v in out.items()} == {
        "cnc_spindle": "physics",
        "reflow_oven": None,
        "servo_drive": "ml",
        "smt_placer": None,
    }
    servo = out["servo_drive"]
    assert servo["rmse_fused"] == pytest.approx(30.0)
    assert servo["rmse_ml"] == pytest.approx(20.0)
    assert servo["machines"] == 6 and servo["machines_candidate_better"] == 6
    # all six machines favour the branch: one sign pattern of 64 is as extreme
    assert servo["p_candidate_better"] == pytest.approx(1 / 64)
    # with fewer held-out machines than min_machines the fusion stays whatever the test says
    assert all(v["fallback"] is None for v in choose_fallbacks(rows, min_machines=7).values())


def test_three_machines_that_all_favour_the_branch_are_within_noise() -> None:
    # the training fleet's SMT placers: the data branch wins on each of three held-out machines
    # (47.6 vs 63.0 h pooled), but 3 of 3 happens by chance one time in eight
    rows = _held_out(
        "smt_placer",
        {"physics": 600.0, "ml": [40.0, 45.0, 57.0], "fused": [55.0, 60.0, 73.0]},
        machines=3,
    )
    out = choose_fallbacks(rows)["smt_placer"]
    assert out["rmse_ml"] < out["rmse_fused"] and out["machines_candidate_better"] == 3
    assert out["p_candidate_better"] == pytest.approx(1 / 8)
    assert out["fallback"] is None
    # a gain within the machine-to-machine spread: one machine against, still kept fused
    mixed = _held_out(
        "smt_placer",
        {"physics": 600.0, "ml": [10.0, 10.0, 10.0, 10.0, 10.0, 80.0], "fused": 40.0},
        machines=6,
    )
    assert choose_fallbacks(mixed)["smt_placer"]["fallback"] is None


def test_combine_branches_reports_the_fallback_branch_and_says_so() -> None:
    frame = _branch_rows(
        {"S": "servo_drive", "P": "smt_placer"},
        physics=[(300.0, 100.0, None), (200.0, 50.0, 400.0)],
        ml=[(80.0, 60.0, 120.0), (90.0, 40.0, 150.0)],
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


def test_a_detected_fault_is_reported_by_the_physics_branch_that_tracks_it() -> None:
    # two spindles, the same branch values: one in spall growth, one before any spall; a servo
    # drive whose Vce(on) rise is read by its growth law
    frame = _branch_rows(
        {"C1": "cnc_spindle", "C2": "cnc_spindle", "S1": "servo_drive"},
        physics=[(20.0, 8.0, 45.0), (20.0, 8.0, 45.0), (20.0, 8.0, 45.0)],
        ml=[(300.0, 150.0, 336.0), (300.0, 150.0, 336.0), (300.0, 150.0, 336.0)],
    ).with_columns(pl.Series("stage", ["spall_growth", "initiation", "vce_rise"]))
    out = fleet.combine_branches(
        frame,
        None,
        504.0,
        fallback={"cnc_spindle": "ml", "servo_drive": "ml"},
        interval_scale={"*": 2.0},
    )
    rows = {r["machine_id"]: r for r in out.iter_rows(named=True)}
    before = rows["C2"]
    # the physics value and its own interval, whatever the fallback and the interval scale
    for tracked in (rows["C1"], rows["S1"]):
        assert tracked["basis"] == "physics_stage" and tracked["w_physics"] == 1.0
        assert (tracked["rul_fused_h"], tracked["rul_fused_lo_h"], tracked["rul_fused_hi_h"]) == (
            20.0,
            8.0,
            45.0,
        )
    assert before["basis"] == "ml_fallback"
    assert (before["rul_fused_h"], before["rul_fused_lo_h"]) == (300.0, 0.0)  # 300 - 2 x 150


def _needing(mtype: str, machine: str, needs: np.ndarray) -> pl.DataFrame:
    """Rows reported 100 h with [80, 120] whose truths need the factors ``needs`` (above)."""
    return pl.DataFrame(
        {
            "machine_id": [machine] * needs.size,
            "machine_type": [mtype] * needs.size,
            "rul_h": 100.0 + 20.0 * needs,
            "rul_fused_h": [100.0] * needs.size,
            "rul_fused_lo_h": [80.0] * needs.size,
            "rul_fused_hi_h": [120.0] * needs.size,
        }
    )


def test_interval_scale_weighs_machines_not_rows() -> None:
    # machine A: 90 rows well inside the interval (need 0.5); machine B: 10 rows needing
    # 1.1, 1.2, ... 2.0. A row quantile says 0.5 covers 90 % of the rows; a new machine like B
    # is covered by 0.5 nowhere. Weighted by machine, 90 % is A's 100 % and B's 80 %: B's 8th
    rows = pl.concat(
        [
            _needing("servo_drive", "A", np.full(90, 0.5)),
            _needing("servo_drive", "B", np.linspace(1.1, 2.0, 10)),
        ]
    )
    out = interval_scales(rows, 0.9, min_machines=2)
    assert out["servo_drive"]["factor"] == pytest.approx(1.8)
    assert out["servo_drive"]["factor_from"] == "own" and out["servo_drive"]["machines"] == 2
    assert out["servo_drive"]["coverage_before"] == pytest.approx(0.9)
    assert out["servo_drive"]["machine_coverage_before"] == pytest.approx(0.5)
    assert out["servo_drive"]["machine_coverage_after"] == pytest.approx(0.9)
    assert out["servo_drive"]["coverage_after"] == pytest.approx(98 / 100)
    assert np.isnan(machine_quantile(np.array([]), np.array([]), 0.9))


def test_a_type_with_few_machines_takes_the_factor_pooled_over_the_types() -> None:
    # three servo drives that all need 2 x, one reflow oven that needs 0.5 x; own factors need
    # at least 3 machines: the servos keep theirs, the oven takes the pool's (3 of 4 machines
    # need 2: the 90 % machine quantile is 2)
    rows = pl.concat(
        [
            *(_needing("servo_drive", f"S{i}", np.full(20, 2.0)) for i in range(3)),
            _needing("reflow_oven", "O", np.full(50, 0.5)),
        ]
    )
    out = interval_scales(rows, 0.9, min_machines=3)
    assert out["servo_drive"]["factor"] == pytest.approx(2.0)
    assert out["servo_drive"]["factor_from"] == "own"
    assert out["reflow_oven"]["factor_from"] == "pooled"
    assert out["reflow_oven"]["factor"] == out["*"]["factor"] == pytest.approx(2.0)
    # with the default (8 machines) every type is pooled
    assert {v["factor_from"] for v in interval_scales(rows, 0.9).values()} == {"pooled"}
    assert interval_scales(rows.clear(), 0.9) == {}


def test_the_pooled_factor_applies_to_types_without_their_own() -> None:
    frame = _branch_rows(
        {"S": "servo_drive", "C": "cnc_spindle"},
        physics=[(300.0, 100.0, 500.0)] * 2,
        ml=[(80.0, 60.0, 120.0)] * 2,
    )
    out = fleet.combine_branches(
        frame,
        None,
        504.0,
        fallback={"servo_drive": "ml", "cnc_spindle": "ml"},
        interval_scale={"servo_drive": 1.5, "*": 2.0},
    )
    rows = {
        r["machine_id"]: (r["rul_fused_lo_h"], r["rul_fused_hi_h"])
        for r in out.iter_rows(named=True)
    }
    assert rows == {"S": (50.0, 140.0), "C": (40.0, 160.0)}


def _timeline(
    a_late_h: float = 0.0, b_dip_h: float = 10.0, b_level_h: float = 300.0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hourly predictions, sharp intervals. A fails at 200 h and its estimate tracks the truth
    ``a_late_h`` late; B never fails, its estimate stays at ``b_level_h`` but dips to ``b_dip_h``
    for three hours at t = 50-52."""
    hours = np.arange(1, 200)
    a = 200.0 - hours + a_late_h
    b = np.where((hours >= 50) & (hours <= 52), b_dip_h, b_level_h)
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


def test_a_warning_that_barely_clears_the_needed_lead_is_not_chosen_as_a_success() -> None:
    # A's estimate runs 45 h late, so a 72 h horizon warns it only ~27 h ahead; B never fails,
    # but its estimate dips to 100 h for three hours: a 120 h horizon warns A ~75 h ahead and
    # pays one false episode on B.
    timeline, failures = _timeline(a_late_h=45.0, b_dip_h=100.0, b_level_h=400.0)
    grid = dict(horizons_h=(72.0, 120.0), smoothing_h=(1.0,))
    # a step at 24 h calls the 27 h warning a full success and avoids B's false episode
    step = AlertCosts(lead_needed_h=24.0, lead_wanted_h=24.0)
    rule, chosen = choose_alert_rule(timeline, failures, step, **grid)
    assert rule.horizon_h == 72.0 and chosen["chosen"]["false_episodes"] == 0
    # with the short-notice share a 27 h warning costs ~94 % of a miss: one needless
    # inspection is cheaper
    rule, chosen = choose_alert_rule(timeline, failures, AlertCosts(), **grid)
    assert rule.horizon_h == 120.0 and chosen["chosen"]["false_episodes"] == 1
    assert chosen["chosen"]["warned_late"] == 0 and chosen["chosen"]["cost"] < 2.0


def _floor_timeline() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A model with no skill far out: A fails at 400 h, B runs on. Both read 200 h with a wide
    interval (P(RUL <= 168 h) ~ 0.15) at every hour but A's last ten, where A's estimate drops
    to the truth: only a rule under the floor warns A in time, and it alerts on both nearly
    always."""
    hours = np.arange(1, 400)
    truth_a = 400.0 - hours
    est_a = np.where(truth_a <= 10.0, truth_a, 200.0)
    est_b = np.full(hours.size, 200.0)
    wide = np.r_[est_a > 10.0, np.ones(hours.size, dtype=bool)]
    est = np.r_[est_a, est_b]
    frame = pl.DataFrame(
        {
            "machine_id": ["A"] * hours.size + ["B"] * hours.size,
            "ts": [h(float(t)) for t in hours] * 2,
            "rul_h": np.r_[truth_a, 800.0 - hours],
            "rul_fused_h": est,
            "rul_fused_lo_h": np.where(wide, est - 50.0, np.clip(est - 2.0, 0.0, None)),
            "rul_fused_hi_h": np.where(wide, est + 50.0, est + 2.0),
        },
        schema_overrides={"ts": UTC},
    )
    failures = pl.DataFrame(
        {"machine_id": ["A"], "failed_at": [h(400)], "life_start": [h(0)]},
        schema_overrides={"failed_at": UTC, "life_start": UTC},
    )
    return frame, failures


def test_a_standing_alarm_is_not_chosen_however_cheap() -> None:
    """The costs alone choose the rule under the floor: A's episode, true with its early hours
    (0.65), and B's, false (1), cost less than a late warning (10). On the rows with more than
    two weeks left it alerts all the time, on both machines: a standing alarm, not eligible."""
    timeline, failures = _floor_timeline()
    grid = dict(horizons_h=(72.0, 168.0), smoothing_h=(1.0,))
    standing = AlertRule(horizon_h=168.0, threshold=0.1, release=0.05)
    scored = score_rule(timeline, failures, standing, AlertCosts())
    assert scored["standing_share"] == pytest.approx(1.0)
    assert scored["warned_late"] == 0 and scored["false_episodes"] == 1
    assert scored["cost"] == pytest.approx(1.0 + 0.002 * (399 - 72))
    # without the truth column nothing is known to be far from failure: the cheapest rule wins
    rule, chosen = choose_alert_rule(timeline.drop("rul_h"), failures, **grid)
    assert (rule.horizon_h, rule.threshold) == (168.0, 0.1)
    assert chosen["chosen"]["standing_share"] is None and chosen["standing_rules_excluded"] == 0
    rule, chosen = choose_alert_rule(timeline, failures, **grid)
    assert chosen["chosen"]["standing_share"] <= 0.5 < 1.0
    assert chosen["standing_rules_excluded"] == 1 and (rule.horizon_h, rule.threshold) != (
        168.0,
        0.1,
    )
    # it pays for the lack of skill with a late warning, not with a standing alarm
    assert chosen["chosen"]["warned_late"] == 1 and chosen["chosen"]["cost"] > scored["cost"]
