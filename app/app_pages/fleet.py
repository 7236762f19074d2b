"""Fleet health: every machine's remaining useful life with its 90 % interval, and its alert."""

import altair as alt
import polars as pl
import streamlit as st

from app import health_views, maturity_views, session
from dt_platform.twin.maturity import LEVELS

session.guard("fleet")
st.title("Fleet health")

day = session.pick_prediction_day(
    "No predictions yet: the prognostics assets have not materialized a day."
)
status: pl.DataFrame = session.query("fleet_status", day)

with_estimate = status.filter(pl.col("rul_fused_h").is_not_null())
alerts = status.filter(pl.col("severity").is_not_null())
cols = st.columns(4)
cols[0].metric("Active machines", status.height)
cols[1].metric("With a RUL estimate", with_estimate.height)
cols[2].metric("Maintenance alerts", alerts.height)
shortest = with_estimate["rul_fused_h"].min() if with_estimate.height else None
cols[3].metric("Shortest RUL", f"{shortest:,.0f} h" if shortest is not None else "–")

st.dataframe(
    health_views.fleet_table(status),
    hide_index=True,
    column_config={
        "link": st.column_config.LinkColumn(
            "machine",
            display_text=r"machine\?machine=(.*)",
            help="Open the machine's page",
        ),
        "machine_type": "type",
        "rul_fused_h": st.column_config.NumberColumn("RUL (fused)", format="%,.0f h"),
        "interval_90": "90 % interval",
        "rul_physics_h": st.column_config.NumberColumn("physics", format="%,.0f h"),
        "rul_ml_h": st.column_config.NumberColumn("data (XGBoost)", format="%,.0f h"),
        "probability": st.column_config.ProgressColumn(
            "P(failure in horizon)", min_value=0.0, max_value=1.0, format="%.2f"
        ),
        "note": st.column_config.TextColumn("note", width="large"),
    },
)
notes = health_views.notes_by_text(status)
if notes:
    with st.expander(f"Notes on the estimates ({len(notes)})"):
        for note, machine_ids in notes:
            st.markdown(f"**{', '.join(machine_ids)}**: {note}")

st.subheader("RUL over time")
ranked = with_estimate.sort("rul_fused_h")["machine_id"].to_list()
chosen = st.multiselect("Machines", status["machine_id"].to_list(), default=ranked[:3])
if chosen:
    history: pl.DataFrame = session.query("rul_history", chosen)
    ticks = health_views.rul_ticks(history["rul_fused_hi_h"].max() if history.height else None)
    base = alt.Chart(history.to_pandas()).encode(
        x=alt.X("ts:T", title="time (UTC)"), color=alt.Color("machine_id:N", title="machine")
    )
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y(
            "rul_fused_lo_h:Q",
            title="remaining useful life (h, log scale)",
            scale=alt.Scale(type="symlog"),
            axis=alt.Axis(values=ticks, format=",d"),
        ),
        y2="rul_fused_hi_h:Q",
    )
    line = base.mark_line(point=True).encode(
        y="rul_fused_h:Q",
        tooltip=[
            "machine_id",
            "ts:T",
            alt.Tooltip("rul_fused_h:Q", format=",.0f"),
            alt.Tooltip("rul_fused_lo_h:Q", format=",.0f"),
            alt.Tooltip("rul_fused_hi_h:Q", format=",.0f"),
            "basis",
        ],
    )
    st.altair_chart(band + line, width="stretch")
    st.caption(
        "Line: fused estimate; band: its 90 % interval (log scale: ticks at 1, 3, 10, 30, … h). "
        "`basis` says what an estimate rests on: `fused`; `ml_fallback` or `physics_fallback` "
        "for a machine type where that branch beat the fusion on the training fleet's held-out "
        "machines; `physics_stage` while the physics branch tracks a fault it has detected (a "
        "spindle's spall, from the vibration trend; a servo module's bond wires lifting off, "
        "from the rise of Vce(on)); or `physics_only` while too few failures are known to "
        "train the data branch."
    )

st.subheader("Twin maturity")
levels: pl.DataFrame = session.query("twin_maturity")
if levels.is_empty():
    st.caption("No maturity judged yet: the `twin_maturity` asset has not run.")
else:
    on_chain, chain_note = maturity_views.chain_levels(session.chain)
    cols = st.columns(4)
    for col, (n, name) in zip(cols, LEVELS.items(), strict=True):
        col.metric(f"{n} {name}", int((levels["level"] == n).sum()))
    st.dataframe(
        health_views.fill_text(maturity_views.fleet_maturity(levels, on_chain)),
        hide_index=True,
        column_config={
            "machine_id": "machine",
            "level": st.column_config.NumberColumn("level", format="%d"),
            "level_name": "earned",
            "on_chain": st.column_config.NumberColumn("on chain", format="%d"),
            "next": "missing for the next level",
            "day": st.column_config.DateColumn("judged on"),
        },
    )
    if chain_note:
        st.warning(chain_note)
    st.caption(
        "Levels are earned from what runs (DESIGN §8): 1 registered; 2 data arriving by "
        "themselves within the freshness window; 3 live state and a command acknowledged within "
        "7 days; 4 predictions and a decision acted on within 7 days. A twin without fresh data "
        "drops back. Each change is recorded in the TwinRegistry contract with its evidence on "
        "IPFS; 'on chain' lags while the chain cannot be reached."
    )
