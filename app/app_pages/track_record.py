"""The track record (MANAGER, AUDITOR, SUPPLIER): how every model version's past predictions
turned out once the maintenance log closed the component lives they were made in — calibration
(nominal vs observed interval coverage), RUL error by lead time, alert lead times and false
alarms. The same figures come from `dt-platform track-record`, and `--verify` recomputes them
from the anchored records."""

import altair as alt
import polars as pl
import streamlit as st

from app import session

session.guard("track_record")
st.title("Track record")
st.write(
    "When the maintenance log ends a component's life (a failure, or a planned replacement), "
    "every prediction made during that life is scored against it. The scores and this summary "
    "go into that day's anchored snapshot: run `dt-platform track-record --verify` to recompute "
    "them from the anchored records."
)

summary: pl.DataFrame = session.query("track_record_summary")
if summary.is_empty():
    st.info(
        "No track record yet: no component life has closed in the maintenance log since "
        "predictions began."
    )
    st.stop()

summary = summary.with_columns(
    (pl.col("model_version").str.slice(0, 12) + " · " + pl.col("machine_type")).alias("model")
)
overall = summary.filter(pl.col("lead_band") == "all")
bands = summary.filter(pl.col("lead_band") != "all")
st.caption(f"Published {summary['day'][0]:%Y-%m-%d}, over every life closed up to that day.")

cols = st.columns(4)
cols[0].metric("Lives closed", f"{int(overall['lives'].sum()):,}")
cols[1].metric("Predictions scored against a failure", f"{int(overall['predictions'].sum()):,}")
cols[2].metric(
    "Failures warned", f"{int(overall['warned'].sum())} of {int(overall['failures'].sum())}"
)
scored = int(overall["predictions"].sum())
inside = int(overall["inside_90"].sum())
cols[3].metric(
    "90 % interval coverage", f"{inside / scored:.0%}" if scored else "n/a",
    help="Share of true RULs inside the predicted 90 % interval, over every failed life.",
)  # fmt: skip

st.subheader("Calibration")
st.caption(
    "Nominal vs observed coverage of the central 50, 80 and 90 % intervals, per model version "
    "and type (from each prediction's split normal through its 5 %, 50 % and 95 % points). "
    "On the diagonal: calibrated; below it: intervals too narrow."
)
calibration = (
    overall.filter(pl.col("predictions") > 0)
    .unpivot(
        index=["model", "predictions"],
        on=["coverage_50", "coverage_80", "coverage_90"],
        variable_name="nominal",
        value_name="observed",
    )
    .with_columns(pl.col("nominal").str.slice(9).cast(pl.Float64) / 100.0)
)
if calibration.is_empty():
    st.info("No failure has closed a life yet: only censored (replaced) lives, no coverage.")
else:
    diagonal = (
        alt.Chart(pl.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="x", y="y")
    )
    points = alt.Chart(calibration).mark_line(point=True).encode(
        x=alt.X("nominal:Q", title="nominal coverage", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        y=alt.Y("observed:Q", title="observed coverage", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=alt.Color("model:N", title="model · type"),
        tooltip=["model", "nominal", alt.Tooltip("observed:Q", format=".1%"), "predictions"],
    )  # fmt: skip
    st.altair_chart(diagonal + points, width="stretch")

st.subheader("Error by lead time")
st.caption(
    "RMSE and bias (predicted − true, hours) of the RUL by how far ahead of the failure the "
    "prediction was made; a positive bias predicts failures later than they came."
)
errors = bands.filter(pl.col("predictions") > 0)
if not errors.is_empty():
    order = ["0-24", "24-72", "72-168", "168-336", "336+"]
    chart = alt.Chart(errors).mark_bar().encode(
        x=alt.X("lead_band:N", sort=order, title="hours before the failure"),
        xOffset="model:N",
        y=alt.Y("rmse_h:Q", title="RMSE (h)"),
        color=alt.Color("model:N", title="model · type"),
        tooltip=["model", "lead_band", "predictions",
                 alt.Tooltip("rmse_h:Q", format=",.1f"), alt.Tooltip("bias_h:Q", format="+,.1f"),
                 alt.Tooltip("coverage_90:Q", format=".0%")],
    )  # fmt: skip
    st.altair_chart(chart, width="stretch")
st.dataframe(
    bands.select(
        "model_version", "machine_type", "lead_band", "predictions", "rmse_h", "bias_h",
        "mae_h", "coverage_90", "below_lower", "above_upper", "censored_predictions",
        "censored_above_upper",
    ),
    hide_index=True,
    column_config={
        "rmse_h": st.column_config.NumberColumn("RMSE h", format="%,.1f"),
        "bias_h": st.column_config.NumberColumn("bias h", format="%+,.1f"),
        "mae_h": st.column_config.NumberColumn("MAE h", format="%,.1f"),
        "coverage_90": st.column_config.NumberColumn("90 % coverage", format="percent"),
        "censored_above_upper": st.column_config.NumberColumn(
            "censored: outlived upper bound",
            help="Planned replacements: the component outlived the upper bound for certain.",
        ),
    },
)  # fmt: skip

st.subheader("Alerts")
st.caption(
    "Lead time: from the first alert of the episode that reached the failure. A false alarm is "
    "an alert episode not followed by a failure within the alert horizon; open ones ended with "
    "a planned replacement before the horizon ran out."
)
st.dataframe(
    overall.select(
        "model_version", "machine_type", "failures", "warned", "mean_lead_h", "median_lead_h",
        "episodes_true", "episodes_false", "episodes_open", "false_alarm_share",
    ),
    hide_index=True,
    column_config={
        "mean_lead_h": st.column_config.NumberColumn("mean lead h", format="%,.1f"),
        "median_lead_h": st.column_config.NumberColumn("median lead h", format="%,.1f"),
        "false_alarm_share": st.column_config.NumberColumn("false alarms", format="percent"),
    },
)  # fmt: skip

st.subheader("Closed lives")
lives: pl.DataFrame = session.query("track_record_lives")
st.dataframe(
    lives,
    hide_index=True,
    column_config={
        "closed": st.column_config.DateColumn("closed"),
        "coverage_90": st.column_config.NumberColumn("90 % coverage", format="percent"),
    },
)
