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
import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.common import WRITER_POOL, frame_table
from assets.partitions import daily_partitions, day_bounds
from assets.resources import PlatformResource
from dt_platform.catalog import SIMULATED_TYPES
from dt_platform.fileio import atomic_write_bytes
from dt_platform.phm import alerts as alerts_mod
from dt_platform.phm import damage, fleet
from dt_platform.phm.damage import physics_state as physics_state_at
from dt_platform.phm.episodes import load_history
from dt_platform.phm.fitting import FleetPhysics
from dt_platform.warehouse import table_names

GROUP = "prognostics"
LOOKBACK_DAYS = 90
"""How far back the features of a component life are read (lives last 3-6 weeks)."""
ALERT_RULE = alerts_mod.AlertRule()
FLEET_CONFIG = fleet.FleetConfig()


class ModelRefreshConfig(dg.Config):
    """Run config of the model assets."""

    force: bool = False
    """Refit even if the retrain policy would keep the registered model."""


# --- tables -------------------------------------------------------------------------------------

_DUCK_TYPES = {
    pl.String: "VARCHAR",
    pl.Float64: "DOUBLE",
    pl.Int64: "BIGINT",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
}


def _duck_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    for base, name in _DUCK_TYPES.items():
        if dtype == base:
            return name
    raise TypeError(f"no DuckDB type for {dtype}")


def _with_day(schema: dict) -> dict:
    return {"day": pl.Date(), **schema}


STATE_SCHEMA = _with_day(
    {
        ("ts" if c == "as_of" else c): t
        for c, t in damage.STATE_SCHEMA.items()
        if c != "physics_params_version"  # the registered version replaces it
    }
    | {"physics_version": pl.String()}
)
TRAJECTORY_SCHEMA = _with_day({**damage.TRAJECTORY_SCHEMA, "physics_version": pl.String()})
FEATURES_SCHEMA = _with_day({**fleet.BASE_SCHEMA, "physics_version": pl.String()})
PREDICTIONS_SCHEMA = _with_day(
    {
        **fleet.PREDICTION_SCHEMA,
        "model_version": pl.String(),
        "physics_version": pl.String(),
        "note": pl.String(),
    }
)
ALERTS_SCHEMA = _with_day({**alerts_mod.ALERT_SCHEMA, "model_version": pl.String()})
ALERTS_SCHEMA.pop("alert")

TABLES = {
    "physics_state": STATE_SCHEMA,
    "physics_trajectory": TRAJECTORY_SCHEMA,
    "ml_features": FEATURES_SCHEMA,
    "rul_predictions": PREDICTIONS_SCHEMA,
    "maintenance_alerts": ALERTS_SCHEMA,
}
"""Tables written by this module, one partition (``day``) at a time."""


def _ensure_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    cols = ",\n".join(f'"{c}" {_duck_type(t)}' for c, t in TABLES[name].items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")


def _conform(frame: pl.DataFrame, name: str, day: dt.date) -> pl.DataFrame:
    schema = TABLES[name]
    frame = frame.with_columns(pl.lit(day).alias("day"))
    for col, dtype in schema.items():
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def _replace_day(
    con: duckdb.DuckDBPyConnection, name: str, day: dt.date, frame: pl.DataFrame
) -> int:
    """Replace the table's rows of ``day`` by ``frame`` (idempotent re-materialization)."""
    _ensure_table(con, name)
    con.execute(f"DELETE FROM {name} WHERE day = ?", [day])
    data = _conform(frame, name, day)
    if data.height:
        con.register("_prognostics_rows", data.to_arrow())
        try:
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _prognostics_rows")
        finally:
            con.unregister("_prognostics_rows")
    return data.height


def _read(con: duckdb.DuckDBPyConnection, name: str, where: str, params: list) -> pl.DataFrame:
    """Rows of one of our tables (an empty frame of the right schema if it does not exist yet)."""
    tables = table_names(con)
    schema = TABLES[name]
    if name not in tables:
        return pl.DataFrame(schema=schema)
    frame = con.execute(f"SELECT * FROM {name} WHERE {where}", params).pl()
    return frame.select(
        [
            pl.col(c).dt.convert_time_zone("UTC").cast(t)
            if isinstance(t, pl.Datetime)
            else pl.col(c).cast(t)
            for c, t in schema.items()
        ]
    )


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


def _models_dir(platform: PlatformResource) -> Path:
    return platform.settings.home / "models"


def _latest_physics(
    con: duckdb.DuckDBPyConnection, as_of: dt.datetime | None = None
) -> tuple[fleet.RegistryEntry, FleetPhysics] | None:
    entry = fleet.latest_model(con, "physics", as_of=as_of)
    if entry is None or not entry.payload:
        return None
    return entry, FleetPhysics.from_json(entry.payload)


def load_rul_model(platform: PlatformResource, entry: fleet.RegistryEntry) -> fleet.FleetModel:
    """The registered bundle, checked against its content hash before use."""
    path = _models_dir(platform) / str(entry.path)
    if not path.is_file():
        raise dg.Failure(
            description=f"the registered RUL model {entry.version[:12]} is missing at {path}; "
            "re-materialize rul_model with run config force: true"
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.version:
        raise dg.Failure(
            description=f"{path} hashes to {digest[:12]}, not its registered version "
            f"{entry.version[:12]}: the file was changed; re-materialize rul_model (force: true)"
        )
    return fleet.FleetModel.from_bytes(data)


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
    context: dg.AssetExecutionContext, config: ModelRefreshConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    day_end = _run_day_end(context)
    with platform.warehouse.read() as con:
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
    payload = fitted.to_json()
    entry = fleet.RegistryEntry(
        kind="physics",
        version=fitted.version,
        trained_at=dt.datetime.now(dt.UTC),
        trained_until=until,
        payload=payload,
        sha256=hashlib.sha256(payload.encode()).hexdigest(),
        failures_known=failures,
        metrics={
            "failed_lives_with_data": fleet.failed_lives_with_data(history),
            "types": {
                t: {"usable": f.usable, "failures": f.n_failures, "censored": f.n_censored}
                for t, f in fitted.types.items()
            },
        },
    )
    with platform.warehouse.write() as con:
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
    context: dg.AssetExecutionContext, config: ModelRefreshConfig, platform: PlatformResource
):
    day_end = _run_day_end(context)
    with platform.warehouse.read() as con:
        physics = _latest_physics(con, as_of=day_end)
        latest = fleet.latest_model(con, "rul", as_of=day_end)
        if physics is None:
            yield dg.MaterializeResult(
                metadata={"status": "no model", "reason": "no physics model"}
            )
            yield dg.AssetCheckResult(
                check_name="rul_model_trained",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"detail": "no physics model registered yet"},
            )
            return
        entry, fitted = physics
        reason = None
        if config.force:
            reason = "forced by run config"
        elif latest is None:
            reason = "no model registered yet"
        elif latest.physics_version != entry.version:
            reason = f"the damage laws were refitted ({entry.version})"
        elif not (_models_dir(platform) / str(latest.path)).is_file():
            reason = "the registered bundle is missing on disk"
        if reason is None and latest is not None:
            yield dg.MaterializeResult(
                metadata={
                    "status": "reused",
                    "reason": "trained on the current damage laws",
                    "version": latest.version,
                    "path": dg.MetadataValue.path(str(_models_dir(platform) / str(latest.path))),
                    **_cv_metadata(latest.metrics),
                }
            )
            yield dg.AssetCheckResult(
                check_name="rul_model_trained", passed=True, metadata={"version": latest.version}
            )
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
        yield dg.AssetCheckResult(
            check_name="rul_model_trained",
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"detail": str(exc)},
        )
        return
    data = model.to_bytes()
    version = hashlib.sha256(data).hexdigest()
    folder = _models_dir(platform)
    name = f"rul-{version}.dtrul"
    atomic_write_bytes(folder / name, data)
    registry_entry = fleet.RegistryEntry(
        kind="rul",
        version=version,
        trained_at=dt.datetime.now(dt.UTC),
        trained_until=entry.trained_until,
        path=name,
        sha256=version,
        physics_version=entry.version,
        failures_known=known,
        metrics=model.cv,
    )
    with platform.warehouse.write() as con:
        fleet.register_model(con, registry_entry)
    yield dg.MaterializeResult(
        metadata={
            "status": "trained",
            "reason": reason or "",
            "version": version,
            "path": dg.MetadataValue.path(str(folder / name)),
            "bytes": dg.MetadataValue.int(len(data)),
            "features": dg.MetadataValue.int(len(model.featurizer.columns)),
            "physics_version": entry.version,
            **_cv_metadata(model.cv),
        }
    )
    yield dg.AssetCheckResult(
        check_name="rul_model_trained", passed=True, metadata={"version": version}
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
    context: dg.AssetExecutionContext, platform: PlatformResource
) -> dg.MaterializeResult:
    day, start, end = day_bounds(context.partition_key)
    with platform.warehouse.read() as con:
        physics = _latest_physics(con, as_of=end)
        history = load_history(con, end) if physics is not None else None
    if physics is None or history is None:
        with platform.warehouse.write() as con:
            _replace_day(con, "physics_state", day, pl.DataFrame())
            _replace_day(con, "physics_trajectory", day, pl.DataFrame())
        return dg.MaterializeResult(metadata={"status": "no physics model yet", "machines": 0})
    entry, fitted = physics
    state = physics_state_at(history, fitted, end).rename({"as_of": "ts"})
    state = state.with_columns(pl.lit(entry.version).alias("physics_version"))
    hourly = fleet.physics_hourly(history, fitted, start).with_columns(
        pl.lit(entry.version).alias("physics_version")
    )
    with platform.warehouse.write() as con:
        n_state = _replace_day(con, "physics_state", day, state)
        n_hourly = _replace_day(con, "physics_trajectory", day, hourly)
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
    context: dg.AssetExecutionContext, platform: PlatformResource
) -> dg.MaterializeResult:
    day, start, end = day_bounds(context.partition_key)
    with platform.warehouse.read() as con:
        signals = fleet.hourly_signals(con, end, since=start)
        physics = _read(con, "physics_trajectory", "day = ?", [day])
    base = fleet.assemble_base(signals, physics, end=end, start=start)
    version = physics["physics_version"].drop_nulls()
    base = base.with_columns(
        pl.lit(version[0] if version.len() else None, dtype=pl.String).alias("physics_version")
    )
    with platform.warehouse.write() as con:
        rows = _replace_day(con, "ml_features", day, base)
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


def _active_machines(con: duckdb.DuckDBPyConnection, day: dt.date) -> pl.DataFrame:
    return con.execute(
        "SELECT DISTINCT t.machine_id, t.machine_type FROM telemetry t "
        "JOIN machines m ON m.machine_id = t.machine_id AND m.active "
        "WHERE t.day = ? AND t.machine_type IN (SELECT unnest(?)) ORDER BY 1",
        [day, list(SIMULATED_TYPES)],
    ).pl()


def _current_lives(history: pl.DataFrame, asof: pl.DataFrame) -> pl.DataFrame:
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
def rul_predictions(context: dg.AssetExecutionContext, platform: PlatformResource):
    day, _start, end = day_bounds(context.partition_key)
    with platform.warehouse.read() as con:
        entry = fleet.latest_model(con, "rul", as_of=end)
        physics = fleet.latest_model(con, "physics", as_of=end)
        active = _active_machines(con, day)
        today = _read(con, "ml_features", "day = ?", [day])
        state = _read(con, "physics_state", "day = ?", [day])
        lookback = (
            _read(
                con,
                "ml_features",
                "day BETWEEN ? AND ?",
                [day - dt.timedelta(days=LOOKBACK_DAYS), day],
            )
            if entry is not None
            else None
        )
    asof = today.filter(pl.col("ts") == end)
    note = state.select("machine_id", "note")
    gaps: dict[str, int] = {}
    if entry is not None and lookback is not None and not asof.is_empty():
        model = load_rul_model(platform, entry)
        lives = _current_lives(lookback, asof).drop("day", "physics_version")
        gaps = _feature_gaps(lives, end)
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
        pl.when(pl.col("basis") == "none")
        .then(pl.coalesce(pl.col("note"), pl.lit("no physics law fitted and no RUL model yet")))
        .when(pl.col("basis") == "physics_only")
        .then(
            pl.coalesce(pl.col("note") + pl.lit("; "), pl.lit(""))
            + pl.lit(
                "physics only: no RUL model registered yet"
                if model_version is None
                else "physics only: no ML estimate for this row"
            )
        )
        .when((pl.col("basis") == "fused") & (pl.col("rul_ml_h") >= 0.95 * FLEET_CONFIG.cap_h))
        .then(
            pl.coalesce(pl.col("note") + pl.lit("; "), pl.lit(""))
            + pl.lit(
                f"beyond the {FLEET_CONFIG.horizon_h:g} h horizon: the data show no wear yet and "
                "the fused RUL (fitted on failures within the horizon) is a lower estimate"
            )
        )
        .otherwise(pl.col("note"))
        .alias("note"),
    )
    with platform.warehouse.write() as con:
        rows = _replace_day(con, "rul_predictions", day, predicted)
    yield dg.MaterializeResult(
        metadata={
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
    )
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
    bad = interval_violations(predicted)
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


def _feature_gaps(lives: pl.DataFrame, end: dt.datetime) -> dict[str, int]:
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
    context: dg.AssetExecutionContext, platform: PlatformResource
) -> dg.MaterializeResult:
    day, _start, end = day_bounds(context.partition_key)
    with platform.warehouse.read() as con:
        predictions = _read(con, "rul_predictions", "day = ?", [day])
        state = _read(con, "physics_state", "day = ?", [day])
        history = _read(
            con,
            "ml_features",
            "day BETWEEN ? AND ?",
            [day - dt.timedelta(days=LOOKBACK_DAYS), day],
        )
    lives = _current_lives(history, predictions.select("machine_id", "component_installed_at"))
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
    with platform.warehouse.write() as con:
        rows = _replace_day(con, "maintenance_alerts", day, raised)
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
