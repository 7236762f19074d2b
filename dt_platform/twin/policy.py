"""The decision policy of the intelligent twin: from a machine's RUL belief, the production plan,
the maintenance capacity and the costs, the action of least expected cost, with its reason.

Actions
-------
``nothing`` (keep running; maintain at the stop after the next one at the latest), ``inspect``,
``derate`` by x % (x from :data:`DERATE_GRID`, until the next stop, then maintain there),
``maintain_at_next_stop`` and ``maintain_now`` (at the earliest time a crew and the spare allow).

Belief
------
:class:`~dt_platform.twin.rul_belief.RulBelief`: a split log-normal time to failure T through the
fused RUL and its 90 % interval, in calendar hours with the machine used as planned.

Costs over a common horizon
---------------------------
Every action is a plan ending in a renewal (a new component) at a time R: the planned job, or the
failure if T comes first. All plans are costed over the same horizon [now, H], H = the latest
renewal considered — the *following* planned stop S₂ (the next opportunity after the next stop S₁,
i.e. the next decision point that matters, plus the job time). That is a one-step look-ahead:
replace at S₁ or keep the component one stop interval longer; for wear-out (rising hazard) it is
the optimal rule of age replacement. Expected cost of a plan::

    Σ_failures P(T∈du)·(C_fail + lost_h·(job + wait for the spare))      failure before R
    + P(T>R)·(C_job + lost_h·producing hours of the job)                 planned job at R
    + derate_loss·x·producing hours derated·P(alive)                     derate
    + g·E[H − min(T, R)]                                                  the new component

The last term values the life thrown away: once renewed, the new component costs its long-run
rate ``g = C_job / life_h`` per hour until H (``life_h``: a typical component life of the type,
given in the context; else the component's age plus its median RUL; else
:data:`DEFAULT_LIFE_H`). Without it, maintaining early would look free and nothing would never
lose to a later planned job. Lost production is counted by the production plan's producing hours
(a job inside a planned stop loses none).

Derate physics
--------------
A derate by x % multiplies the load by f = 1 − x/100; the damage rate of the wear mechanism goes
as a power of the load, rate ∝ fⁿ, so T stretches by f⁻ⁿ while derated. Exponents assumed
(:data:`DERATE_EXPONENT`), each a conservative lower bound of the reference law (DESIGN.md and
``dt_platform/sim/machines``): ``smt_placer`` n = 1 (Archard: wear ∝ sliding distance ∝ rate);
``cnc_spindle`` 1.7 (ISO 281, life ∝ P⁻³ on the equivalent load, of which the preload part is not
reduced by a derate: 1.7-2.6 over the simulated duty range); ``servo_drive`` 6 (LESIT, cycles to
failure ∝ ΔTj⁻⁵ with ΔTj at least ∝ current, plus cycles ∝ speed; the I²-heating of the model
gives more); ``reflow_oven`` 0.4 (Arrhenius at the element: the conveyor's throughput changes the
element temperature by a few kelvin only); any other type 1.

Inspection
----------
An inspection (``inspect``) is worth its cost when what it tells changes the plan: it is modelled
as telling which third of the belief the component is in — good, worn, at the end
(:data:`INSPECTION_BINS` equally likely quantile bins); its value is the expected cost of the best
plan without that knowledge minus the expected cost of the best plan per bin. The RUL model does
not read inspection findings, so an inspection already asked for this component
(``inspected_recently``) is not asked again: its finding is with the maintainers.

Capacity and limits
-------------------
The earliest job time is the later of now and the spare's arrival (``spare_available_at``; None =
ordered now, arriving after the type's lead time); if every crew of the shift is busy, the next
shift. A planned stop counts only if the job fits in what is left of it. A MANAGER's
:class:`~dt_platform.twin.limits.Limits` exclude actions outside them (the reason says which
cheaper action they excluded). Every cost is an assumption a manager sets (:mod:`.costs`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dt_platform.twin.costs import Capacity, Costs
from dt_platform.twin.limits import Limits
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

ACTIONS = ("nothing", "inspect", "derate", "maintain_at_next_stop", "maintain_now")
DERATE_GRID = (10.0, 20.0, 30.0, 40.0, 50.0)
DERATE_EXPONENT = {"smt_placer": 1.0, "cnc_spindle": 1.7, "servo_drive": 6.0, "reflow_oven": 0.4}
DEFAULT_DERATE_EXPONENT = 1.0
DEFAULT_LIFE_H = 2000.0
INSPECTION_BINS = 3
INSPECTION_CONCLUSIVE = 0.5
NO_STOP_DEFER_H = 24.0
"""Without any planned stop ahead, ``nothing`` means maintaining one day later."""
GRID_POINTS = 1200


def derate_exponent(machine_type: str) -> float:
    return DERATE_EXPONENT.get(machine_type, DEFAULT_DERATE_EXPONENT)


@dataclass(frozen=True)
class DecisionContext:
    """What the policy knows besides the belief (times aware, UTC)."""

    machine_id: str
    machine_type: str
    now: dt.datetime
    plan: ProductionPlan = field(default_factory=ProductionPlan)
    busy_crews: int = 0
    spare_available_at: dt.datetime | None = None
    """When the spare part is at hand; None: not ordered, so now + the type's lead time."""
    current_derate_pct: float = 0.0
    in_customer_order: bool | None = None
    """None: as the production plan says at ``now``."""
    component_age_h: float | None = None
    life_h: float | None = None
    """Typical calendar life of a component of this type (values the life thrown away)."""
    inspected_recently: bool = False

    @property
    def next_planned_stop(self) -> dt.datetime | None:
        stops = self.plan.next_stops(self.now, machine_id=self.machine_id, count=1)
        return stops[0][0] if stops else None

    def producing_hours_until(self, t: dt.datetime) -> float:
        return self.plan.producing_hours(self.now, t, self.machine_id)

    def customer_order(self) -> bool:
        if self.in_customer_order is not None:
            return self.in_customer_order
        return self.plan.in_customer_order(self.machine_id, self.now)


@dataclass(frozen=True)
class Option:
    """One candidate plan: renewal at ``renew_at`` (a job), derated by ``derate_pct`` until."""

    action: str
    renew_at: dt.datetime
    lost_h: float
    """Producing hours the planned job itself costs."""
    derate_pct: float = 0.0
    at: dt.datetime | None = None
    """When the action happens (the job start; now for a derate or an inspection)."""

    @property
    def key(self) -> str:
        return f"derate_{self.derate_pct:g}" if self.action == "derate" else self.action


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


class _Model:
    """Expected costs of options under one belief (see the module docstring)."""

    def __init__(
        self, belief: RulBelief, ctx: DecisionContext, costs: Costs, capacity: Capacity,
        horizon: dt.datetime, spare_at: dt.datetime,
    ) -> None:  # fmt: skip
        self.belief, self.ctx, self.costs = belief, ctx, costs
        self.job_h = capacity.job_h(ctx.machine_type)
        self.h_u = _hours(ctx.now, horizon)
        self.spare_u = max(_hours(ctx.now, spare_at), 0.0)
        self.prod_share = ctx.plan.producing_fraction()
        life = ctx.life_h
        if life is None and ctx.component_age_h is not None:
            life = ctx.component_age_h + belief.median_h
        self.g = costs.planned_job / max(life or DEFAULT_LIFE_H, 1.0)
        self.exponent = derate_exponent(ctx.machine_type)

    def rho(self, derate_pct: float) -> float:
        return (1.0 - derate_pct / 100.0) ** self.exponent

    def cost(self, option: Option, cdf: Any = None) -> float:
        cdf = cdf or self.belief.cdf
        c = self.costs
        r_u = min(max(_hours(self.ctx.now, option.renew_at), 0.0), self.h_u)
        u = np.linspace(0.0, r_u, max(int(GRID_POINTS * r_u / max(self.h_u, 1e-9)), 2))
        f = cdf(u * self.rho(option.derate_pct))
        df, mid = np.diff(f), (u[1:] + u[:-1]) / 2.0
        down_h = self.job_h + np.maximum(self.spare_u - mid, 0.0)
        fail = float(
            np.sum(df * (c.unplanned_failure + c.lost_production_per_h * self.prod_share * down_h))
        )
        alive = 1.0 - float(f[-1])
        planned = alive * (c.planned_job + c.lost_production_per_h * option.lost_h)
        derate = 0.0
        if option.derate_pct:
            prod_h = self.ctx.producing_hours_until(option.renew_at)
            derate = c.derate_loss_per_pct_h * option.derate_pct * prod_h * float(np.mean(1 - f))
        life = self.g * (self.h_u - r_u + float(np.trapezoid(f, u)))
        return fail + planned + derate + life


def _hours(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / 3600.0


def _options(ctx: DecisionContext, capacity: Capacity, spare_at: dt.datetime):
    """The candidate plans, the horizon, the next two stops, and what is not possible."""
    plan, now, job_h = ctx.plan, ctx.now, capacity.job_h(ctx.machine_type)
    excluded: dict[str, str] = {}
    stops = plan.next_stops(max(now, spare_at), job_h, ctx.machine_id, count=2)
    job_now = max(now, spare_at)
    crew_note = None
    if capacity.crews_per_shift <= 0:
        job_now = None
        excluded["maintain_now"] = "no maintenance crew on the shifts"
    elif ctx.busy_crews >= capacity.crews_per_shift:
        nxt = plan.next_shift_start(job_now)
        crew_note = "every crew of this shift is busy"
        job_now = max(job_now, nxt) if nxt else job_now
    opts: list[Option] = []
    if stops:
        s1 = stops[0][0]
        opts.append(Option("maintain_at_next_stop", s1, _lost(ctx, s1, job_h), at=s1))
    if job_now is not None and (not stops or job_now < stops[0][0]):
        opts.append(Option("maintain_now", job_now, _lost(ctx, job_now, job_h), at=job_now))
    elif job_now is not None:
        excluded["maintain_now"] = (
            f"the earliest job ({job_now:%a %d %b %H:%M} UTC) falls in the planned stop"
        )
    if len(stops) > 1:
        defer = stops[1][0]
        defer_lost = _lost(ctx, defer, job_h)
    else:
        base = job_now or now
        defer = base + dt.timedelta(hours=NO_STOP_DEFER_H)
        defer_lost = _lost(ctx, defer, job_h)
    opts.append(Option("nothing", defer, defer_lost, at=None))
    if stops:
        s1 = stops[0][0]
        lost = _lost(ctx, s1, job_h)
        opts += [Option("derate", s1, lost, x, at=now) for x in DERATE_GRID]
    else:
        excluded["derate"] = "no planned stop ahead to derate towards"
    if spare_at > now:
        excluded.setdefault("_spare", f"the spare is at hand from {spare_at:%a %d %b %H:%M} UTC")
    if crew_note:
        excluded.setdefault("_crew", crew_note)
    return opts, defer, stops, excluded


def _lost(ctx: DecisionContext, start: dt.datetime, job_h: float) -> float:
    return ctx.plan.producing_hours(start, start + dt.timedelta(hours=job_h), ctx.machine_id)


def _conditional(belief: RulBelief, lo: float, hi: float):
    def cdf(u: Any) -> np.ndarray:
        return np.clip((belief.cdf(u) - lo) / (hi - lo), 0.0, 1.0)

    return cdf


def _scored(
    model: _Model, belief: RulBelief, opts: list[Option], horizon: dt.datetime, costs: Costs
) -> dict[str, tuple[Option, float]]:
    """Every option's expected cost, and the inspection's (the best plan per third of the
    belief, each third equally likely, for the conclusive share of inspections)."""
    scored = {o.key: (o, model.cost(o)) for o in opts}
    edges = np.linspace(0.0, 1.0, INSPECTION_BINS + 1)
    informed = np.mean([
        min(model.cost(o, _conditional(belief, a, b)) for o in opts)
        for a, b in itertools.pairwise(edges)
    ])  # fmt: skip
    blind = min(c for _, c in scored.values())
    value = INSPECTION_CONCLUSIVE * max(blind - float(informed), 0.0)
    scored["inspect"] = (
        Option("inspect", horizon, 0.0, at=model.ctx.now),
        costs.inspection + blind - value,
    )
    return scored


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
    opts, horizon, stops, notes = _options(ctx, capacity, spare_at)
    model = _Model(belief, ctx, costs, capacity, horizon, spare_at)
    scored = _scored(model, belief, opts, horizon, costs)
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
    p_fail = {"next_stop": belief.p_fail_within(_hours(ctx.now, stops[0][0])) if stops else 1.0}
    if len(stops) > 1:
        p_fail["following_stop"] = belief.p_fail_within(_hours(ctx.now, stops[1][0]))
    if best.action.startswith("maintain"):
        p_fail["job"] = belief.p_fail_within(_hours(ctx.now, best.renew_at))
    if best.action == "derate":
        p_fail["next_stop_derated"] = belief.stretched(
            1 / model.rho(best.derate_pct)
        ).p_fail_within(_hours(ctx.now, stops[0][0]))
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
