"""Prognostics: the fitted damage laws and the RUL model (unpartitioned), and per UTC day the
physics state, the hourly ML features, the fused RUL predictions and the maintenance alerts.

The two models refresh themselves by policy (:class:`~dt_platform.phm.fleet.RetrainPolicy`):
on a daily run they are refitted only when the maintenance log holds new failures or the data
have moved far past them, otherwise the registered version is reused at the cost of a query.
That is why they sit in the daily job: every day's predictions have a model, and a model is
never older than its policy allows. ``prognostics_models_job`` refits them on demand
(``force: true`` in the run config).

Per-day work stays proportional to a day: the physics Monte-Carlo runs for that day's hours only,
the hourly features of earlier days are read back from ``ml_features`` rather than recomputed,
and the damage history is loaded once per day, in ``physics_state``.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.common import WRITER_POOL, frame_table
from assets.partitions import daily_partitions, day_bounds
from assets.resources import ModelStoreResource, WarehouseResource
from dt_platform.phm import alerts as alerts_mod
from dt_platform.phm import fleet, tables
from dt_platform.phm.damage import physics_state as physics_state_at
from dt_platform.phm.episodes import load_history
from dt_platform.phm.fitting import FleetPhysics

GROUP = "prognostics"
LOOKBACK_DAYS = 90
"""How far back the features of a component life are read (lives last 3-6 weeks)."""
ALERT_RULE = alerts_mod.AlertRule()
FLEET_CONFIG = fleet.FleetConfig()


class ModelRefreshConfig(dg.Config):
    """Run config of the model assets."""

    force: bool = False
    """Refit even if the retrain policy would keep the registered model."""


def _run_day_end(context: dg.AssetExecutionContext) -> dt.datetime | None:
    """End of the day whose run this is (the daily job carries its partition as a run tag), or
    None for a run of its own (``prognostics_models_job``): then the models learn from all data.

    Bounding training by the run's day keeps a backfill honest: replaying history day by day
    gives each day the model the platform would have had then, never one trained on the
    failures that came after it."""
    key = context.run.tags.get("dagster/partition")
    if not key:
        return None
    try:
        return day_bounds(key)[2]
    except ValueError:
        return None


def load_rul_model(models: ModelStoreResource, entry: fleet.RegistryEntry) -> fleet.FleetModel:
    """The registered bundle, checked against its content hash before use."""
    try:
        return fleet.load_bundle(models.models_dir, entry.path, entry.version)
    except fleet.ModelStoreError as exc:
        raise dg.Failure(description=str(exc)) from exc


# --- unpartitioned: the models ------------------------------------------------------------------


def _physics_table(fitted: FleetPhysics) -> dg.MetadataValue:
    rows = []
    for mtype, fit in sorted(fitted.types.items()):
        for name, p in fit.params.items():
            if p.status == "derived" and name not in ("eta", "sigma"):
                continue
            ci = (
                f"[{p.ci_low:.4g}, {p.ci_high:.4g}]"
                if p.ci_low is not None and p.ci_high is not None
                else ""
            )
            rows.append(
                (
                    mtype,
                    "yes" if fit.usable else "no",
                    f"{fit.n_failures}/{fit.n_censored}",
                    name,
                    f"{p.value:.4g}",
                    ci,
                    {"fitted": "fitted", "prior": "held (prior)", "derived": "derived"}.get(
                        p.status, p.status
                    ),
                )
            )
    frame = pl.DataFrame(
        rows,
        schema=["type", "usable", "failures/censored", "parameter", "value", "95 % CI", "status"],
        orient="row",
    )
    return frame_table(frame, limit=60)


def _physics_metadata(
    fitted: FleetPhysics, entry: fleet.RegistryEntry, status: str, reason: str
) -> dict:
    return {
        "status": status,
        "reason": reason,
        "version": entry.version,
        "trained_until": entry.trained_until.isoformat(),
        "failures_known": dg.MetadataValue.int(int(entry.failures_known or 0)),
        "parameters": _physics_table(fitted),
        "decisions": dg.MetadataValue.json(
            {t: f.decisions for t, f in sorted(fitted.types.items())}
        ),
    }


@dg.asset(
    group_name=GROUP,
    kinds={"statsmodels", "duckdb"},
    pool=WRITER_POOL,
    deps=["telemetry", "maintenance_log", "machine_registry"],
    description="Damage-law parameters per machine type, fitted on run-to-failure history with CIs.",
)
def physics_model(
    context: dg.AssetExecutionContext, config: ModelRefreshConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    day_end = _run_day_end(context)
    with warehouse.read() as con:
        until = fleet.data_until(con, before=day_end)
        if until is None:
            return dg.MaterializeResult(
                metadata={"status": "no model", "reason": "no telemetry of a simulated type yet"}
            )
        failures = fleet.failures_known(con, until)
        latest = fleet.latest_model(con, "physics", as_of=day_end)
        reason = fleet.retrain_reason(latest, until=until, failures=failures, force=config.force)
        if reason is None and latest is not None and latest.payload:
            kept = FleetPhysics.from_json(latest.payload)
            return dg.MaterializeResult(
                metadata=_physics_metadata(
                    kept, latest, "reused", "retrain policy: no new failures, model recent"
                )
            )
        history = load_history(con, until)
    context.log.info(f"fitting damage laws on history until {until:%Y-%m-%d %H:%M}: {reason}")
    fitted = fleet.fit_fleet_robust(history)
    entry = fleet.physics_entry(
        fitted,
        until=until,
        failures=failures,
        failed_lives_with_data=fleet.failed_lives_with_data(history),
    )
    with warehouse.write() as con:
        fleet.register_model(con, entry)
    meta = _physics_metadata(fitted, entry, "trained", reason or "")
    meta["problems"] = dg.MetadataValue.json(history.problems)
    return dg.MaterializeResult(metadata=meta)


def _cv_metadata(model_cv: dict) -> dict:
    fusion = (model_cv.get("fusion") or {}).get("*", {})
    per_type = model_cv.get("per_type") or {}
    rows = [
        (t, v.get("rows"), v.get("rmse_physics"), v.get("rmse_ml")) for t, v in per_type.items()
    ]
    return {
        "cv_rmse_physics_h": dg.MetadataValue.float(float(fusion.get("rmse_physics") or 0.0)),
        "cv_rmse_ml_h": dg.MetadataValue.float(float(fusion.get("rmse_ml") or 0.0)),
        "cv_rmse_fused_h": dg.MetadataValue.float(float(fusion.get("rmse_fused") or 0.0)),
        "cv_coverage_fused": dg.MetadataValue.float(float(fusion.get("coverage") or 0.0)),
        "cv_coverage_ml_capped": dg.MetadataValue.float(
            float(model_cv.get("coverage_ml_capped") or 0.0)
        ),
        "cv_per_type": frame_table(
            pl.DataFrame(rows, schema=["type", "rows", "rmse_physics_h", "rmse_ml_h"], orient="row")
        ),
        "cv_rows": dg.MetadataValue.int(int(model_cv.get("rows_fusion") or 0)),
        "failed_lives": dg.MetadataValue.int(int(model_cv.get("failed_lives") or 0)),
    }


@dg.asset(
    group_name=GROUP,
    kinds={"xgboost", "duckdb"},
    pool=WRITER_POOL,
    deps=["physics_model"],
    description="XGBoost RUL model with conformal interval and the physics/data fuser, "
    "versioned by the sha256 of its bytes.",
    check_specs=[
        dg.AssetCheckSpec(
            "rul_model_trained",
            asset="rul_model",
            description="A data-branch model is registered (warns while the history holds too "
            "few failures: predictions then rest on the physics alone).",
        )
    ],
)
def rul_model(
    context: dg.AssetExecutionContext,
    config: ModelRefreshConfig,
    warehouse: WarehouseResource,
    models: ModelStoreResource,
):
    day_end = _run_day_end(context)
    with warehouse.read() as con:
        physics = fleet.latest_physics(con, as_of=day_end)
        latest = fleet.latest_model(con, "rul", as_of=day_end)
        if physics is None:
            yield dg.MaterializeResult(
                metadata={"status": "no model", "reason": "no physics model"}
            )
            yield _rul_model_check(detail="no physics model registered yet")
            return
        entry, fitted = physics
        reason = fleet.rul_retrain_reason(
            latest, physics_version=entry.version, models=models.models_dir, force=config.force
        )
        if reason is None and latest is not None:
            yield dg.MaterializeResult(
                metadata={
                    "status": "reused",
                    "reason": "trained on the current damage laws",
                    "version": latest.version,
                    "path": dg.MetadataValue.path(
                        str(fleet.bundle_path(models.models_dir, latest.path))
                    ),
                    **_cv_metadata(latest.metrics),
                }
            )
            yield _rul_model_check(version=latest.version)
            return
        known = int(entry.failures_known or 0)
        with_data = int(entry.metrics.get("failed_lives_with_data", known))
        if with_data < FLEET_CONFIG.min_failed_lives:
            history = signals = None
        else:
            history = load_history(con, entry.trained_until)
            signals = fleet.hourly_signals(con, entry.trained_until)
    try:
        if history is None or signals is None:
            raise fleet.InsufficientHistory(
                f"the history holds {with_data} failure(s) after the first telemetry of their "
                f"machine; the data branch needs {FLEET_CONFIG.min_failed_lives} run-to-failure "
                "lives. Until then predictions rest on the physics alone."
            )
        context.log.info(f"training the RUL model: {reason}")
        model = fleet.train_fleet_model(history, signals, fitted, FLEET_CONFIG)
    except fleet.InsufficientHistory as exc:
        yield dg.MaterializeResult(
            metadata={"status": "not trained", "reason": str(exc), "physics_version": entry.version}
        )
        yield _rul_model_check(detail=str(exc))
        return
    stored = fleet.save_bundle(models.models_dir, model)
    registry_entry = fleet.rul_entry(stored, entry, model.cv)
    with warehouse.write() as con:
        fleet.register_model(con, registry_entry)
    yield dg.MaterializeResult(
        metadata={
            "status": "trained",
            "reason": reason or "",
            "version": stored.version,
            "path": dg.MetadataValue.path(str(stored.path)),
            "bytes": dg.MetadataValue.int(stored.size),
            "features": dg.MetadataValue.int(len(model.featurizer.columns)),
            "physics_version": entry.version,
            **_cv_metadata(model.cv),
        }
    )
    yield _rul_model_check(version=stored.version)


def _rul_model_check(*, version: str | None = None, detail: str = "") -> dg.AssetCheckResult:
    """``rul_model_trained``: passed with the registered version, else a warning saying why."""
    if version is not None:
        return dg.AssetCheckResult(
            check_name="rul_model_trained", passed=True, metadata={"version": version}
        )
    return dg.AssetCheckResult(
        check_name="rul_model_trained",
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"detail": detail},
    )


prognostics_models_job = dg.define_asset_job(
    "prognostics_models_job",
    selection=dg.AssetSelection.assets("physics_model", "rul_model"),
    description="Refit the damage laws and the RUL model (set force: true to bypass the policy).",
)


# --- daily partitions ---------------------------------------------------------------------------


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
    asof = today.filter(pl.col("ts") == end)
    note = state.select("machine_id", "note")
    gaps: dict[str, int] = {}
    if entry is not None and lookback is not None and not asof.is_empty():
        model = load_rul_model(models, entry)
        lives = fleet.current_lives(lookback, asof).drop("day", "physics_version")
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
            asof.drop("day", "physics_version"), None, FLEET_CONFIG.physics_clip_h
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
    description=f"Machines likely to fail within {ALERT_RULE.horizon_h:g} h "
    f"(P >= {ALERT_RULE.threshold:g}), with the branch, sensor trend and stress behind it.",
)
def maintenance_alerts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    day, _start, end = day_bounds(context.partition_key)
    with warehouse.read() as con:
        predictions = tables.read_day(con, "rul_predictions", day)
        state = tables.read_day(con, "physics_state", day)
        history = tables.read_days(con, "ml_features", day - dt.timedelta(days=LOOKBACK_DAYS), day)
    lives = fleet.current_lives(history, predictions.select("machine_id", "component_installed_at"))
    trends = fleet.sensor_trends(lives.filter(pl.col("ts") <= end))
    context_frame = state.select("machine_id", "dominant_stress").join(
        trends, on="machine_id", how="full", coalesce=True
    )
    evaluated = alerts_mod.evaluate_alerts(
        predictions.drop("day"), ALERT_RULE, context=context_frame
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
            "machines_evaluated": dg.MetadataValue.int(evaluated.height),
            "horizon_h": dg.MetadataValue.float(ALERT_RULE.horizon_h),
            "threshold": dg.MetadataValue.float(ALERT_RULE.threshold),
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
