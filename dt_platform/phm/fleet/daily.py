"""What a day's predictions and alerts need around the model: the machines to cover, the rows of
each component life in service, the hours missing from them, the note that says what a
prediction rests on, the check that its intervals are ordered, and the alert timeline the
model's rule runs over."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from dt_platform.catalog import SIMULATED_TYPES
from dt_platform.phm.alerts import AlertRule
from dt_platform.phm.fleet.config import FleetConfig
from dt_platform.phm.fleet.model import FleetModel


def active_machines(con: duckdb.DuckDBPyConnection, day: dt.date) -> pl.DataFrame:
    """Active machines of a simulated type with telemetry on ``day`` (``machine_id,
    machine_type``): the machines a day's predictions must cover."""
    return con.execute(
        "SELECT DISTINCT t.machine_id, t.machine_type FROM telemetry t "
        "JOIN machines m ON m.machine_id = t.machine_id AND m.active "
        "WHERE t.day = ? AND t.machine_type IN (SELECT unnest(?)) ORDER BY 1",
        [day, list(SIMULATED_TYPES)],
    ).pl()


def current_lives(history: pl.DataFrame, asof: pl.DataFrame) -> pl.DataFrame:
    """Rows of each machine's life in service at the as-of row (same install time)."""
    keys = asof.select("machine_id", pl.col("component_installed_at").alias("_installed"))
    return (
        history.join(keys, on="machine_id", how="inner")
        .filter(
            (pl.col("component_installed_at") == pl.col("_installed"))
            | (pl.col("component_installed_at").is_null() & pl.col("_installed").is_null())
        )
        .drop("_installed")
    )


def feature_gaps(lives: pl.DataFrame, end: dt.datetime) -> dict[str, int]:
    """Per machine, hours of its current life absent from ml_features between its first stored
    hour and the end of the day (a day in between that was not materialized)."""
    out = {}
    for (machine_id,), part in lives.group_by("machine_id"):
        since = part["ts"].min() - dt.timedelta(hours=1)
        expected = int((end - since).total_seconds() // 3600)
        missing = expected - part.height
        if missing > 1:
            out[str(machine_id)] = missing
    return dict(sorted(out.items()))


def prediction_note(model_version: str | None, config: FleetConfig) -> pl.Expr:
    """The ``note`` of a prediction row: the physics state's note (column ``note``), completed
    with what the fused value rests on when that is not plain fusion. ``model_version`` is the
    RUL model used, None when there is none yet."""
    return (
        pl.when(pl.col("basis") == "none")
        .then(pl.coalesce(pl.col("note"), pl.lit("no physics law fitted and no RUL model yet")))
        .when(pl.col("basis") == "failed")
        .then(pl.coalesce(pl.col("note"), pl.lit("failed: a corrective work order is open")))
        .when(pl.col("basis").is_in(["ml_fallback", "physics_fallback"]))
        .then(
            pl.coalesce(pl.col("note") + pl.lit("; "), pl.lit(""))
            + pl.when(pl.col("basis") == "ml_fallback")
            .then(pl.lit("data branch alone"))
            .otherwise(pl.lit("physics branch alone"))
            + pl.lit(
                ": for this machine type it beat the fusion on the training fleet's held-out "
                "machines"
            )
        )
        .when(pl.col("basis") == "physics_stage")
        .then(
            pl.coalesce(pl.col("note") + pl.lit("; "), pl.lit(""))
            + pl.lit("physics branch alone: it tracks the fault it has detected")
        )
        .when(pl.col("basis") == "physics_only")
        .then(
            pl.coalesce(pl.col("note") + pl.lit("; "), pl.lit(""))
            + pl.lit(
                "physics only: no RUL model registered yet"
                if model_version is None
                else "physics only: no ML estimate for this row"
            )
        )
        .when((pl.col("basis") == "fused") & (pl.col("rul_ml_h") >= 0.95 * config.cap_h))
        .then(
            pl.coalesce(pl.col("note") + pl.lit("; "), pl.lit(""))
            + pl.lit(
                f"beyond the {config.horizon_h:g} h horizon: the data show no wear yet and "
                "the fused RUL (fitted on failures within the horizon) is a lower estimate"
            )
        )
        .otherwise(pl.col("note"))
    )


def interval_violations(predictions: pl.DataFrame) -> pl.DataFrame:
    """Rows where some branch breaks 0 <= lo <= estimate <= hi (an open hi is allowed)."""
    problems = []
    for prefix in ("physics", "ml", "fused"):
        point, lo, hi = (pl.col(f"rul_{prefix}{s}_h") for s in ("", "_lo", "_hi"))
        bad = point.is_not_null() & (
            lo.is_null() | (lo < 0) | (lo > point + 1e-9) | (hi.is_not_null() & (hi < point - 1e-9))
        )
        problems.append(
            predictions.filter(bad).select(
                "machine_id",
                pl.lit(prefix).alias("branch"),
                lo.alias("lo"),
                point.alias("estimate"),
                hi.alias("hi"),
            )
        )
    return pl.concat(problems)


def alert_timeline(
    model: FleetModel | None, predictions: pl.DataFrame, lives: pl.DataFrame, end: dt.datetime
) -> tuple[AlertRule, pl.DataFrame]:
    """The alert rule of a day and the prediction timeline it runs over.

    With a RUL model: its rule (chosen by expected cost at training; the default
    :class:`AlertRule` for an older bundle) over each current life's hourly predictions before
    ``end`` (``lives``: their ``ml_features`` rows), followed by the day's stored
    ``predictions`` at ``end`` — smoothing and hysteresis need the hours before. Without one:
    the default rule on the day's rows. Keep the rows at ``end`` of the evaluated timeline.
    """
    day_rows = predictions.drop("day", strict=False)
    if model is None:
        return AlertRule(), day_rows
    rule = model.alert_rule or AlertRule()
    earlier = lives.filter(pl.col("ts") < end)
    if earlier.is_empty() or (rule.smoothing_h <= 1.0 and rule.release in (None, rule.threshold)):
        return rule, day_rows
    before = model.predict(earlier)
    return rule, pl.concat([before, day_rows.select(before.columns)], how="vertical_relaxed")


def under_repair(con: duckdb.DuckDBPyConnection, at: dt.datetime) -> list[str]:
    """Machines with a corrective work order open until ``at`` (started before it, not finished
    before it): their component has failed. The row at ``at`` describes the hour before it, so a
    repair finished exactly at ``at`` still counts; its replacement starts with the next row.
    The physics branch marks such hours ``failed`` for the types it has a law for (from the
    loaded history); for a type without one, and for a day's predictions whatever the type, this
    is what says so (:func:`mark_repairs`)."""
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT machine_id FROM maintenance_log WHERE kind = 'corrective' "
            "AND started_at < $at AND (finished_at IS NULL OR finished_at >= $at) ORDER BY 1",
            {"at": at},
        ).fetchall()
    ]


def mark_repairs(timeline: pl.DataFrame, machines: list[str], at: dt.datetime) -> pl.DataFrame:
    """``timeline`` with the rows at ``at`` of ``machines`` (:func:`under_repair`) in stage
    ``failed``: the RUL model then reads them 0 h (basis ``failed``), raises no alert and the
    decisions leave them to the repair under way."""
    repairing = pl.col("machine_id").is_in(machines) & (pl.col("ts") == at)
    if "stage" not in timeline.columns:
        timeline = timeline.with_columns(pl.lit(None, dtype=pl.String()).alias("stage"))
    return timeline.with_columns(
        pl.when(repairing).then(pl.lit("failed")).otherwise(pl.col("stage")).alias("stage")
    )
