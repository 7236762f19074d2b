"""``dt-platform roi``: the return-on-investment model for scripts — a table, or JSON with --json.

Every cost is an assumption to change (the defaults are :class:`~dt_platform.twin.costs.Costs`'
and :class:`~dt_platform.twin.roi.RoiInputs`'); the output says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from dt_platform.twin.costs import Costs
from dt_platform.twin.roi import ASSUMPTIONS, MAX_DRAWS, MAX_YEARS, RoiInputs, run_roi
from dt_platform.twin.roi_outcomes import load_outcomes
from dt_platform.twin.roi_report import LABELS, describe, summary

__all__ = ["parse_fleet", "roi"]

DEFAULT_COSTS = Costs()
DEFAULT_INPUTS = RoiInputs()
_MONEY = click.FloatRange(min=0, max=1e9)


def parse_fleet(text: str) -> int | dict[str, int]:
    """``"20"`` → 20 machines mixed as in the outcomes; ``"cnc_spindle=4,smt_placer=10"`` →
    machines per type."""
    text = text.strip()
    if "=" not in text:
        try:
            return int(text)
        except ValueError:
            raise click.BadParameter(f"expected a number or TYPE=N,…, got {text!r}") from None
    fleet = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        try:
            fleet[name.strip()] = int(count)
        except ValueError:
            raise click.BadParameter(f"expected TYPE=N, got {part!r}") from None
    return fleet


def _years(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.1f}"


def _tables(result) -> tuple[Table, Table]:
    """The policies' annual cost, and each comparison's annual savings and payback."""
    currency, draws = result.inputs.costs.currency, result.inputs.draws
    costs = Table(title=f"annual cost of the fleet ({currency}; {draws:,} draws)")
    for column in ("policy", "5 %", "median", "95 %", "mean"):
        costs.add_column(column, justify="right" if column != "policy" else "left")
    for policy in result.annual_cost:
        s = result.cost_spread(policy)
        costs.add_row(LABELS[policy], *(f"{v:,.0f}" for v in (s.p5, s.p50, s.p95, s.mean)))
    savings = Table(title=f"annual savings net of running cost ({currency}), payback (years)")
    for column in ("comparison", "5 %", "median", "95 %", "saves", "payback", "5-95 %"):
        savings.add_column(column, justify="right" if column != "comparison" else "left")
    for name in result.savings:
        s, p = result.savings_spread(name), result.payback(name)
        savings.add_row(
            LABELS[name],
            *(f"{v:,.0f}" for v in (s.p5, s.p50, s.p95)),
            f"{result.positive_share(name):.0%}",
            _years(p.p50),
            f"{_years(p.p5)}-{_years(p.p95)}",
        )
    return costs, savings


@click.command("roi")
@click.option(
    "--machines",
    default=str(DEFAULT_INPUTS.machines),
    show_default=True,
    help="Fleet size, or machines per type: cnc_spindle=4,smt_placer=10.",
)
@click.option(
    "--failure-cost",
    type=_MONEY,
    default=DEFAULT_COSTS.unplanned_failure,
    show_default=True,
    help="Cost of one unplanned failure.",
)
@click.option(
    "--planned-job-cost",
    type=_MONEY,
    default=DEFAULT_COSTS.planned_job,
    show_default=True,
    help="Cost of one planned replacement.",
)
@click.option(
    "--lost-production-per-h",
    type=_MONEY,
    default=DEFAULT_COSTS.lost_production_per_h,
    show_default=True,
    help="Cost of one machine-hour of production lost.",
)
@click.option(
    "--derate-loss-per-pct-h",
    type=_MONEY,
    default=DEFAULT_COSTS.derate_loss_per_pct_h,
    show_default=True,
    help="Cost of 1 % derate for one producing hour.",
)
@click.option(
    "--inspection-cost",
    type=_MONEY,
    default=DEFAULT_COSTS.inspection,
    show_default=True,
    help="Cost of one inspection.",
)
@click.option("--currency", default=DEFAULT_COSTS.currency, show_default=True)
@click.option(
    "--setup-cost",
    type=_MONEY,
    default=DEFAULT_INPUTS.setup_cost,
    show_default=True,
    help="The platform's one-off set-up cost.",
)
@click.option(
    "--running-cost",
    type=_MONEY,
    default=DEFAULT_INPUTS.running_cost,
    show_default=True,
    help="The platform's running cost per year (whole fleet).",
)
@click.option(
    "--years",
    type=click.IntRange(1, MAX_YEARS),
    default=DEFAULT_INPUTS.years,
    show_default=True,
    help="Horizon: annual figures are averaged over these years.",
)
@click.option("--seed", type=click.IntRange(min=0), default=DEFAULT_INPUTS.seed, show_default=True)
@click.option(
    "--draws",
    type=click.IntRange(2, MAX_DRAWS),
    default=DEFAULT_INPUTS.draws,
    show_default=True,
    help="Monte-Carlo draws.",
)
@click.option(
    "--outcomes",
    "outcomes_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Closed-loop outcomes (benchmarks/closed_loop.py --outcomes). Default: the bundled file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def roi(machines: str, failure_cost: float, planned_job_cost: float,
        lost_production_per_h: float, derate_loss_per_pct_h: float, inspection_cost: float,
        currency: str, setup_cost: float, running_cost: float, years: int, seed: int,
        draws: int, outcomes_path: Path | None, as_json: bool) -> None:  # fmt: skip
    """Annual cost per maintenance policy, savings of predictive maintenance and the payback of
    the platform, with intervals, from the closed loop's outcomes and your costs."""
    try:
        costs = Costs(
            unplanned_failure=failure_cost,
            planned_job=planned_job_cost,
            lost_production_per_h=lost_production_per_h,
            derate_loss_per_pct_h=derate_loss_per_pct_h,
            inspection=inspection_cost,
            currency=currency,
        )
        outcomes = load_outcomes(outcomes_path)
        inputs = RoiInputs(costs, setup_cost, running_cost, parse_fleet(machines), years, seed,
                           draws)  # fmt: skip
        result = run_roi(outcomes, inputs)
    except ValueError as exc:  # OutcomesError, RoiError, or a cost Costs refuses
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(summary(result), sort_keys=True))
        return
    console = Console()
    for table in _tables(result):
        console.print(table)
    for line in describe(result):
        console.print(line, highlight=False)
    console.print(
        f"Outcomes: {outcomes.source} ({len(outcomes.keys)} machine runs of {outcomes.days:g} days "
        f"per policy). Assumptions: " + " ".join(ASSUMPTIONS),
        style="dim",
        highlight=False,
    )
