"""The decision policy on hand-made cases: a healthy machine, a near-certain failure, a moderate
risk with a close stop, a derate that reaches the stop, capacity (crews, spares), a stop under way,
and a MANAGER's limits; plus the belief, the plan and the costs it rests on."""

from __future__ import annotations

import datetime as dt

import pytest

from dt_platform.twin.costs import Capacity, Costs, PolicyConfigError, load_costs
from dt_platform.twin.limits import Limits
from dt_platform.twin.policy import choose_action
from dt_platform.twin.policy_options import DecisionContext
from dt_platform.twin.production_plan import ProductionPlan, load_plan
from dt_platform.twin.rul_belief import RulBelief

LOCAL = dt.timezone(dt.timedelta(hours=8))
WED_10 = dt.datetime(2026, 3, 4, 10, 0, tzinfo=LOCAL)  # Wednesday 10:00 at the plant
SAT_10 = dt.datetime(2026, 3, 7, 10, 0, tzinfo=LOCAL)
SUNDAY = dt.datetime(2026, 3, 8, 0, 0, tzinfo=LOCAL)
COSTS, CAPACITY = Costs(), Capacity()


def ctx(now=WED_10, machine_type="cnc_spindle", **kw) -> DecisionContext:
    kw.setdefault("spare_available_at", now)
    kw.setdefault("component_age_h", 1500.0)
    return DecisionContext("M-1", machine_type, now.astimezone(dt.UTC), **kw)


def belief(m: float, lo: float, hi: float) -> RulBelief:
    return RulBelief.from_interval(m, lo, hi)


# --- the belief ----------------------------------------------------------------------------------


def test_the_belief_passes_through_the_median_and_both_interval_ends() -> None:
    b = belief(200, 50, 900)
    assert b.p_fail_within(200) == pytest.approx(0.5)
    assert b.p_fail_within(50) == pytest.approx(0.05, abs=1e-6)
    assert b.p_fail_within(900) == pytest.approx(0.95, abs=1e-6)
    assert b.quantile(0.05) == pytest.approx(50, rel=1e-6)
    assert b.p_fail_within(0) == 0.0 and b.p_fail_within(1e6) > 0.999
    assert b.stretched(2.0).p_fail_within(400) == pytest.approx(0.5)


def test_an_interval_reaching_zero_is_read_as_one_hour() -> None:
    b = belief(10, 0, 30)
    assert b.lo_h == 1.0 and b.p_fail_within(1.0) == pytest.approx(0.05, abs=1e-6)
    with pytest.raises(ValueError, match="number of hours"):
        belief(float("nan"), 1, 2)


# --- the plan and the costs ----------------------------------------------------------------------


def test_the_default_plan_two_shifts_six_days_and_a_sunday_stop() -> None:
    plan = ProductionPlan()
    monday = dt.datetime(2026, 3, 2, tzinfo=LOCAL)
    assert plan.producing_hours(monday, monday + dt.timedelta(days=7)) == pytest.approx(96)
    (start, end), _ = plan.next_stops(WED_10, count=2)
    assert (start, end) == (SUNDAY, SUNDAY + dt.timedelta(days=1))
    inside = SUNDAY + dt.timedelta(hours=20)
    assert plan.next_stops(inside, min_hours=3, count=1)[0][0] == inside
    assert plan.next_stops(inside, min_hours=6, count=1)[0][0] == SUNDAY + dt.timedelta(days=7)


def test_a_plan_file_replaces_the_default(tmp_path) -> None:
    path = tmp_path / "production_plan.yaml"
    path.write_text(
        "shifts:\n  - {name: day, start: '08:00', end: '16:00', days: [Mon, Tue]}\n"
        "planned_stops:\n  - {day: Wed, start: '00:00', hours: 12}\n"
        "customer_orders:\n  - {start: '2026-03-02T00:00:00+08:00', "
        "end: '2026-03-03T00:00:00+08:00', machines: [M-1]}\n"
    )
    plan = load_plan(path)
    monday = dt.datetime(2026, 3, 2, tzinfo=LOCAL)
    assert plan.producing_hours(monday, monday + dt.timedelta(days=7)) == pytest.approx(16)
    assert plan.in_customer_order("M-1", monday + dt.timedelta(hours=9))
    assert not plan.in_customer_order("M-2", monday + dt.timedelta(hours=9))
    assert load_plan(tmp_path / "missing.yaml") == ProductionPlan()
    path.write_text("shifts:\n  - {start: '25:00', end: '16:00'}\n")
    with pytest.raises(PolicyConfigError, match="not a time of day"):
        load_plan(path)


def test_costs_and_capacity_from_a_file(tmp_path) -> None:
    path = tmp_path / "costs.yaml"
    path.write_text("planned_job: 2500\ncapacity:\n  crews_per_shift: 2\n  job_hours: {x: 3}\n")
    costs, capacity = load_costs(path)
    assert costs.planned_job == 2500 and costs.unplanned_failure == 20_000
    assert capacity.crews_per_shift == 2 and capacity.job_h("x") == 3
    assert capacity.job_h("cnc_spindle") == 10.0  # the simulator's repair mid-point stays
    path.write_text("planned_jobs: 1\n")
    with pytest.raises(PolicyConfigError, match="unknown cost fields"):
        load_costs(path)
    with pytest.raises(PolicyConfigError, match="between 0"):
        Costs(unplanned_failure=-1)


# --- the choice ----------------------------------------------------------------------------------


def test_a_healthy_machine_needs_nothing() -> None:
    d = choose_action(belief(3000, 1200, 6000), ctx(), COSTS, CAPACITY)
    assert d.action == "nothing" and d.at is None
    assert d.expected_cost["nothing"] < d.expected_cost["maintain_at_next_stop"]
    assert "nothing now" in d.reason and "Costs are a manager's assumptions" in d.reason


def test_a_near_certain_failure_before_the_stop_means_maintain_now() -> None:
    d = choose_action(belief(20, 6, 45), ctx(), COSTS, CAPACITY)
    assert d.action == "maintain_now" and d.at == WED_10
    assert d.p_fail["next_stop"] > 0.99
    assert "maintain now" in d.reason and "× €20,000" in d.reason


def test_a_moderate_risk_with_a_close_stop_means_maintain_at_the_stop() -> None:
    d = choose_action(belief(400, 150, 900), ctx(now=SAT_10), COSTS, CAPACITY)
    assert d.action == "maintain_at_next_stop" and d.at == SUNDAY and d.lost_h == 0
    assert d.p_fail["next_stop"] < 0.01 < d.p_fail["following_stop"]
    assert "maintain at the stop of Sun 08 Mar 00:00" in d.reason
    assert "> planned job €3,000" in d.reason


def test_a_derate_that_buys_the_time_to_reach_the_stop() -> None:
    # an IGBT (damage ∝ load^6 assumed): 20 % less load makes it last ~4x as long
    d = choose_action(belief(30, 10, 80), ctx(now=SAT_10, machine_type="servo_drive"), COSTS,
                      CAPACITY)  # fmt: skip
    assert d.action == "derate" and d.derate_pct in (10, 20, 30, 40, 50)
    assert d.p_fail["next_stop_derated"] < d.p_fail["next_stop"] / 3
    assert d.expected_cost["derate"] < min(
        d.expected_cost["maintain_now"], d.expected_cost["maintain_at_next_stop"]
    )
    assert "wear ∝ load^6" in d.reason
    # the same risk on an oven (derating barely cools its heater) is not derated
    oven = choose_action(belief(30, 10, 80), ctx(now=SAT_10, machine_type="reflow_oven"), COSTS,
                         CAPACITY)  # fmt: skip
    assert oven.action != "derate"


def test_busy_crews_push_the_job_to_the_next_shift() -> None:
    free = choose_action(belief(20, 6, 45), ctx(), COSTS, CAPACITY)
    busy = choose_action(belief(20, 6, 45), ctx(busy_crews=1), COSTS, CAPACITY)
    assert free.at == WED_10 and busy.at == WED_10.replace(hour=14)
    assert busy.p_fail["job"] > free.p_fail["job"]  # more hours at risk before the job
    assert "every crew of this shift is busy" in busy.reason
    none = choose_action(belief(20, 6, 45), ctx(), COSTS, Capacity(crews_per_shift=0))
    assert none.action != "maintain_now" and "no maintenance crew" in none.excluded["maintain_now"]


def test_the_spare_lead_time_sets_the_earliest_job() -> None:
    arrives = WED_10 + dt.timedelta(hours=30)
    d = choose_action(
        belief(20, 6, 45), ctx(spare_available_at=arrives, inspected_recently=True), COSTS,
        CAPACITY,
    )  # fmt: skip
    assert d.action == "maintain_now" and d.at == arrives
    assert "the spare is at hand from" in d.reason
    # a spare arriving late on Sunday, too late for the job inside the stop: the next stop is a
    # week later, but a job started on arrival ends before Monday's first shift, losing nothing
    late = SUNDAY + dt.timedelta(hours=20)
    d = choose_action(belief(400, 150, 900), ctx(now=SAT_10, spare_available_at=late), COSTS,
                      CAPACITY)  # fmt: skip
    assert d.action == "maintain_now" and d.at == late and d.lost_h == 0
    assert d.horizon_end == SUNDAY + dt.timedelta(days=14)
    assert "the stop of Sun 15 Mar" in d.reason
    # unordered: the type's lead time from now
    d = choose_action(
        belief(20, 6, 45), ctx(spare_available_at=None, inspected_recently=True), COSTS, CAPACITY
    )
    assert d.at == WED_10 + dt.timedelta(hours=24)


def test_during_a_planned_stop_the_job_is_done_in_it() -> None:
    now = SUNDAY + dt.timedelta(hours=2)
    d = choose_action(belief(60, 20, 150), ctx(now=now), COSTS, CAPACITY)
    assert d.action == "maintain_at_next_stop" and d.at == now and d.lost_h == 0
    assert "falls in the planned stop" in d.excluded["maintain_now"]


def test_limits_exclude_stopping_production_and_large_derates() -> None:
    near = belief(20, 6, 45)
    d = choose_action(near, ctx(), COSTS, CAPACITY, Limits(max_derate_pct=20))
    assert d.action != "maintain_now"
    assert d.excluded["maintain_now"] == "the limits do not allow stopping production"
    assert "maintain now would cost less" in d.reason
    assert d.derate_pct <= 20 and "derate_30" in d.excluded
    ok = choose_action(near, ctx(), COSTS, CAPACITY, Limits(may_stop_production=True))
    assert ok.action == "maintain_now"
    order = Limits(may_stop_production=True, no_stop_during_customer_order=True)
    d = choose_action(near, ctx(in_customer_order=True), COSTS, CAPACITY, order)
    assert d.action != "maintain_now" and "customer order" in d.excluded["maintain_now"]
    expired = Limits(may_stop_production=True, expires_at=WED_10 - dt.timedelta(hours=1))
    d = choose_action(near, ctx(), COSTS, CAPACITY, expired)
    assert d.action == "nothing" and "expired" in d.excluded["maintain_now"]
    other = Limits(may_stop_production=True, scope=("M-2",))
    assert choose_action(near, ctx(), COSTS, CAPACITY, other).action == "nothing"


def test_an_uncertain_belief_may_call_for_an_inspection_but_not_twice() -> None:
    wide = belief(100, 10, 1000)
    d = choose_action(wide, ctx(machine_type="servo_drive"), COSTS, CAPACITY)
    assert d.action == "inspect" and "inspection for €300" in d.reason
    again = choose_action(wide, ctx(machine_type="servo_drive", inspected_recently=True), COSTS,
                          CAPACITY)  # fmt: skip
    assert again.action != "inspect" and "inspect" in again.excluded


def test_cheaper_failures_make_the_policy_wait() -> None:
    b = belief(400, 150, 900)
    assert choose_action(b, ctx(now=SAT_10), COSTS, CAPACITY).action == "maintain_at_next_stop"
    cheap = Costs(unplanned_failure=0.0, lost_production_per_h=0.0)
    assert choose_action(b, ctx(now=SAT_10), cheap, CAPACITY).action == "nothing"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        choose_action(belief(100, 50, 200), DecisionContext("M", "x", dt.datetime(2026, 1, 1)),
                      COSTS, CAPACITY)  # fmt: skip


@pytest.mark.parametrize("load", [load_costs, load_plan])
def test_a_policy_file_too_large_or_not_yaml_is_refused_with_its_path(load, tmp_path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 70_000 + "\n")
    with pytest.raises(PolicyConfigError, match=r"big\.yaml: over 64000 bytes"):
        load(big)
    broken = tmp_path / "broken.yaml"
    broken.write_text("shifts: [unclosed\n")
    with pytest.raises(PolicyConfigError, match=r"broken\.yaml: not YAML"):
        load(broken)
