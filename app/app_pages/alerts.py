"""Maintenance alerts: which machines are likely to fail within the horizon, and why."""

import altair as alt
import polars as pl
import streamlit as st

from app import session

session.guard("alerts")
st.title("Maintenance alerts")

day = session.pick_prediction_day("No predictions yet, so no alerts.")
alerts: pl.DataFrame = session.query("alerts_of_day", day)

if alerts.is_empty():
    st.success(f"No machine is likely to fail within the horizon as of {day}.")
else:
    st.write(f"{alerts.height} machine(s) likely to fail within the horizon as of {day}:")
    for row in alerts.iter_rows(named=True):
        icon = ":material/error:" if row["severity"] == "critical" else ":material/warning:"
        with st.container(border=True):
            st.markdown(
                f"{icon} **{row['machine_id']}** ({row['machine_type']}) · {row['severity']} · "
                f"P(failure within {row['horizon_h']:.0f} h) = {row['probability']:.2f} · "
                f"RUL {row['rul_fused_h']:.0f} h "
                f"[{row['rul_fused_lo_h']:.0f} – {row['rul_fused_hi_h']:.0f}]"
            )
            st.write(row["reason"])
            st.caption(
                f"driven by: {row['driver']} · sensor trend: {row['sensor_trend'] or '–'} · "
                f"dominant stress: {row['dominant_stress'] or '–'} · model "
                f"{(row['model_version'] or 'physics only')[:12]}"
            )

st.subheader("Alerts per day")
history: pl.DataFrame = session.query("alert_history")
if history.is_empty():
    st.caption("No alert has been raised yet.")
else:
    chart = (
        alt.Chart(history.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="day"),
            y=alt.Y("alerts:Q", title="alerts"),
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(domain=["warning", "critical"], range=["#f2a900", "#d62728"]),
            ),
        )
    )
    st.altair_chart(chart, width="stretch")
