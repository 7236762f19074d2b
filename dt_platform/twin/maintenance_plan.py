"""The maintenance plan: each machine's open risk from its latest decision, ranked by risk or by
cost, with the next planned stop of the production plan and the action the twin decided.

A machine's risk is read from the policy's latest decision on it (twin store, ``decisions``):
the expected cost of doing nothing and of the chosen action (the policy's own figures, in the
costs' currency), the fused RUL and its 90 % interval, and P(failure before the next planned
stop). That probability is recomputed for the stop shown (the decision's belief through its RUL
interval, from the prediction time to the stop's start), so it stays right when the decision is
a day old and a stop has passed since; without an interval, the decision's own figure is shown.

A risk is *open* while the decided action is something other than ``nothing``, or the failure
before the next stop is at least :data:`OPEN_P` likely. Nothing here touches Streamlit.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from dt_platform.twin.decision_store import DecisionRecord, get_decision, open_decisions
from dt_platform.twin.production_plan import ProductionPlan
from dt_platform.twin.rul_belief import RulBelief

__all__ = ["OPEN_P", "RANKINGS", "Risk", "latest_decisions", "open_risks", "rank"]

OPEN_P = 0.05
"""A machine whose decided action is ``nothing`` still has an open risk from this P(failure
before the next planned stop) on."""
RANKINGS = ("risk", "cost")
SETTLED = {"applied", "superseded"}


@dataclass(frozen=True)
class Risk:
    """One machine's risk as its latest decision and the production plan say now."""

    machine_id: str
    machine_type: str
    decision_id: str
    decided_for: dt.datetime
    """The prediction time the decision rests on."""
    action: str
    derate_pct: float
    action_at: dt.datetime | None
    """When the decided action happens (the job start; None: now or no job)."""
    status: str
    mode: str
    reason: str
    rul_fused_h: float | None
    rul_fused_lo_h: float | None
    rul_fused_hi_h: float | None
    cost_nothing: float | None
    cost_action: float | None
    p_fail_next_stop: float | None
    next_stop: dt.datetime | None
    next_stop_end: dt.datetime | None
    model_version: str | None

    @property
    def saving(self) -> float | None:
        """Expected cost avoided by the decided action instead of doing nothing."""
        if self.cost_nothing is None or self.cost_action is None:
            return None
        return self.cost_nothing - self.cost_action

    @property
    def is_open(self) -> bool:
        if self.status in SETTLED:
            return False
        return self.action != "nothing" or (self.p_fail_next_stop or 0.0) >= OPEN_P


def latest_decisions(con: sqlite3.Connection) -> list[DecisionRecord]:
    """Each machine's newest decision (by prediction time), in machine order."""
    open_decisions(con)
    rows = con.execute(
        """SELECT d.decision_id FROM decisions d
           WHERE d.ts = (SELECT max(ts) FROM decisions WHERE machine_id = d.machine_id)
           ORDER BY d.machine_id"""
    ).fetchall()
    return [get_decision(con, decision_id) for (decision_id,) in rows]


def _aware(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _p_fail(rec: DecisionRecord, since: dt.datetime, stop: dt.datetime | None) -> float | None:
    """P(failure between the prediction and the stop's start) under the decision's belief."""
    if stop is None:
        return None
    stored = (rec.detail.get("p_fail") or {}).get("next_stop")
    if rec.rul_fused_h is None or rec.rul_fused_lo_h is None or rec.rul_fused_hi_h is None:
        return float(stored) if stored is not None else None
    try:
        belief = RulBelief.from_interval(rec.rul_fused_h, rec.rul_fused_lo_h, rec.rul_fused_hi_h)
    except ValueError:
        return float(stored) if stored is not None else None
    return belief.p_fail_within(max((stop - since).total_seconds() / 3600.0, 0.0))


def _risk(rec: DecisionRecord, plan: ProductionPlan, now: dt.datetime) -> Risk:
    since = _aware(rec.ts) or now
    stops = plan.next_stops(now, machine_id=rec.machine_id, count=1)
    stop, stop_end = stops[0] if stops else (None, None)
    costs = rec.expected_cost
    return Risk(
        machine_id=rec.machine_id,
        machine_type=rec.machine_type,
        decision_id=rec.decision_id,
        decided_for=since,
        action=rec.action,
        derate_pct=rec.derate_pct,
        action_at=_aware(rec.at),
        status=rec.status,
        mode=rec.mode,
        reason=rec.reason,
        rul_fused_h=rec.rul_fused_h,
        rul_fused_lo_h=rec.rul_fused_lo_h,
        rul_fused_hi_h=rec.rul_fused_hi_h,
        cost_nothing=costs.get("nothing"),
        cost_action=costs.get(rec.action),
        p_fail_next_stop=_p_fail(rec, since, stop),
        next_stop=stop,
        next_stop_end=stop_end,
        model_version=rec.model_version,
    )


def rank(risks: Iterable[Risk], by: str = "risk") -> list[Risk]:
    """Most urgent first: by P(failure before the next stop), then the expected cost of doing
    nothing (``risk``), or the other way round (``cost``); unknowns last."""
    if by not in RANKINGS:
        raise ValueError(f"rank by one of {', '.join(RANKINGS)}, not {by!r}")

    def key(r: Risk) -> tuple:
        p = -(r.p_fail_next_stop if r.p_fail_next_stop is not None else -1.0)
        c = -(r.cost_nothing if r.cost_nothing is not None else -1.0)
        return (p, c, r.machine_id) if by == "risk" else (c, p, r.machine_id)

    return sorted(risks, key=key)


def open_risks(
    con: sqlite3.Connection,
    plan: ProductionPlan,
    now: dt.datetime,
    *,
    by: str = "risk",
    include_closed: bool = False,
) -> list[Risk]:
    """Every machine's risk from its latest decision, ranked (only open ones unless
    ``include_closed``)."""
    risks = [_risk(rec, plan, now) for rec in latest_decisions(con)]
    return rank([r for r in risks if include_closed or r.is_open], by)
