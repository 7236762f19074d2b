"""The reason of a decision in words and numbers: the probability that decided it, what it costs,
the expected cost of every option, and what capacity or limits ruled out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dt_platform.twin.costs import Costs, money

# The decision and its context are the policy's (dt_platform.twin.policy, .policy_options), typed
# loosely here so that the reasons do not import the module that imports them.
Decision = DecisionContext = Any

LABELS = {
    "nothing": "nothing",
    "inspect": "inspect",
    "derate": "derate",
    "maintain_at_next_stop": "maintain at the stop",
    "maintain_now": "maintain now",
}


def label(key: str) -> str:
    if key.startswith("derate_"):
        return f"derate {key.removeprefix('derate_')} %"
    return LABELS.get(key, key)


def when(t: dt.datetime, ctx: DecisionContext) -> str:
    """``Sun 08 Mar 00:00`` in the plant's local time."""
    return f"{t.astimezone(ctx.plan.tz):%a %d %b %H:%M}"


def explain(decision: Decision, ctx: DecisionContext, costs: Costs, info: dict[str, Any]) -> str:
    cur = costs.currency

    def m(x: float) -> str:
        return money(x, cur)

    stops = info["stops"]
    p = decision.p_fail
    cf, cp = costs.unplanned_failure, costs.planned_job
    s1 = f"the stop of {when(stops[0][0], ctx)}" if stops else "a planned stop"
    s2 = f"the following stop ({when(stops[1][0], ctx)})" if len(stops) > 1 else "a day later"
    ec = decision.expected_cost
    action = decision.action
    if action == "maintain_at_next_stop":
        p2 = p.get("following_stop", 1.0)
        head = (
            f"P(failure before {s2}) = {p2:.2f} × {m(cf)} = {m(p2 * cf)} > planned job {m(cp)}: "
            f"maintain at {s1} (P(failure before it) = {p['next_stop']:.2f})"
        )
    elif action == "maintain_now":
        p1 = p["next_stop"]
        job = cp + costs.lost_production_per_h * decision.lost_h
        head = (
            f"P(failure before {s1}) = {p1:.2f} × {m(cf)} = {m(p1 * cf)} > maintaining now "
            f"{m(job)} (job {m(cp)} + {decision.lost_h:.1f} producing hours lost): maintain now, "
            f"job from {when(decision.at, ctx)}"
        )
    elif action == "derate":
        x = decision.derate_pct
        head = (
            f"derating {x:g} % until {s1} (wear ∝ load^{info['exponent']:g}) lowers P(failure "
            f"before the stop) from {p['next_stop']:.2f} to {p['next_stop_derated']:.2f}: derate "
            f"{x:g} %, then maintain at the stop"
        )
    elif action == "inspect":
        b = decision.belief
        others = min(v for k, v in ec.items() if k != "inspect")
        head = (
            f"the RUL is uncertain (median {b['median_h']:.0f} h, 90 % in {b['lo_h']:.0f}-"
            f"{b['hi_h']:.0f} h): an inspection for {m(costs.inspection)} is expected to save "
            f"{m(others - ec['inspect'])} by telling which plan fits: inspect"
        )
    else:
        p2 = p.get("following_stop")
        risk = f"P(failure before {s2}) = {p2:.2f}" if p2 is not None else "no planned stop ahead"
        stop_cost = ec.get("maintain_at_next_stop")
        versus = f" vs {m(stop_cost)} for a job at {s1}" if stop_cost is not None else ""
        head = (
            f"{risk}: running on to {s2} costs {m(ec['nothing'])} in expectation{versus}: "
            "nothing now"
        )
    ranked = sorted(ec.items(), key=lambda kv: kv[1])
    tail = ", ".join(f"{label(k)} {m(v)}" for k, v in ranked)
    parts = [head + ".", f"Expected costs to {when(decision.horizon_end, ctx)}: {tail}."]
    cheapest, option, cost = info["cheapest"]
    if cheapest not in (action, f"derate_{decision.derate_pct:g}"):
        why = decision.excluded.get(cheapest) or decision.excluded.get(option.action, "")
        parts.append(f"{label(cheapest)} would cost less ({m(cost)}) but {why}.")
    notes = [v for k, v in info["notes"].items() if k.startswith("_")]
    if notes:
        parts.append("Capacity: " + "; ".join(notes) + ".")
    parts.append("Costs are a manager's assumptions.")
    return " ".join(parts)
