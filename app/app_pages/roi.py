"""Return on investment (MANAGER): a manager's costs and the platform's cost in, the distribution
of annual savings of predictive maintenance and the payback time out, from the Monte-Carlo model
on the closed loop's outcomes (:mod:`dt_platform.twin.roi`)."""

import altair as alt
import polars as pl
import streamlit as st

from app import session
from dt_platform.twin import roi_outcomes
from dt_platform.twin.costs import Costs
from dt_platform.twin.roi import ASSUMPTIONS, MAX_YEARS, RoiInputs, run_roi
from dt_platform.twin.roi_outcomes import Outcomes, OutcomesError, load_outcomes
from dt_platform.twin.roi_report import LABELS, describe, draws_frame, money, years_text

session.guard("roi")
st.title("Return on investment")

COSTS, INPUTS = Costs(), RoiInputs()
MONEY = (  # Costs / RoiInputs field, label, step
    ("unplanned_failure", "Unplanned failure (per event)", 1000.0),
    ("planned_job", "Planned job (per event)", 500.0),
    ("lost_production_per_h", "Lost production (per machine-hour)", 100.0),
    ("derate_loss_per_pct_h", "Derate loss (per % and producing hour)", 1.0),
    ("inspection", "Inspection (per event)", 50.0),
    ("setup_cost", "Platform set-up cost (once)", 10_000.0),
    ("running_cost", "Platform running cost (per year, whole fleet)", 5_000.0),
)
COMPARED = ("predictive_vs_preventive", "predictive_vs_run_to_failure")


@st.cache_data(ttl=600, max_entries=4, show_spinner=False)
def _outcomes(path: str, mtime: float) -> Outcomes:
    return load_outcomes(path)


@st.cache_data(ttl=600, max_entries=32, show_spinner="Drawing…")
def _result(path: str, mtime: float, money_in: tuple, fleet: tuple, run: tuple):
    figures = dict(money_in)
    costs = Costs(**{k: v for k, v in figures.items() if hasattr(COSTS, k)})
    machines = dict(fleet)
    machines = machines.pop(None, machines)  # one number, or machines per type
    inputs = RoiInputs(costs, figures["setup_cost"], figures["running_cost"], machines, *run)
    return run_roi(_outcomes(path, mtime), inputs)


path = roi_outcomes.BUNDLED_OUTCOMES
if not path.is_file():
    st.info(
        "No closed-loop outcomes yet: the model needs the file written by "
        f"`python benchmarks/closed_loop.py --outcomes {path}` (or run `dt-platform roi "
        "--outcomes FILE`)."
    )
    st.stop()
try:
    outcomes = _outcomes(str(path), path.stat().st_mtime)
except OutcomesError as exc:
    st.error(f"The closed-loop outcomes cannot be used: {exc}")
    st.stop()

st.subheader("Your figures")
st.caption(
    f"Every figure is an assumption to change ({COSTS.currency}); the defaults are round, "
    "plausible numbers, not measurements."
)
columns = st.columns(3)
figures = {}
for i, (field, label, step) in enumerate(MONEY):
    default = float(getattr(COSTS if hasattr(COSTS, field) else INPUTS, field))
    with columns[i // 3]:
        top = 1e9 if hasattr(COSTS, field) else 1e10
        figures[field] = st.number_input(label, 0.0, top, default, step, key=f"roi_{field}")
with columns[2]:
    machines = st.number_input("Machines in the fleet", 1, 10_000, INPUTS.machines, key="roi_n")
    fleet = {None: machines}
    if st.toggle("Give the fleet per machine type", key="roi_per_type"):
        fleet = {}
        for t in outcomes.types:
            share = float((outcomes.machine_types == t).mean())
            fleet[t] = st.number_input(
                f"{t} machines", 0, 10_000, round(machines * share), key=f"roi_n_{t}"
            )
    years = st.number_input("Horizon (years)", 1, MAX_YEARS, INPUTS.years, key="roi_years")
    draws = st.number_input("Monte-Carlo draws", 100, 10_000, INPUTS.draws, 500, key="roi_draws")
    seed = st.number_input("Seed", 0, 2**31 - 1, INPUTS.seed, key="roi_seed")

try:
    result = _result(
        str(path),
        path.stat().st_mtime,
        tuple(figures.items()),
        tuple(fleet.items()),
        (years, seed, draws),
    )
except ValueError as exc:  # RoiError, or a cost Costs refuses
    st.error(f"The model cannot run with these figures: {exc}")
    st.stop()

st.subheader("What predictive maintenance is worth")
cur = COSTS.currency
cards = st.columns(4)
for i, name in enumerate(COMPARED):
    s, p = result.savings_spread(name), result.payback(name)
    cards[i].metric(
        f"Annual savings, {LABELS[name]} (median)",
        money(s.p50, cur),
        help=f"90 % of draws between {money(s.p5, cur)} and {money(s.p95, cur)}",
    )
    cards[2 + i].metric(
        f"Payback, {LABELS[name]} (median)",
        years_text(p.p50),
        help=f"within the {years}-year horizon in {p.within_horizon_share:.0%} of draws",
    )
for line in describe(result):
    st.markdown(f"- {line}")

frame = draws_frame(result)
st.markdown("**Annual savings net of the running cost, over the draws**")
for column, against in zip(st.columns(2), ("preventive", "run_to_failure"), strict=True):
    rows = frame.filter(pl.col("against") == LABELS[against])
    chart = (
        alt.Chart(rows.to_pandas())
        .mark_bar(opacity=0.55)
        .encode(
            x=alt.X("savings:Q", bin=alt.Bin(maxbins=50), title=f"annual savings ({cur}/year)"),
            y=alt.Y("count():Q", stack=None, title="draws"),
            color=alt.Color("with:N", title="with the platform", legend=alt.Legend(orient="top")),
        )
        .properties(height=240, title=f"against {LABELS[against]}")
    )
    column.altair_chart(chart, width="stretch")

limit = 3 * years
payback = frame.filter(pl.col("comparison").is_in([LABELS[c] for c in COMPARED]))
shown = payback.filter(pl.col("payback_years") <= limit)
if shown.is_empty():
    st.warning(f"In no draw does the platform pay its set-up cost back within {limit} years.")
else:
    chart = (
        alt.Chart(shown.to_pandas())
        .mark_bar(opacity=0.6)
        .encode(
            x=alt.X("payback_years:Q", bin=alt.Bin(maxbins=40), title="payback (years)"),
            y=alt.Y("count():Q", stack=None, title="draws"),
            color=alt.Color("comparison:N", title=""),
        )
        .properties(height=220, title="Payback time of the set-up cost, over the draws")
    )
    st.altair_chart(chart, width="stretch")
    beyond = 1 - shown.height / payback.height
    st.caption(f"{beyond:.0%} of the draws pay back after {limit} years, or never.")

st.dataframe(
    pl.DataFrame(
        {
            "policy": LABELS[p],
            **{q: getattr(result.cost_spread(p), q) for q in ("p5", "p50", "p95", "mean")},
        }
        for p in result.annual_cost
    ),
    hide_index=True,
    column_config={
        q: st.column_config.NumberColumn(f"annual cost, {title} ({cur})", format="%,.0f")
        for q, title in (("p5", "5 %"), ("p50", "median"), ("p95", "95 %"), ("mean", "mean"))
    },
)

with st.expander("Method and assumptions", expanded=True):
    for assumption in ASSUMPTIONS:
        st.markdown(f"- {assumption}")
    segments = ", ".join(f"{t or 'all types'}: {k}" for t, k in result.segments.items())
    st.caption(
        f"Outcomes: {outcomes.source}, {len(outcomes.keys)} machine runs of {outcomes.days:g} "
        f"days per policy, seeds {', '.join(map(str, outcomes.seeds))}. Each draw weights the "
        "runs (Bayesian bootstrap) and builds every machine-year of the fleet from runs drawn "
        f"with those weights ({segments} runs per machine-year), the same runs for every policy; "
        "your costs are applied to their failures, jobs, inspections, hours lost and derate. "
        "Savings = the other policy's annual cost − predictive's − the running cost; payback = "
        "set-up cost / savings ('never' when savings ≤ 0). Perfect foresight replaces each "
        "component at the last planned stop before it fails: the most prediction could save."
    )
