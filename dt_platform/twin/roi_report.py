"""The return-on-investment result in words and as plain JSON, for the CLI and the dashboard.

Payback that never comes (savings ≤ 0) is the word "never" in text and ``null`` in JSON, beside
the share of draws that never pay back.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import polars as pl

from dt_platform.twin.roi import ASSUMPTIONS, COMPARISONS, RoiResult

__all__ = ["LABELS", "describe", "draws_frame", "money", "summary", "years_text"]

FORMAT = "dt-roi/1"
LABELS = {
    "run_to_failure": "run to failure",
    "preventive": "preventive",
    "predictive": "predictive",
    "perfect_foresight": "perfect foresight (bound)",
    "predictive_vs_preventive": "predictive vs preventive",
    "predictive_vs_run_to_failure": "predictive vs run to failure",
    "perfect_foresight_vs_preventive": "perfect foresight vs preventive (bound)",
    "perfect_foresight_vs_run_to_failure": "perfect foresight vs run to failure (bound)",
}


def money(value: float, currency: str) -> str:
    return f"{value:,.0f} {currency}"


def years_text(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.1f} years"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def summary(result: RoiResult) -> dict[str, Any]:
    """The result as plain JSON: inputs and assumptions, then each policy's annual cost, each
    comparison's annual savings and payback (``null`` = never)."""
    inputs, outcomes = result.inputs, result.outcomes
    fleet = {
        t if t is not None else "mixed as in the outcomes": n for t, n in inputs.fleet().items()
    }
    savings = {}
    for name in result.savings:
        spread = asdict(result.savings_spread(name))
        spread["positive_share"] = result.positive_share(name)
        savings[name] = spread
    payback = {}
    for name in result.payback_years:
        p = result.payback(name)
        payback[name] = {
            "p5": _finite(p.p5),
            "p50": _finite(p.p50),
            "p95": _finite(p.p95),
            "never_share": p.never_share,
            "within_horizon_share": p.within_horizon_share,
        }
    return {
        "format": FORMAT,
        "inputs": {
            "costs": asdict(inputs.costs),
            "setup_cost": inputs.setup_cost,
            "running_cost_per_year": inputs.running_cost,
            "fleet": fleet,
            "years": inputs.years,
            "seed": inputs.seed,
            "draws": inputs.draws,
        },
        "outcomes": {
            "source": outcomes.source,
            "days": outcomes.days,
            "seeds": list(outcomes.seeds),
            "rows_per_policy": len(outcomes.keys),
            "rows_per_machine_year": {str(t): k for t, k in result.segments.items()},
        },
        "assumptions": list(ASSUMPTIONS),
        "annual_cost": {p: asdict(result.cost_spread(p)) for p in result.annual_cost},
        "annual_savings": savings,
        "payback_years": payback,
        "predictive_beats_bound_share": {
            against: result.bound_exceeded_share(against)
            for against in ("preventive", "run_to_failure")
        },
    }


def describe(result: RoiResult) -> list[str]:
    """One sentence per comparison: the savings, their intervals and the payback, in words."""
    currency = result.inputs.costs.currency
    lines = []
    for name in COMPARISONS:
        if name not in result.savings:
            continue
        s, p = result.savings_spread(name), result.payback(name)
        lines.append(
            f"{LABELS[name].capitalize()}: annual savings net of running cost "
            f"{money(s.p50, currency)} in the median draw, between {money(s.p5, currency)} and "
            f"{money(s.p95, currency)} in 90 % of draws (mean {money(s.mean, currency)}, "
            f"±{money((s.mean_hi - s.mean_lo) / 2, currency)} Monte-Carlo error); savings in "
            f"{result.positive_share(name):.0%} of draws. Payback of the set-up cost: "
            f"{years_text(p.p50)} in the median draw (5-95 %: {years_text(p.p5)} to "
            f"{years_text(p.p95)}), within the {result.inputs.years}-year horizon in "
            f"{p.within_horizon_share:.0%} of draws."
        )
    for against in ("preventive", "run_to_failure"):
        share = result.bound_exceeded_share(against)
        if share is not None and share > 0.05:
            lines.append(
                f"Predictive beats perfect foresight against {LABELS[against]} in {share:.0%} of "
                "draws: with these costs, replacing at the last stop before failure is not the "
                "cheapest plan, so perfect foresight is no upper bound here."
            )
    return lines


def draws_frame(result: RoiResult) -> pl.DataFrame:
    """One row per draw and comparison: ``with`` (the policy with the platform), ``against``,
    ``savings`` (annual, net of running cost) and ``payback_years`` (``inf`` = never) — the
    long table the dashboard plots."""
    frames = []
    for name, savings in result.savings.items():
        with_platform, against = COMPARISONS[name]
        frames.append(
            pl.DataFrame(
                {
                    "comparison": LABELS[name],
                    "with": LABELS[with_platform],
                    "against": LABELS[against],
                    "savings": savings,
                    "payback_years": result.payback_years[name],
                }
            )
        )
    return pl.concat(frames)
