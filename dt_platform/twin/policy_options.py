"""What the decision policy may choose from: the context of a decision and the candidate plans.

Kept apart from the costing (:mod:`.policy_costing`) and the choice (:mod:`.policy`): which plans
exist at all is a matter of the production plan and the maintenance capacity, not of the belief.

Actions
-------
``nothing`` (keep running; maintain at the stop after the next one at the latest), ``inspect``,
``derate`` by x % (x from :data:`DERATE_GRID`, until the next stop, then maintain there),
``maintain_at_next_stop`` and ``maintain_now`` (at the earliest time a crew and the spare allow).
Each but ``inspect`` is an :class:`Option`: a plan ending in a renewal (a new component) at a
time; the inspection is costed from the others (:func:`~.policy_costing.scored_options`).

Capacity
--------
The earliest job time is the later of now and the spare's arrival (``spare_available_at``; None =
ordered now, arriving after the type's lead time); if every crew of the shift is busy, the next
shift. A planned stop counts only if the job fits in what is left of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dt_platform.twin.costs import Capacity
from dt_platform.twin.production_plan import ProductionPlan

ACTIONS = ("nothing", "inspect", "derate", "maintain_at_next_stop", "maintain_now")
DERATE_GRID = (10.0, 20.0, 30.0, 40.0, 50.0)
NO_STOP_DEFER_H = 24.0
"""Without any planned stop ahead, ``nothing`` means maintaining one day later."""


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


def candidate_options(ctx: DecisionContext, capacity: Capacity, spare_at: dt.datetime):
    """The candidate plans, the horizon, the next two stops, and what is not possible.

    The horizon is the renewal of ``nothing``: the following stop; without one, a day after the
    earliest job (after now when no crew is on the shifts). The returned ``excluded`` maps an action to why it is not possible; keys
    starting with ``_`` are capacity notes for the reason, not exclusions.
    """
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
