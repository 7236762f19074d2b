"""Prognostics per UTC day: the physics state, the hourly ML features, the fused RUL predictions
and the maintenance alerts, each with the checks that hold it to account.

Per-day work stays proportional to a day: the physics Monte-Carlo runs for that day's hours only,
the hourly features of earlier days are read back from ``ml_features`` rather than recomputed,
and the damage history is loaded once per day, in ``physics_state``. The models they use are
the assets of ``assets/models.py``.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.common import WRITER_POOL, frame_table
from assets.models import FLEET_CONFIG, GROUP, physics_model, rul_model
from assets.partitions import daily_partitions, day_bounds
from assets.resources import ModelStoreResource, WarehouseResource
from dt_platform.phm import alerts as alerts_mod
from dt_platform.phm import fleet, tables
from dt_platform.phm.damage import physics_state as physics_state_at
from dt_platform.phm.episodes import load_history

LOOKBACK_DAYS = 90
"""How far back the features of a component life are read (lives last 3-6 weeks)."""
ALERT_RULE = alerts_mod.AlertRule()


def load_rul_model(models: ModelStoreResource, entry: fleet.RegistryEntry) -> fleet.FleetModel:
    """The registered bundle, checked against its content hash before use."""
    try:
        return fleet.load_bundle(models.models_dir, entry.path, entry.version)
    except fleet.ModelStoreError as exc:
        raise dg.Failure(description=str(exc)) from exc


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "python"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["telemetry", "physics_model"],
    description="Per machine at the end of the day: damage, damage rate and physics RUL with a "
    "90 % interval; hourly trajectory of the day.",
)
def physics_state(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    day, start, end = day_bounds(context.partition_key)
    with warehouse.read() as con:
        physics = fleet.latest_physics(con, as_of=end)
        history = load_history(con, end) if physics is not None else None
    if physics is None or history is None:
        with warehouse.write() as con:
            tables.replace_day(con, "physics_state", day, pl.DataFrame())
            tables.replace_day(con, "physics_trajectory", day, pl.DataFrame())
        return dg.MaterializeResult(metadata={"status": "no physics model yet", "machines": 0})
    entry, fitted = physics
    state = physics_state_at(history, fitted, end).rename({"as_of": "ts"})
    state = state.with_columns(pl.lit(entry.version).alias("physics_version"))
    hourly = fleet.physics_hourly(history, fitted, start).with_columns(
        pl.lit(entry.version).alias("physics_version")
    )
    with warehouse.write() as con:
        n_state = tables.replace_day(con, "physics_state", day, state)
        n_hourly = tables.replace_day(con, "physics_trajectory", day, hourly)
    preview = state.select(
        "machine_id",
        "damage",
        "rul_physics_h",
        "rul_physics_lo_h",
        "rul_physics_hi_h",
        "stage",
        "dominant_stress",
    )
    return dg.MaterializeResult(
        metadata={
            "machines": dg.MetadataValue.int(n_state),
            "with_rul": dg.MetadataValue.int(int(state["rul_physics_h"].is_not_null().sum())),
            "hourly_rows": dg.MetadataValue.int(n_hourly),
            "physics_version": entry.version,
            "preview": frame_table(preview),
        }
    )


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "polars"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["telemetry", "physics_state"],
    description="Hourly per machine: operating means of every sensor, utilization and the "
    "physics damage/RUL trajectory — the data branch's input.",
)
def ml_features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    day, start, end = day_bounds(context.partition_key)
    with warehouse.read() as con:
        signals = fleet.hourly_signals(con, end, since=start)
        physics = tables.read_day(con, "physics_trajectory", day)
    base = fleet.assemble_base(signals, physics, end=end, start=start)
    version = physics["physics_version"].drop_nulls()
    base = base.with_columns(
        pl.lit(version[0] if version.len() else None, dtype=pl.String).alias("physics_version")
    )
    with warehouse.write() as con:
        rows = tables.replace_day(con, "ml_features", day, base)
    operating = base.filter(pl.col("op_fraction") > 0)
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "machines": dg.MetadataValue.int(base["machine_id"].n_unique()),
            "operating_hours": dg.MetadataValue.int(operating.height),
            "hours_with_physics": dg.MetadataValue.int(
                int(base["rul_physics_h"].is_not_null().sum())
            ),
            "preview": frame_table(
                base.filter(pl.col("ts") == end).select(
                    "machine_id", "op_fraction", "n_readings", "damage", "rul_physics_h"
                )
            ),
        }
    )


@dg.asset(
    group_name=GROUP,
    kinds={"xgboost", "duckdb"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["ml_features", "physics_state", "rul_model"],
    description="Per machine at the end of the day: physics, ML and fused RUL in hours, each "
    "with a 90 % interval, and the model version.",
    check_specs=[
        dg.AssetCheckSpec(
            "predictions_cover_active_machines",
            asset="rul_predictions",
            description="Every active simulated machine with telemetry that day has a prediction "
            "row, with a fused RUL or a note saying why not.",
        ),
        dg.AssetCheckSpec(
            "intervals_ordered_non_negative",
            asset="rul_predictions",
            description="0 <= lower <= estimate <= upper for the physics, ML and fused RUL.",
        ),
        dg.AssetCheckSpec(
            "model_version_is_latest",
            asset="rul_predictions",
            description="Predictions were made with the latest rul_model registered on data up "
            "to the end of the day (a re-materialized day never uses a model that saw its future).",
        ),
    ],
)
def rul_predictions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, models: ModelStoreResource
):
    day, _start, end = day_bounds(context.partition_key)
    with warehouse.read() as con:
        entry = fleet.latest_model(con, "rul", as_of=end)
        physics = fleet.latest_model(con, "physics", as_of=end)
        active = fleet.active_machines(con, day)
        today = tables.read_day(con, "ml_features", day)
        state = tables.read_day(con, "physics_state", day)
        lookback = (
            tables.read_days(con, "ml_features", day - dt.timedelta(days=LOOKBACK_DAYS), day)
            if entry is not None
            else None
        )
        # a component being replaced reads 0 h whatever its type (the physics branch marks
        # only the types it has a law for): each predictor's input is marked at ``end``
        repairing = fleet.under_repair(con, end)
    asof = today.filter(pl.col("ts") == end)
    note = state.select("machine_id", "note")
    gaps: dict[str, int] = {}
    if entry is not None and lookback is not None and not asof.is_empty():
        model = load_rul_model(models, entry)
        lives = fleet.current_lives(lookback, asof).drop("day", "physics_version")
        lives = fleet.mark_repairs(lives, repairing, end)
        gaps = fleet.feature_gaps(lives, end)
        if gaps:
            context.log.warning(
                f"hours of the current lives missing from ml_features (earlier days not "
                f"materialized): {gaps}; their rolling features see less history"
            )
        predicted = model.predict(lives).filter(pl.col("ts") == end)
        model_version = entry.version
    else:
        predicted = fleet.combine_branches(
            fleet.mark_repairs(asof.drop("day", "physics_version"), repairing, end),
            None,
            FLEET_CONFIG.physics_clip_h,
        )
        model_version = None
    predicted = predicted.join(note, on="machine_id", how="left").with_columns(
        pl.lit(model_version, dtype=pl.String).alias("model_version"),
        pl.lit(physics.version if physics else None, dtype=pl.String).alias("physics_version"),
        fleet.prediction_note(model_version, FLEET_CONFIG).alias("note"),
    )
    with warehouse.write() as con:
        rows = tables.replace_day(con, "rul_predictions", day, predicted)
    yield dg.MaterializeResult(metadata=_predictions_metadata(predicted, rows, model_version, gaps))
    yield from _prediction_checks(predicted, active, entry)


def _predictions_metadata(
    predicted: pl.DataFrame, rows: int, model_version: str | None, gaps: dict[str, int]
) -> dict:
    return {
        "rows": dg.MetadataValue.int(rows),
        "model_version": model_version or "none (physics only)",
        "feature_hours_missing": dg.MetadataValue.json(gaps),
        "by_basis": dg.MetadataValue.json(
            {str(k): int(v) for k, v in predicted["basis"].value_counts().iter_rows()}
        ),
        "preview": frame_table(
            predicted.select(
                "machine_id",
                "rul_fused_h",
                "rul_fused_lo_h",
                "rul_fused_hi_h",
                "rul_physics_h",
                "rul_ml_h",
                "w_physics",
                "basis",
            )
        ),
    }


def _prediction_checks(
    predicted: pl.DataFrame, active: pl.DataFrame, entry: fleet.RegistryEntry | None
) -> Iterator[dg.AssetCheckResult]:
    missing = sorted(set(active["machine_id"]) - set(predicted["machine_id"]))
    unexplained = predicted.filter(pl.col("rul_fused_h").is_null() & pl.col("note").is_null())
    yield dg.AssetCheckResult(
        check_name="predictions_cover_active_machines",
        passed=not missing and unexplained.is_empty(),
        metadata={
            "active_machines": dg.MetadataValue.int(active.height),
            "missing": dg.MetadataValue.json(missing),
            "without_value_or_note": dg.MetadataValue.json(unexplained["machine_id"].to_list()),
        },
    )
    bad = fleet.interval_violations(predicted)
    yield dg.AssetCheckResult(
        check_name="intervals_ordered_non_negative",
        passed=bad.is_empty(),
        metadata={"violations": frame_table(bad)},
    )
    used = set(predicted["model_version"].drop_nulls().to_list())
    expected = {entry.version} if entry is not None and not predicted.is_empty() else set()
    yield dg.AssetCheckResult(
        check_name="model_version_is_latest",
        passed=used == expected,
        metadata={
            "latest": entry.version if entry else "none",
            "used": dg.MetadataValue.json(sorted(used)),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"duckdb", "python"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["rul_predictions", "physics_state", "ml_features"],
    description="Machines likely to fail soon by the RUL model's alert rule (chosen by expected "
    f"cost at training; P(RUL <= {ALERT_RULE.horizon_h:g} h) >= {ALERT_RULE.threshold:g} without "
    "a model), with the branch, sensor trend and stress behind it; where the model has no physics "
    "for a type (never seen to fail), a health sensor trending to its failure limit within "
    f"{alerts_mod.LIMIT_ALERT_H:g} h alerts too.",
)
def maintenance_alerts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, models: ModelStoreResource
) -> dg.MaterializeResult:
    day, _start, end = day_bounds(context.partition_key)
    with warehouse.read() as con:
        predictions = tables.read_day(con, "rul_predictions", day)
        state = tables.read_day(con, "physics_state", day)
        history = tables.read_days(con, "ml_features", day - dt.timedelta(days=LOOKBACK_DAYS), day)
        entry = fleet.latest_model(con, "rul", as_of=end)
    lives = fleet.current_lives(history, predictions.select("machine_id", "component_installed_at"))
    lives = lives.filter(pl.col("ts") <= end)
    trends = fleet.sensor_trends(lives)
    projection = fleet.latest_projection(lives).select("machine_id", *alerts_mod.LIMIT_CONTEXT)
    context_frame = (
        state.select("machine_id", "dominant_stress")
        .join(trends, on="machine_id", how="full", coalesce=True)
        .join(projection, on="machine_id", how="full", coalesce=True)
    )
    used = set(predictions["model_version"].drop_nulls().to_list())
    model = load_rul_model(models, entry) if entry is not None and used == {entry.version} else None
    rule, timeline = fleet.alert_timeline(
        model, predictions, lives.drop("day", "physics_version", strict=False), end
    )
    evaluated = alerts_mod.evaluate_alerts(timeline, rule, context=context_frame).filter(
        pl.col("ts") == end
    )
    raised = evaluated.filter(pl.col("alert")).drop("alert")
    versions = predictions.select("machine_id", "model_version")
    raised = raised.join(versions, on="machine_id", how="left")
    with warehouse.write() as con:
        rows = tables.replace_day(con, "maintenance_alerts", day, raised)
    return dg.MaterializeResult(
        metadata={
            "alerts": dg.MetadataValue.int(rows),
            "critical": dg.MetadataValue.int(int((raised["severity"] == "critical").sum())),
            "sensor_limit_alerts": dg.MetadataValue.int(
                int((raised["driver"] == "sensor_limit").sum())
            ),
            "machines_evaluated": dg.MetadataValue.int(evaluated.height),
            "horizon_h": dg.MetadataValue.float(rule.horizon_h),
            "threshold": dg.MetadataValue.float(rule.threshold),
            "alert_rule": dg.MetadataValue.json(
                {**rule.to_dict(), "source": "rul model" if model is not None else "default"}
            ),
            "alerts_table": frame_table(
                raised.select("machine_id", "probability", "severity", "driver", "reason")
            ),
        }
    )


PROGNOSTICS_ASSETS = [
    physics_model,
    rul_model,
    physics_state,
    ml_features,
    rul_predictions,
    maintenance_alerts,
]
