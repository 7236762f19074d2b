"""The decision policy of the intelligent twin: from a machine's RUL belief, the production plan,
the maintenance capacity and the costs, the action of least expected cost, with its reason.

The policy is four parts, one module each:

* the candidate plans the context allows (:mod:`.policy_options`: the actions, capacity);
* their expected cost over a common horizon under the belief, the derate physics and the value
  of an inspection (:mod:`.policy_costing`);
* the choice (here, :func:`choose_action`): the cheapest action within a MANAGER's
  :class:`~dt_platform.twin.limits.Limits`, which exclude actions outside them (the reason says
  which cheaper action they excluded), and never an inspection already asked for this component
  (``inspected_recently``: the RUL model does not read inspection findings, so the finding is
  with the maintainers);
* the reason in words and numbers (:mod:`.policy_reasons`).

Belief
------
:class:`~dt_platform.twin.rul_belief.RulBelief`: a split log-normal time to failure T through the
fused RUL and its 90 % interval, in calendar hours with the machine used as planned. Every cost
is an assumption a manager sets (:mod:`.costs`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from dt_platform.twin.costs import Capacity, Costs
from dt_platform.twin.limits import Limits
from dt_platform.twin.policy_costing import (
    DERATE_EXPONENT,
    CostModel,
    derate_exponent,
    hours_between,
    scored_options,
)
from dt_platform.twin.policy_options import (
    ACTIONS,
    DERATE_GRID,
    DecisionContext,
    Option,
    candidate_options,
)
from dt_platform.twin.policy_reasons import explain
from dt_platform.twin.production_plan import ProductionPlan
from dt_platform.twin.rul_belief import RulBelief

__all__ = [
    "ACTIONS",
    "DERATE_EXPONENT",
    "DERATE_GRID",
    "Decision",
    "DecisionContext",
    "ProductionPlan",
    "RulBelief",
    "choose_action",
    "derate_exponent",
]


@dataclass(frozen=True)
class Decision:
    """The chosen action with the expected cost of every option and why."""

    machine_id: str
    action: str
    derate_pct: float
    at: dt.datetime | None
    expected_cost: dict[str, float]
    """Per action (the best derate under ``derate``), in the costs' currency."""
    reason: str
    belief: dict[str, float]
    horizon_end: dt.datetime
    derate_costs: dict[float, float] = field(default_factory=dict)
    p_fail: dict[str, float] = field(default_factory=dict)
    """P(failure before …): ``next_stop``, ``following_stop``, ``job`` (of the chosen action)."""
    excluded: dict[str, str] = field(default_factory=dict)
    """Actions not possible or outside the limits, and why."""
    lost_h: float = 0.0
    """Producing hours the chosen maintenance job costs (0 inside a planned stop)."""

    @property
    def stops_production(self) -> bool:
        return self.action in ("maintain_now", "maintain_at_next_stop") and self.lost_h > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine_id": self.machine_id,
            "action": self.action,
            "derate_pct": self.derate_pct,
            "at": self.at.isoformat() if self.at else None,
            "expected_cost": {k: round(v, 2) for k, v in self.expected_cost.items()},
            "derate_costs": {f"{k:g}": round(v, 2) for k, v in self.derate_costs.items()},
            "reason": self.reason,
            "belief": self.belief,
            "horizon_end": self.horizon_end.isoformat(),
            "p_fail": {k: round(v, 4) for k, v in self.p_fail.items()},
            "excluded": self.excluded,
            "lost_h": round(self.lost_h, 2),
        }


def _outside(
    limits: Limits, ctx: DecisionContext, scored: dict[str, tuple[Option, float]]
) -> dict[str, str]:
    """The options outside a MANAGER's limits, and why (doing nothing is always within)."""
    out = {}
    for key, (o, _) in scored.items():
        if key == "nothing":
            continue
        why = limits.refusal(
            ctx.machine_id, ctx.now, derate_pct=o.derate_pct,
            stops_production=o.action.startswith("maintain") and o.lost_h > 0,
            in_customer_order=ctx.customer_order(),
        )  # fmt: skip
        if why:
            out[key] = why
    return out


def choose_action(
    belief: RulBelief,
    ctx: DecisionContext,
    costs: Costs,
    capacity: Capacity,
    limits: Limits | None = None,
) -> Decision:
    """The action of least expected cost (within ``limits`` if given), with its reason."""
    if ctx.now.tzinfo is None:
        raise ValueError("the decision time must be timezone-aware")
    spare_at = ctx.spare_available_at or ctx.now + dt.timedelta(
        hours=capacity.lead_time_h(ctx.machine_type)
    )
    opts, horizon, stops, notes = candidate_options(ctx, capacity, spare_at)
    model = CostModel(belief, ctx, costs, capacity, horizon, spare_at)
    scored = scored_options(model, belief, opts, horizon, costs)
    excluded = {k: v for k, v in notes.items() if not k.startswith("_")}
    if ctx.inspected_recently:
        excluded["inspect"] = "an inspection of this component was asked for already"
    if limits is not None:
        excluded |= _outside(limits, ctx, scored)
    allowed = {k: v for k, v in scored.items() if k not in excluded}
    best_key = min(allowed, key=lambda k: allowed[k][1])
    best, _ = allowed[best_key]
    derates = {o.derate_pct: c for o, c in scored.values() if o.action == "derate"}
    per_action = {k: c for k, (o, c) in scored.items() if o.action != "derate"}
    if derates:
        best_derate = min((c, k) for k, (o, c) in scored.items() if o.action == "derate")[1]
        if best.action == "derate":
            best_derate = best_key
        per_action["derate"] = scored[best_derate][1]
    p_fail = {
        "next_stop": belief.p_fail_within(hours_between(ctx.now, stops[0][0])) if stops else 1.0
    }
    if len(stops) > 1:
        p_fail["following_stop"] = belief.p_fail_within(hours_between(ctx.now, stops[1][0]))
    if best.action.startswith("maintain"):
        p_fail["job"] = belief.p_fail_within(hours_between(ctx.now, best.renew_at))
    if best.action == "derate":
        p_fail["next_stop_derated"] = belief.stretched(
            1 / model.rho(best.derate_pct)
        ).p_fail_within(hours_between(ctx.now, stops[0][0]))
    decision = Decision(
        machine_id=ctx.machine_id,
        action=best.action,
        derate_pct=best.derate_pct if best.action == "derate" else 0.0,
        at=best.at,
        expected_cost=per_action,
        reason="",
        belief=belief.summary(),
        horizon_end=horizon,
        derate_costs=derates,
        p_fail=p_fail,
        excluded=excluded,
        lost_h=best.lost_h if best.action.startswith("maintain") else 0.0,
    )
    cheapest = min(scored, key=lambda k: scored[k][1])
    context = {
        "stops": stops,
        "notes": notes,
        "cheapest": (cheapest, scored[cheapest][0], scored[cheapest][1]),
        "exponent": model.exponent,
        "fail_cost": costs.unplanned_failure,
        "job_h": model.job_h,
        "g": model.g,
    }
    return replace(decision, reason=explain(decision, ctx, costs, context))
