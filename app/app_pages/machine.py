"""One machine: its sensors hour by hour, the physics damage of the component in service, its
RUL estimates over time (with its alerts and failures marked) and its work orders.

``?machine=<id>`` opens it on that machine (the alarms page links here that way).
"""

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from app import health_views, maturity_views, session
from dt_platform.phm.signals import TYPE_SIGNALS


def health_sensors(machine_type: str, available: list[str]) -> list[str]:
    """The sensors that tell a machine's health (its failure criteria first), else the first two."""
    spec = TYPE_SIGNALS.get(machine_type)
    if spec is None:
        return available[:2]
    wanted = [limit.sensor for limit in spec.limits] + list(spec.sensors)
    return [s for s in dict.fromkeys(wanted) if s in available][:2]


def rul_marks(alerts: pl.DataFrame, failures: pl.DataFrame) -> list[alt.Chart]:
    """Layers for the RUL chart: a triangle per alert day, a rule per failure."""
    layers = []
    if alerts.height:
        layers.append(
            alt.Chart(alerts.to_pandas())
            .mark_point(shape="triangle-down", size=140, filled=True, opacity=0.9)
            .encode(
                x="ts:T",
                y="rul_fused_h:Q",
                color=alt.Color(
                    "severity:N",
                    title="alert",
                    scale=alt.Scale(domain=["warning", "critical"], range=["#f2a900", "#d62728"]),
                ),
                tooltip=["ts:T", "severity", "probability", "rul_fused_h", "reason"],
            )
        )
    if failures.height:
        layers.append(
            alt.Chart(failures.to_pandas())
            .mark_rule(color="#d62728", strokeWidth=2)
            .encode(
                x="started_at:T",
                tooltip=["work_order", "started_at:T", "finished_at:T", "action", "notes"],
            )
        )
    return layers


session.guard("machine")
st.title("Machine detail")

machines: pl.DataFrame = session.query("machines")
if machines.is_empty():
    st.info("No machine is registered yet.")
    st.stop()
ids = machines["machine_id"].to_list()
wanted = st.query_params.get("machine")
machine_id = st.selectbox("Machine", ids, index=ids.index(wanted) if wanted in ids else 0)
st.query_params["machine"] = machine_id
machine = machines.row(by_predicate=pl.col("machine_id") == machine_id, named=True)
st.caption(
    f"{machine['machine_type']} · line {machine['line']} · gateway {machine['gateway']} · "
    f"installed {machine['installed']} · {'active' if machine['active'] else 'inactive'}"
)

levels: pl.DataFrame = session.query("twin_maturity")
mine = levels.filter(pl.col("machine_id") == machine_id)
if mine.is_empty():
    st.caption("Twin maturity: not judged yet (the `twin_maturity` asset has not run).")
else:
    row = mine.row(0, named=True)
    on_chain, chain_note = maturity_views.chain_levels(session.chain)
    chain_level = on_chain.get(machine_id)
    cols = st.columns(3)
    cols[0].metric("Twin maturity", f"{row['level']} · {row['level_name']}")
    cols[1].metric(
        "On chain (TwinRegistry)",
        str(chain_level) if chain_level is not None else "–",
        help=chain_note or "The level last recorded in the contract, with its evidence CID.",
    )
    cols[2].metric("Judged on", row["day"].isoformat())
    st.caption(f"Next: {maturity_views.next_step(row['evidence'])}")
    with st.expander("Maturity evidence"):
        st.dataframe(maturity_views.evidence_rows(row["evidence"]), hide_index=True)
        changes = session.query("twin_maturity_history", machine_id).filter(
            pl.col("level").ne_missing(pl.col("level").shift(1))
        )
        st.caption(
            "Days the level changed: "
            + ", ".join(
                f"{d:%Y-%m-%d} → {n}" for d, n in changes.select("day", "level").iter_rows()
            )
        )
        st.caption(f"evidence sha256 `{row['evidence_sha256']}`")
        st.json(row["evidence"], expanded=False)

history: pl.DataFrame = session.query("rul_history", [machine_id])
if history.height:
    latest = history.row(-1, named=True)
    cols = st.columns(4)
    cols[0].metric("RUL (fused)", f"{latest['rul_fused_h']:,.0f} h")
    cols[1].metric(
        "90 % interval", f"{latest['rul_fused_lo_h']:,.0f} – {latest['rul_fused_hi_h']:,.0f} h"
    )
    cols[2].metric(
        "physics / data",
        f"{latest['rul_physics_h']:,.0f} / "
        + (f"{latest['rul_ml_h']:,.0f} h" if latest["rul_ml_h"] is not None else "– h"),
    )
    cols[3].metric("basis", latest["basis"])
    long = history.unpivot(
        index="ts",
        on=["rul_fused_h", "rul_physics_h", "rul_ml_h"],
        variable_name="estimate",
        value_name="rul_h",
    ).drop_nulls("rul_h")
    band = (
        alt.Chart(history.to_pandas())
        .mark_area(opacity=0.15)
        .encode(x="ts:T", y="rul_fused_lo_h:Q", y2="rul_fused_hi_h:Q")
    )
    lines = (
        alt.Chart(long.to_pandas())
        .mark_line(point=True)
        .encode(
            x=alt.X("ts:T", title="time (UTC)"),
            y=alt.Y(
                "rul_h:Q",
                title="remaining useful life (h, log scale)",
                scale=alt.Scale(type="symlog"),
                axis=alt.Axis(
                    values=health_views.rul_ticks(history["rul_fused_hi_h"].max()), format=",d"
                ),
            ),
            color=alt.Color("estimate:N", title="estimate"),
            strokeDash=alt.condition(
                alt.datum.estimate == "rul_fused_h", alt.value([1, 0]), alt.value([4, 3])
            ),
        )
    )
    marks = rul_marks(
        session.query("alert_marks", machine_id), session.query("failure_marks", machine_id)
    )
    st.altair_chart(
        alt.layer(band, lines, *marks).resolve_scale(color="independent"), width="stretch"
    )
    st.caption(
        "Log scale, ticks at 1, 3, 10, 30, … h. Triangles: the first maintenance alert of each "
        "alert day, at the RUL it was raised at (orange warning, red critical). Red rules: "
        "failures, i.e. the start of each corrective work order in the maintenance log."
    )
else:
    st.caption("No prediction for this machine yet.")
st.page_link(
    "app_pages/live.py",
    label="Live state and commands",
    icon=":material/sensors:",
    query_params={"machine": machine_id},
)

st.subheader("Sensors")
sensors: pl.DataFrame = session.query("machine_sensors", machine["machine_type"])
today = dt.datetime.now(dt.UTC).date()
newest = max(session.query("prediction_days"), default=today)
picked = st.date_input(
    "Days (UTC)", value=(newest - dt.timedelta(days=6), newest), max_value=max(today, newest)
)
# while a range is being picked the widget holds only its first day
start, end = (picked[0], picked[-1]) if isinstance(picked, tuple) and picked else (newest, newest)
chosen = st.multiselect(
    "Sensors",
    sensors["sensor"].to_list(),
    default=health_sensors(machine["machine_type"], sensors["sensor"].to_list()),
    format_func=lambda s: (
        f"{s} ({sensors.row(by_predicate=pl.col('sensor') == s, named=True)['unit']})"
    ),
)
if chosen:
    hourly: pl.DataFrame = session.query("sensor_hourly", machine_id, chosen, start, end)
    if hourly.is_empty():
        st.caption("No readings in these days.")
    else:
        chart = (
            alt.Chart(hourly.to_pandas())
            .mark_line()
            .encode(
                x=alt.X("hour:T", title="hour (UTC)"),
                y=alt.Y("mean:Q", title="hourly mean"),
                row=alt.Row("sensor:N", title=None),
                tooltip=["hour:T", "sensor", "mean", "min", "max", "readings", "flagged"],
            )
            .properties(height=140)
            .resolve_scale(y="independent")
        )
        st.altair_chart(chart, width="stretch")
        flagged = int(hourly["flagged"].sum())
        st.caption(
            f"{int(hourly['readings'].sum()):,} readings, {flagged:,} flagged by the quality "
            "checks (spikes, stuck values; excluded from the means)."
        )

st.subheader("Physics damage of the component in service")
damage: pl.DataFrame = session.query("damage_history", machine_id)
if damage.is_empty():
    st.caption("No physics state yet.")
else:
    refits = health_views.law_changes(damage)
    lines = (
        alt.Chart(damage.to_pandas())
        .mark_line()
        .encode(
            x=alt.X("ts:T", title="time (UTC)"),
            y=alt.Y("damage:Q", title="damage D (failure at 1)"),
            color=alt.Color("stage:N"),
            # one line per component life and law: a refit starts a new segment, never a slope
            detail=["component_installed_at:T", "physics_version:N"],
            tooltip=["ts:T", "damage", "damage_rate_per_h", "stage", "physics_version"],
        )
    )
    layers = [lines]
    if refits.height:
        layers.append(
            alt.Chart(refits.to_pandas())
            .mark_rule(strokeDash=[4, 3], color="#7f7f7f")
            .encode(x="ts:T", tooltip=["ts:T", "before", "after"])
        )
    st.altair_chart(alt.layer(*layers), width="stretch")
    if refits.height:
        st.caption(
            f"The damage law was refitted {refits.height} time(s) during a component's life "
            "(dashed rules): each day is drawn as that day's law computed it, so the curve can "
            "step, even down, where the law changed; it is not the component healing."
        )
    else:
        st.caption("Each day as that day's damage law computed it.")

st.subheader("Work orders")
orders: pl.DataFrame = session.query("work_orders", machine_id)
if orders.is_empty():
    st.caption("No work order for this machine.")
else:
    st.dataframe(
        health_views.fill_text(orders),
        hide_index=True,
        column_config={
            "started_at": st.column_config.DatetimeColumn("started (UTC)"),
            "finished_at": st.column_config.DatetimeColumn("finished (UTC)"),
            "notes": st.column_config.TextColumn("notes", width="large"),
        },
    )
