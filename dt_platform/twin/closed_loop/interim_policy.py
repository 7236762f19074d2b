"""A minimal expected-cost policy behind the shared signature, used until
:mod:`dt_platform.twin.policy` (and :mod:`dt_platform.twin.costs`) land.

Issue 14's policy is being written beside this loop; :mod:`.policy_api` takes the real one when
it can be imported and this one otherwise, so the benchmark runs either way and says which it
used. The rule is deliberately small: a lognormal belief from the fused RUL's median and 90 %
interval; three options compared by expected cost until the stop after the next one —

* ``maintain_now``: a job now (production lost while it runs), and the life left unused;
* ``maintain_at_next_stop``: the risk of failing before the stop, else a job at the stop;
* ``nothing``: the risk of failing before the following stop, else a job there —

where an early replacement throws away the unused share of the component's expected life, worth
that share of a planned job. No derate and no inspection: the belief says nothing about how much
either would change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dt_platform.sim.machines import MODELS

Z90 = 1.6448536269514722


@dataclass(frozen=True)
class Costs:
    unplanned_failure: float = 20_000
    planned_job: float = 3_000
    lost_production_per_h: float = 1_200
    derate_loss_per_pct_h: float = 6.0
    inspection: float = 300
    currency: str = "EUR"


REPAIR_MIDPOINT_H = {t: (m.repair_hours[0] + m.repair_hours[1]) / 2.0 for t, m in MODELS.items()}
"""Planned replacement hours per type: the simulator's repair hours mid-point."""


@dataclass(frozen=True)
class Capacity:
    crews_per_shift: int = 1
    spare_lead_time_h: dict[str, float] = field(default_factory=dict)
    job_hours: dict[str, float] = field(default_factory=lambda: dict(REPAIR_MIDPOINT_H))

    def job_h(self, machine_type: str) -> float:
        return float(self.job_hours.get(machine_type, REPAIR_MIDPOINT_H.get(machine_type, 4.0)))


@dataclass(frozen=True)
class RulBelief:
    """Remaining life (calendar hours) as a lognormal fitted to a median and an interval."""

    median_h: float
    sigma: float

    @classmethod
    def from_interval(cls, median_h: float, lo_h: float, hi_h: float, coverage: float = 0.9):
        if not 0 < coverage < 1:
            raise ValueError(f"coverage {coverage} must be between 0 and 1")
        z = Z90 if abs(coverage - 0.9) < 1e-9 else _z(coverage)
        median = max(float(median_h), 1.0)
        lo, hi = max(float(lo_h), 0.5), max(float(hi_h), median + 1.0)
        sigma = max((math.log(hi) - math.log(min(lo, median))) / (2 * z), 0.05)
        return cls(median, sigma)

    def p_fail_within(self, hours: float) -> float:
        if hours <= 0:
            return 0.0
        return 0.5 * math.erfc(
            -(math.log(hours) - math.log(self.median_h)) / (self.sigma * math.sqrt(2))
        )


def _z(coverage: float) -> float:
    lo, hi = 0.0, 10.0
    target = 0.5 + coverage / 2
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class DecisionContext:
    machine_id: str
    machine_type: str
    now: datetime
    next_planned_stop: datetime | None
    producing_hours_until: Callable[[datetime], float]
    busy_crews: int = 0
    spare_available_at: datetime | None = None
    current_derate_pct: float = 0.0
    in_customer_order: bool = False
    component_age_h: float | None = None
    following_planned_stop: datetime | None = None


@dataclass(frozen=True)
class Decision:
    action: str
    derate_pct: float
    at: datetime | None
    expected_cost: dict[str, float]
    reason: str
    belief: dict[str, float]


def _lost(ctx: DecisionContext, start: datetime, hours: float, costs: Costs) -> float:
    """Production lost by stopping from ``start`` for ``hours``."""
    h = ctx.producing_hours_until(start + timedelta(hours=hours)) - ctx.producing_hours_until(start)
    return max(h, 0.0) * costs.lost_production_per_h


def choose_action(
    belief: RulBelief,
    ctx: DecisionContext,
    costs: Costs,
    capacity: Capacity,
    limits: object | None = None,
) -> Decision:
    """The option of least expected cost (see the module docstring)."""
    now = ctx.now
    job_h = capacity.job_h(ctx.machine_type)
    stop = ctx.next_planned_stop or now + timedelta(days=7)
    following = ctx.following_planned_stop or stop + timedelta(days=7)
    if ctx.spare_available_at is not None and ctx.spare_available_at > now:
        start_now = ctx.spare_available_at
    else:
        start_now = now
    age = max(ctx.component_age_h or 0.0, 0.0)
    life = age + belief.median_h

    def hours(t: datetime) -> float:
        return max((t - now).total_seconds() / 3600.0, 0.0)

    def wasted(t: datetime) -> float:
        return costs.planned_job * max(belief.median_h - hours(t), 0.0) / max(life, 1.0)

    # a failure stops the machine for the repair delay (0.5-4 h, mean 2.25 h) and the repair
    fail = costs.unplanned_failure + _lost(ctx, now, job_h + 2.25, costs)

    def plan_at(t: datetime) -> float:
        p = belief.p_fail_within(hours(t))
        return p * fail + (1 - p) * (costs.planned_job + _lost(ctx, t, job_h, costs) + wasted(t))

    expected = {
        "maintain_now": plan_at(start_now),
        "maintain_at_next_stop": plan_at(stop),
        "nothing": plan_at(following),
    }
    action = min(expected, key=expected.get)
    at = {"maintain_now": start_now, "maintain_at_next_stop": stop, "nothing": None}[action]
    p_stop = belief.p_fail_within(hours(stop))
    reason = (
        f"RUL median {belief.median_h:.0f} h; P(failure before the next stop in "
        f"{hours(stop):.0f} h) = {p_stop:.2f}; expected cost "
        + ", ".join(f"{k} {v:,.0f}" for k, v in expected.items())
    )
    return Decision(
        action,
        0.0,
        at,
        {k: round(v, 2) for k, v in expected.items()},
        reason,
        {"median_h": belief.median_h, "sigma": belief.sigma, "p_fail_before_stop": p_stop},
    )
