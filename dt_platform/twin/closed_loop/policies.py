"""The four maintenance policies of the closed loop. Each looks at a :class:`.MachineView` at a
decision time and returns its orders; only the bound reads ground truth.

* :class:`RunToFailure` orders nothing: failures are repaired as the simulator repairs them.
* :class:`Preventive` replaces the component at the first planned stop after it has run a fixed
  number of producing hours (one interval per machine type, chosen on training seeds).
* :class:`Predictive` is the platform's path: the fused RUL at now (data before now) becomes a
  belief, and the decision policy chooses the action of least expected cost.
* :class:`PerfectForesight` knows when the component will fail and replaces it at the last
  planned stop before (now, if no stop comes first): the bound on what prediction can save.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from dt_platform.sim.machines import MODELS
from dt_platform.twin.closed_loop.machine_run import Job
from dt_platform.twin.closed_loop.track import MachineView
from dt_platform.twin.costs import Capacity, Costs
from dt_platform.twin.policy import choose_action
from dt_platform.twin.policy_options import DecisionContext
from dt_platform.twin.rul_belief import RulBelief

SPARE_LEAD_H = 24.0
INSPECTION_GAP_S = 24 * 3600
"""At most one inspection a day per machine, whatever a policy asks."""


def job_hours(capacity, machine_type: str) -> float:
    """Hours of a planned replacement: the capacity's figure for the type, else the midpoint of
    the simulator's repair hours."""
    hours = getattr(capacity, "job_hours", None)
    if callable(hours):
        return float(hours(machine_type))
    if hours and machine_type in hours:
        return float(hours[machine_type])
    lo, hi = MODELS[machine_type].repair_hours
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class Order:
    """What a policy wants done now: a job (``drop`` a pending one first), a derate, an inspection."""

    job: Job | None = None
    drop: Job | None = None
    derate: float | None = None
    inspect: bool = False
    reason: str = ""


def _job(view: MachineView, start_s: int, capacity) -> Job:
    hours = job_hours(capacity, view.machine_type)
    start_s = max(start_s, view.now_s)
    return Job(start_s, start_s + round(hours * 3600 / 300) * 300, view.now_s)


class RunToFailure:
    name = "run_to_failure"
    passive = True
    """Orders nothing ever: the loop skips its decision walk."""

    def decide(self, view: MachineView) -> Order | None:
        return None


@dataclass
class Preventive:
    interval_h: dict[str, float]
    capacity: object = field(default_factory=Capacity)
    name: str = "preventive"

    def decide(self, view: MachineView) -> Order | None:
        if view.down() or view.pending_job() is not None:
            return None
        limit = self.interval_h.get(view.machine_type)
        if limit is None or view.operating_hours() < limit:
            return None
        stop = view.stops.next_stop(view.now_s)
        if stop is None:
            return None
        return Order(job=_job(view, stop, self.capacity), reason=f"{limit:.0f} producing h reached")


@dataclass
class PerfectForesight:
    capacity: object = field(default_factory=Capacity)
    name: str = "perfect_foresight"

    def decide(self, view: MachineView) -> Order | None:
        if view.down() or view.pending_job() is not None:
            return None
        fails = view.true_failure_after()
        if fails is None:
            return None
        stop = view.stops.next_stop(view.now_s)
        if stop is None or fails <= stop:
            return Order(job=_job(view, view.now_s, self.capacity), reason="fails before any stop")
        following = view.stops.next_stop(stop + 1)
        if following is None or fails <= following:
            return Order(job=_job(view, stop, self.capacity), reason="last stop before failure")
        return None


def _utc(t_s: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_s, dt.UTC)


def decision_context(view: MachineView, capacity) -> DecisionContext:
    """The policy's :class:`DecisionContext` for the machine at now: the platform's production
    plan (its planned stops), the spare's arrival after the last replacement, the machine's
    derate, the component's age and whether it was inspected lately."""
    now = view.now_s
    lead = (getattr(capacity, "spare_lead_time_h", None) or {}).get(view.machine_type, SPARE_LEAD_H)
    last = view.last_inspection_s()
    return DecisionContext(
        machine_id=view.machine_id,
        machine_type=view.machine_type,
        now=_utc(now),
        plan=view.plan,
        busy_crews=view.busy_crews,
        spare_available_at=_utc(max(now, view.last_replacement_s() + int(lead * 3600))),
        current_derate_pct=view.current_derate(),
        in_customer_order=False,
        component_age_h=(now - view.installed_s()) / 3600.0,
        inspected_recently=last is not None and last >= view.installed_s(),  # this component
    )


@dataclass
class Predictive:
    costs: object = field(default_factory=Costs)
    capacity: object = field(default_factory=Capacity)
    limits: object | None = None
    horizon_h: float | None = None
    """The RUL model's horizon (``FleetConfig.horizon_h``). The model is fitted and its interval
    calibrated for RUL within it; beyond it the fused value is a lower estimate whose interval
    would show a risk that is not there. A prediction whose upper bound reaches the horizon is
    therefore read as "healthy": the policy is not asked and no derate is kept. None: always ask."""
    name: str = "predictive"
    decisions: int = 0

    def decide(self, view: MachineView) -> Order | None:
        if view.down():
            return None
        pending = view.pending_job()
        if pending is not None and pending.start_s <= view.now_s:
            return None  # the job is running
        pred = view.prediction()
        if pred is None:
            return None
        installed = pred.get("component_installed_at")
        if installed is not None and installed.timestamp() < view.installed_s():
            return None  # the row still describes the component replaced within the hour
        if self.horizon_h is not None and (pred["rul_fused_hi_h"] or 0.0) >= self.horizon_h:
            if view.current_derate() > 0.0:
                return Order(derate=0.0, reason="beyond the model's horizon: healthy")
            return None
        belief = RulBelief.from_interval(
            pred["rul_fused_h"], pred["rul_fused_lo_h"], pred["rul_fused_hi_h"], coverage=0.9
        )
        ctx = decision_context(view, self.capacity)
        decision = choose_action(belief, ctx, self.costs, self.capacity, self.limits)
        self.decisions += 1
        action = decision.action
        derate = float(decision.derate_pct or 0.0)
        order = Order(reason=decision.reason)
        if action == "maintain_now" and pending is None:
            order = dataclasses.replace(order, job=_job(view, _at(decision, view), self.capacity))
        elif action == "maintain_now" and pending.start_s > view.now_s + 3600:
            at = _at(decision, view)
            if at < pending.start_s:
                order = dataclasses.replace(order, job=_job(view, at, self.capacity), drop=pending)
        elif action == "maintain_at_next_stop" and pending is None:
            stop = _at(decision, view, default=view.stops.next_stop(view.now_s))
            if stop is not None:
                order = dataclasses.replace(order, job=_job(view, stop, self.capacity))
        elif action == "inspect":
            last = view.last_inspection_s()
            if last is None or view.now_s - last >= INSPECTION_GAP_S:
                order = dataclasses.replace(order, inspect=True)
        if derate != view.current_derate():
            order = dataclasses.replace(order, derate=derate)
        if order.job is None and order.derate is None and not order.inspect:
            return None
        return order


def _at(decision, view: MachineView, default: int | None = None) -> int:
    at = getattr(decision, "at", None)
    if at is None:
        return default if default is not None else view.now_s
    t = int(at.timestamp())
    return t - t % 300 + (300 if t % 300 else 0)
