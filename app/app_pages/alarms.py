"""Alarms: what is alarming now (most severe, then newest first), each alarm's history and its
acknowledgement by a MAINTAINER; below, the maintenance alerts by day."""

import altair as alt
import polars as pl
import streamlit as st

from app import flash, session, twin
from app.twin_views import alarm_summary, alarms_now, event_rows, short
from dt_platform.trust.chain import ChainError, ChainUnavailable
from dt_platform.twin.alarm_store import alarm_history, alarms, open_alarms, open_counts
from dt_platform.twin.alarms import AlarmError, acknowledge
from dt_platform.twin.webhooks import webhook_targets

ACK_OUTCOME = "dt_ack_outcome"
CLOSED_SHOWN = 50
ICONS = {"critical": ":material/error:", "warning": ":material/warning:"}


def acknowledge_submitted(alarm_id: int) -> None:
    """The acknowledge form's callback (it runs on the submit's rerun, before the page, so a
    submit is answered even when the form is no longer shown). The role is asked of the chain
    here, by :func:`acknowledge`, never taken from the page or the session."""
    note = st.session_state.get(f"ack_note_{alarm_id}", "")
    signed = session.signed_in()
    if signed is None:
        flash.say(ACK_OUTCOME, "error", "Sign in first.")
        return
    try:
        chain = session.chain()
        with twin.store() as con:
            done = acknowledge(
                con, alarm_id, signed.address, note, chain, session.now(),
                webhook_urls=webhook_targets(session.settings().webhook_urls),
            )  # fmt: skip
    except AlarmError as exc:  # NotAuthorized included
        flash.say(ACK_OUTCOME, "error", f"Acknowledgement refused: {exc}")
    except (ChainUnavailable, ChainError) as exc:
        flash.say(
            ACK_OUTCOME,
            "error",
            f"Not acknowledged: your role cannot be checked on the chain ({exc}).",
        )
    else:
        flash.say(
            ACK_OUTCOME,
            "success",
            f"Alarm {done.alarm_id} ({done.machine_id}) acknowledged by {done.acked_by}.",
        )


access = session.guard("alarms")
st.title("Alarms")
flash.show(ACK_OUTCOME)

with twin.store() as con:
    counts = open_counts(con)
    active = alarms_now(open_alarms(con))
    histories = {a.alarm_id: alarm_history(con, a.alarm_id) for a in active}
    closed = [a for a in alarms(con) if not a.active][:CLOSED_SHOWN]

cols = st.columns(3)
cols[0].metric("Critical, open now", counts["critical"])
cols[1].metric("Warnings, open now", counts["warning"])
cols[2].metric("Awaiting acknowledgement", sum(a.state == "open" for a in active))

may_ack = "MAINTAINER" in access.roles
if not active:
    st.success("No alarm is open now.")
for alarm in active:
    with st.container(border=True):
        st.markdown(
            f"{ICONS.get(alarm.severity, '')} **{alarm.machine_id}** · {alarm.severity} · "
            f"{alarm.state} · {alarm_summary(alarm)}"
        )
        st.caption(
            f"alarm {alarm.alarm_id} · {alarm.kind} · true since {alarm.since:%Y-%m-%d %H:%M} "
            f"UTC · opened {alarm.opened_at:%Y-%m-%d %H:%M} UTC"
        )
        if alarm.detail.get("reason"):
            st.write(alarm.detail["reason"])
        if alarm.state == "acknowledged":
            st.markdown(
                f"Acknowledged by `{alarm.acked_by}` at {alarm.acked_at:%Y-%m-%d %H:%M} UTC: "
                f"{alarm.ack_note}"
            )
        links = st.columns(2)
        links[0].page_link(
            "app_pages/machine.py",
            label=f"{alarm.machine_id}: machine detail",
            icon=":material/precision_manufacturing:",
            query_params={"machine": alarm.machine_id},
        )
        links[1].page_link(
            "app_pages/live.py",
            label=f"{alarm.machine_id}: live state",
            icon=":material/sensors:",
            query_params={"machine": alarm.machine_id},
        )
        with st.expander("History"):
            st.table(event_rows(histories[alarm.alarm_id]))
        if alarm.state == "open" and may_ack:
            with st.form(f"ack_{alarm.alarm_id}"):
                st.text_area(
                    "Note (what you saw, what will be done)",
                    key=f"ack_note_{alarm.alarm_id}",
                    max_chars=2000,
                )
                st.form_submit_button(
                    "Acknowledge",
                    on_click=acknowledge_submitted,
                    args=(alarm.alarm_id,),
                )
if active and not may_ack:
    st.caption("Only a MAINTAINER acknowledges alarms; the role is checked on chain at submit.")

with st.expander(f"Closed alarms (the last {CLOSED_SHOWN})"):
    if closed:
        st.table(
            [
                {
                    "alarm": a.alarm_id,
                    "machine": a.machine_id,
                    "kind": a.kind,
                    "severity": a.severity,
                    "state": a.state,
                    "opened (UTC)": f"{a.opened_at:%Y-%m-%d %H:%M}",
                    "closed (UTC)": f"{a.closed_at:%Y-%m-%d %H:%M}" if a.closed_at else "",
                    "by": a.closed_by or "",
                    "acknowledged by": short(a.acked_by),
                }
                for a in closed
            ]
        )
    else:
        st.caption("No alarm has been closed yet.")

st.subheader("Alerts per day")
history: pl.DataFrame = session.query("alert_history")
if history.is_empty():
    st.caption("No maintenance alert has been raised yet.")
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

st.subheader("Maintenance alerts of a day")
day = session.pick_prediction_day("No predictions yet, so no alerts.")
day_alerts: pl.DataFrame = session.query("alerts_of_day", day)
if day_alerts.is_empty():
    st.caption(f"No machine was likely to fail within the horizon as of {day}.")
else:
    st.dataframe(
        day_alerts.select(
            "machine_id",
            "severity",
            "probability",
            "horizon_h",
            "rul_fused_h",
            "rul_fused_lo_h",
            "rul_fused_hi_h",
            "driver",
            "reason",
        ),
        hide_index=True,
        column_config={
            "probability": st.column_config.ProgressColumn(
                "P(failure in horizon)", min_value=0.0, max_value=1.0, format="%.2f"
            ),
            "rul_fused_h": st.column_config.NumberColumn("RUL (fused)", format="%.0f h"),
        },
    )
