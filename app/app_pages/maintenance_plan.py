"""Maintenance plan: every machine's open risk, ranked by P(failure before the next planned stop)
or by the expected cost of doing nothing, with the next stop of the production plan and the
action the twin decided; each row links to its machine and its live state."""

import polars as pl
import streamlit as st

from app import session, twin
from dt_platform.twin.costs import PolicyConfigError, load_costs, money
from dt_platform.twin.maintenance_plan import OPEN_P, open_risks
from dt_platform.twin.production_plan import load_plan

PLAN_FILE, COSTS_FILE = "production_plan.yaml", "costs.yaml"  # as the decisions asset reads them
RANK_BY = {"risk": "risk: P(failure before the next stop)", "cost": "cost of doing nothing"}


def _what(action: str, derate_pct: float) -> str:
    return f"derate {derate_pct:g} %" if action == "derate" else action.replace("_", " ")


def _when(t) -> str:
    return f"{t:%a %Y-%m-%d %H:%M}" if t is not None else "–"


session.guard("maintenance_plan")
st.title("Maintenance plan")
home = session.settings().home
try:
    plan = load_plan(home / PLAN_FILE)
    currency = load_costs(home / COSTS_FILE)[0].currency
except PolicyConfigError as exc:
    st.error(f"The production plan or the costs cannot be read: {exc}")
    st.stop()

cols = st.columns([2, 1])
by = cols[0].radio("Rank by", list(RANK_BY), format_func=RANK_BY.get, horizontal=True)
everything = cols[1].toggle("Machines without an open risk too")
now = session.now()
with twin.store() as con:
    risks = open_risks(con, plan, now, by=by, include_closed=everything)

st.caption(
    "From each machine's latest decision of the twin (Decisions page): the expected cost of doing "
    "nothing and of the decided action, over the same horizon, with the costs in "
    f"DT_HOME/{COSTS_FILE}; P(failure before the next planned stop) under the fused RUL and its "
    f"90 % interval; the stop from DT_HOME/{PLAN_FILE}. A risk is open while an action is "
    f"decided, or the failure before the next stop is at least {OPEN_P:.0%} likely. Times UTC."
)
open_now = [r for r in risks if r.is_open]
metrics = st.columns(4)
metrics[0].metric("Open risks", len(open_now))
metrics[1].metric(
    "Expected cost of doing nothing",
    money(sum(r.cost_nothing or 0.0 for r in open_now), currency),
)
metrics[2].metric(
    "Avoided by the decided actions",
    money(sum(max(r.saving or 0.0, 0.0) for r in open_now), currency),
)
fleet_stop = plan.next_stops(now, count=1)
metrics[3].metric("Next planned stop", _when(fleet_stop[0][0]) if fleet_stop else "none ahead")

if not risks:
    st.success(
        "No open risk: no decision asks for an action and no machine is likely to fail before "
        "its next planned stop."
        if not everything
        else "No decision yet: they follow each day's predictions."
    )
    st.stop()

table = pl.DataFrame(
    [
        {
            "rank": n,
            "machine": f"machine?machine={r.machine_id}",
            "type": r.machine_type,
            "p_fail": r.p_fail_next_stop,
            "next_stop": _when(r.next_stop),
            "cost_nothing": r.cost_nothing,
            "cost_action": r.cost_action,
            "saving": r.saving,
            "decided": _what(r.action, r.derate_pct),
            "action_at": _when(r.action_at)
            if r.action_at
            else "now"
            if r.action != "nothing"
            else "",
            "status": f"{r.status} ({r.mode})",
            "rul": r.rul_fused_h,
            "interval": (
                f"{r.rul_fused_lo_h:,.0f} – {r.rul_fused_hi_h:,.0f} h"
                if r.rul_fused_lo_h is not None and r.rul_fused_hi_h is not None
                else "–"
            ),
            "decided_for": _when(r.decided_for),
            "live": f"live?machine={r.machine_id}",
        }
        for n, r in enumerate(risks, start=1)
    ],
    infer_schema_length=None,
)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "rank": st.column_config.NumberColumn("#", format="%d"),
        "machine": st.column_config.LinkColumn(
            "machine", display_text=r"machine\?machine=(.*)", help="open its machine page"
        ),
        "type": "type",
        "p_fail": st.column_config.ProgressColumn(
            "P(failure before next stop)", min_value=0.0, max_value=1.0, format="%.2f"
        ),
        "next_stop": "next planned stop",
        "cost_nothing": st.column_config.NumberColumn(
            f"E[cost] doing nothing ({currency})", format="localized"
        ),
        "cost_action": st.column_config.NumberColumn(
            f"E[cost] decided action ({currency})", format="localized"
        ),
        "saving": st.column_config.NumberColumn(f"avoided ({currency})", format="localized"),
        "decided": "decided action",
        "action_at": "when",
        "status": "status",
        "rul": st.column_config.NumberColumn("RUL (fused)", format="%.0f h"),
        "interval": "90 % interval",
        "decided_for": "prediction of",
        "live": st.column_config.LinkColumn(
            "live", display_text=r"live\?machine=(.*)", help="its live state and commands"
        ),
    },
)

st.subheader("Open a machine")
chosen = st.selectbox("Machine", [r.machine_id for r in risks])
risk = next(r for r in risks if r.machine_id == chosen)
st.markdown(
    f"**{risk.machine_id}** · decided **{_what(risk.action, risk.derate_pct)}** · "
    f"{risk.status} ({risk.mode})"
)
st.caption(risk.reason)
links = st.columns(3)
links[0].page_link(
    "app_pages/machine.py",
    label=f"{risk.machine_id}: machine detail",
    icon=":material/precision_manufacturing:",
    query_params={"machine": risk.machine_id},
)
links[1].page_link(
    "app_pages/live.py",
    label=f"{risk.machine_id}: live state",
    icon=":material/sensors:",
    query_params={"machine": risk.machine_id},
)
links[2].page_link("app_pages/decisions.py", label="All decisions", icon=":material/psychology:")
