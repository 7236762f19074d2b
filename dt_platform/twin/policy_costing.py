"""The expected cost of each candidate plan of the decision policy under one RUL belief.

Kept apart from the options (:mod:`.policy_options`) and the choice (:mod:`.policy`): this is
where the belief, the costs and the wear physics meet. The belief is a
:class:`~dt_platform.twin.rul_belief.RulBelief`, a split log-normal time to failure T in calendar
hours with the machine used as planned.

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
plan without that knowledge minus the expected cost of the best plan per bin.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import numpy as np

from dt_platform.twin.costs import Capacity, Costs
from dt_platform.twin.policy_options import DecisionContext, Option
from dt_platform.twin.rul_belief import RulBelief

DERATE_EXPONENT = {"smt_placer": 1.0, "cnc_spindle": 1.7, "servo_drive": 6.0, "reflow_oven": 0.4}
DEFAULT_DERATE_EXPONENT = 1.0
DEFAULT_LIFE_H = 2000.0
INSPECTION_BINS = 3
INSPECTION_CONCLUSIVE = 0.5
GRID_POINTS = 1200


def derate_exponent(machine_type: str) -> float:
    return DERATE_EXPONENT.get(machine_type, DEFAULT_DERATE_EXPONENT)


def hours_between(a: dt.datetime, b: dt.datetime) -> float:
    """Hours from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    return (b - a).total_seconds() / 3600.0


class CostModel:
    """Expected costs of options under one belief (see the module docstring)."""

    def __init__(
        self, belief: RulBelief, ctx: DecisionContext, costs: Costs, capacity: Capacity,
        horizon: dt.datetime, spare_at: dt.datetime,
    ) -> None:  # fmt: skip
        self.belief, self.ctx, self.costs = belief, ctx, costs
        self.job_h = capacity.job_h(ctx.machine_type)
        self.h_u = hours_between(ctx.now, horizon)
        self.spare_u = max(hours_between(ctx.now, spare_at), 0.0)
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
        r_u = min(max(hours_between(self.ctx.now, option.renew_at), 0.0), self.h_u)
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


def _conditional(belief: RulBelief, lo: float, hi: float):
    def cdf(u: Any) -> np.ndarray:
        return np.clip((belief.cdf(u) - lo) / (hi - lo), 0.0, 1.0)

    return cdf


def scored_options(
    model: CostModel, belief: RulBelief, opts: list[Option], horizon: dt.datetime, costs: Costs
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
