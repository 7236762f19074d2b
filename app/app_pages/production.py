"""Production figures per machine and day: operating hours, output and data quality.

A MANAGER sees every machine type; anyone else sees only the types shared with them by a live
on-chain grant of ``production/<machine type>`` (e.g. QC staff for the SMT placers).
"""

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from app import session
from app.access import production_scope

# Twenty distinct colours (Tableau 20) for the stacked machines.
PALETTE = [
    "#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
    "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
    "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
]  # fmt: skip

access = session.guard("production")
st.title("Production")

machines: pl.DataFrame = session.query("machines")
types = production_scope(access, machines["machine_type"].unique().to_list())
if not types:
    st.info("No production dataset is shared with this account for any registered machine type.")
    st.stop()
if not access.roles & {"MANAGER"}:
    st.caption("Shared with you by grant: " + ", ".join(f"production/{t}" for t in types))

days = session.query("prediction_days")
newest = days[0] if days else dt.datetime.now(dt.UTC).date()
picked = st.date_input("Days (UTC)", value=(newest - dt.timedelta(days=13), newest))
start, end = (picked[0], picked[-1]) if isinstance(picked, tuple) and picked else (newest, newest)
chosen = st.multiselect("Machine types", types, default=types)
figures: pl.DataFrame = session.query("production_by_day", tuple(chosen), start, end)
if figures.is_empty():
    st.info("No production figures in these days.")
    st.stop()

summary = (
    figures.group_by("machine_id", "machine_type", "output_unit")
    .agg(
        pl.col("operating_h").sum().alias("operating_h"),
        pl.when(pl.col("output").is_not_null().any()).then(pl.col("output").sum()).alias("output"),
        (pl.col("operating_h").sum() / (pl.len() * 24)).alias("utilization"),
        pl.col("readings").sum().alias("readings"),
        ((pl.col("flagged_share") * pl.col("readings")).sum() / pl.col("readings").sum()).alias(
            "flagged_share"
        ),
    )
    .sort("machine_id")
)
st.dataframe(
    summary.with_columns(pl.col("output_unit").fill_null("no output counter")),
    hide_index=True,
    column_config={
        "machine_id": "machine",
        "machine_type": "type",
        "output_unit": "output counted as",
        "operating_h": st.column_config.NumberColumn("operating hours", format="%,.1f"),
        "output": st.column_config.NumberColumn("output", format="%,.0f"),
        "utilization": st.column_config.ProgressColumn(
            "utilization", min_value=0.0, max_value=1.0, format="percent"
        ),
        "readings": st.column_config.NumberColumn("readings", format="%,d"),
        "flagged_share": st.column_config.NumberColumn("readings flagged", format="percent"),
    },
)
machines_shown = figures["machine_id"].n_unique()
# One distinct colour per machine while the palette has enough (20); beyond, one per type.
by_machine = machines_shown <= len(PALETTE)
colour = (
    alt.Color("machine_id:N", title="machine", scale=alt.Scale(range=PALETTE))
    if by_machine
    else alt.Color("machine_type:N", title="type", scale=alt.Scale(range=PALETTE))
)
chart = (
    alt.Chart(figures.to_pandas())
    .mark_bar()
    .encode(
        x=alt.X("day:T", title="day"),
        y=alt.Y("operating_h:Q", title="operating hours", axis=alt.Axis(format=",.0f")),
        color=colour,
        tooltip=[
            "day:T",
            "machine_id",
            alt.Tooltip("operating_h:Q", title="operating hours", format=",.1f"),
            alt.Tooltip("output:Q", format=",.0f"),
            "output_unit",
            alt.Tooltip("readings:Q", format=",d"),
        ],
    )
)
st.altair_chart(chart, width="stretch")
st.caption(
    "Operating hours: hours in which the machine ran (its activity sensor above idle), from the "
    "hourly features. Output = mean rate while running × running minutes: placements (SMT "
    "placers), power cycles (servo drives), spindle revolutions (CNC spindles); reflow ovens "
    "count no boards, so theirs is the heat delivered, heater duty × rated heater power × hours "
    "running."
)
