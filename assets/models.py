"""The prognostics models (unpartitioned): the damage laws fitted on run-to-failure history and
the RUL model (XGBoost with the physics/data fuser).

The two models refresh themselves by policy (:class:`~dt_platform.phm.fleet.RetrainPolicy`):
on a daily run they are refitted only when the maintenance log holds new failures or the data
have moved far past them, otherwise the registered version is reused at the cost of a query.
That is why they sit in the daily job: every day's predictions have a model, and a model is
never older than its policy allows. ``prognostics_models_job`` refits them on demand
(``force: true`` in the run config).
"""

import datetime as dt

import dagster as dg
import polars as pl

from assets.common import WRITER_POOL, frame_table
from assets.partitions import day_bounds
from assets.resources import ModelStoreResource, WarehouseResource
from dt_platform.phm import fleet
from dt_platform.phm.episodes import load_history
from dt_platform.phm.fitting import FleetPhysics

GROUP = "prognostics"
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
