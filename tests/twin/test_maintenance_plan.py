"""The maintenance plan: each machine's latest decision as a ranked risk, with the next planned
stop and P(failure before it) recomputed for that stop."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from dt_platform.twin.costs import Capacity
from dt_platform.twin.decisions import decide_day
from dt_platform.twin.maintenance_plan import latest_decisions, open_risks, rank
from dt_platform.twin.production_plan import ProductionPlan
from dt_platform.twin.rul_belief import RulBelief
from tests.twin.command_fixtures import REGISTRY, store

WED = dt.datetime(2026, 3, 4, 8, 0, tzinfo=dt.UTC)
SUNDAY_STOP = dt.datetime(2026, 3, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # local midnight
PLAN = ProductionPlan()


def predictions(ts: dt.datetime, **rul: tuple[float, float, float]) -> pl.DataFrame:
    types = {m.machine_id: m.machine_type for m in REGISTRY}
    return pl.DataFrame(
        {
            "machine_id": list(rul),
            "machine_type": [types[m] for m in rul],
            "ts": [ts] * len(rul),
            "component_installed_at": [ts - dt.timedelta(days=60)] * len(rul),
            "rul_fused_h": [v[0] for v in rul.values()],
            "rul_fused_lo_h": [v[1] for v in rul.values()],
            "rul_fused_hi_h": [v[2] for v in rul.values()],
            "model_version": ["v1"] * len(rul),
        }
    )


@pytest.fixture
def con(tmp_path):
    con = store(tmp_path)
    near, far = (30.0, 12.0, 70.0), (3000.0, 2000.0, 5000.0)
    decide_day(con, predictions(WED - dt.timedelta(days=1), **{"CNC-01": far, "OVEN-01": far}),
               registry=REGISTRY, now=WED, plan=PLAN, capacity=Capacity())  # fmt: skip
    decide_day(con, predictions(WED, **{"CNC-01": near, "OVEN-01": far}),
               registry=REGISTRY, now=WED, plan=PLAN, capacity=Capacity())  # fmt: skip
    yield con
    con.close()


def test_the_latest_decision_of_each_machine_is_its_risk(con) -> None:
    latest = latest_decisions(con)
    assert [(r.machine_id, r.ts) for r in latest] == [
        ("CNC-01", WED.isoformat()),
        ("OVEN-01", WED.isoformat()),
    ]
    risks = open_risks(con, PLAN, WED, include_closed=True)
    assert [r.machine_id for r in risks] == ["CNC-01", "OVEN-01"]
    cnc, oven = risks
    # the next planned stop: Sunday 00:00 plant time (UTC+8), i.e. Saturday 16:00 UTC
    assert cnc.next_stop == SUNDAY_STOP and cnc.next_stop_end == SUNDAY_STOP + dt.timedelta(days=1)
    hours = (SUNDAY_STOP - WED).total_seconds() / 3600.0  # 80 h
    expected = RulBelief.from_interval(30.0, 12.0, 70.0).p_fail_within(hours)
    assert cnc.p_fail_next_stop == pytest.approx(expected) and cnc.p_fail_next_stop > 0.9
    assert oven.p_fail_next_stop < 1e-6 and oven.action == "nothing" and not oven.is_open
    assert cnc.action != "nothing" and cnc.is_open
    rec = latest_decisions(con)[0]
    assert cnc.cost_nothing == rec.expected_cost["nothing"]
    assert cnc.cost_action == rec.expected_cost[cnc.action]
    assert cnc.saving == pytest.approx(cnc.cost_nothing - cnc.cost_action) and cnc.saving >= 0
    assert (cnc.rul_fused_lo_h, cnc.rul_fused_h, cnc.rul_fused_hi_h) == (12.0, 30.0, 70.0)
    # only open risks by default
    assert [r.machine_id for r in open_risks(con, PLAN, WED)] == ["CNC-01"]


def test_a_stale_decision_is_judged_against_the_stop_that_is_now_next(con) -> None:
    later = SUNDAY_STOP + dt.timedelta(days=1, hours=1)  # the stop has passed
    (cnc,) = [r for r in open_risks(con, PLAN, later) if r.machine_id == "CNC-01"]
    assert cnc.next_stop == SUNDAY_STOP + dt.timedelta(days=7)
    hours = (cnc.next_stop - WED).total_seconds() / 3600.0
    assert cnc.p_fail_next_stop == pytest.approx(
        RulBelief.from_interval(30.0, 12.0, 70.0).p_fail_within(hours)
    )


def test_ranking_by_risk_or_by_cost(con) -> None:
    (cnc, oven) = open_risks(con, PLAN, WED, include_closed=True)
    cheap_but_likely = dataclasses.replace(cnc, machine_id="A", p_fail_next_stop=0.9,
                                           cost_nothing=100.0)  # fmt: skip
    costly_but_unlikely = dataclasses.replace(cnc, machine_id="B", p_fail_next_stop=0.2,
                                              cost_nothing=9000.0)  # fmt: skip
    unknown = dataclasses.replace(oven, machine_id="C", p_fail_next_stop=None, cost_nothing=None)
    risks = [unknown, costly_but_unlikely, cheap_but_likely]
    assert [r.machine_id for r in rank(risks, "risk")] == ["A", "B", "C"]
    assert [r.machine_id for r in rank(risks, "cost")] == ["B", "A", "C"]
    with pytest.raises(ValueError, match="rank by"):
        rank(risks, "mood")
