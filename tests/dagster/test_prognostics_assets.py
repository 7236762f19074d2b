"""The prognostics graph in Dagster on a small simulated line: models, a day's predictions and
alerts with their checks, model reuse the next day, a tampered bundle, a line with no failures."""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets import prognostics
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.ingest.loader import ingest_landing
from dt_platform.ingest.maintenance import load_maintenance_log
from dt_platform.ingest.registry import load_registry, sync_registry
from dt_platform.ingest.telemetry import build_telemetry_day
from dt_platform.phm import fleet, tables
from dt_platform.phm.alerts import evaluate_alerts
from dt_platform.sim import SimConfig, simulate_line
from dt_platform.warehouse import Warehouse

START = dt.date(2026, 1, 5)
DAYS = 24
DAY = START + dt.timedelta(days=DAYS - 2)  # the last day with telemetry at first
NEXT = DAY + dt.timedelta(days=1)
UTC = pl.Datetime("us", "UTC")


def _ingest(home: Path, config: SimConfig, days: list[dt.date]) -> None:
    """Setup with the ingestion functions (their assets are tested in test_ingestion_assets)."""
    simulate_line(
        config,
        home / "landing",
        truth_dir=home / "ground_truth",
        registry_path=home / "machines.yaml",
    )
    with Warehouse(home / "warehouse.duckdb").write() as con:
        sync_registry(con, load_registry(home / "machines.yaml"))
        ingest_landing(con, home / "landing")
        load_maintenance_log(con, home / "landing")
        for day in days:
            build_telemetry_day(con, day)


@pytest.fixture(scope="module")
def line_home(tmp_path_factory) -> Path:
    """Eight machines, 24 days, eight failures; telemetry built up to DAY (not NEXT)."""
    home = tmp_path_factory.mktemp("prognostics_home")
    config = SimConfig(
        machines=8,
        days=DAYS,
        seed=11,
        start=START,
        interval_s=900,
        outage_prob=0.0,
        redelivery_prob=0.0,
    )
    _ingest(home, config, [START + dt.timedelta(days=i) for i in range(DAYS - 1)])
    return home


@pytest.fixture(scope="module")
def first_run(line_home: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        prognostics.PROGNOSTICS_ASSETS,
        partition_key=DAY.isoformat(),
        resources=platform_resources(Settings(home=line_home)),
    )


def _meta(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    events = result.get_asset_materialization_events()
    mats = [e.materialization for e in events if e.asset_key.path == [asset]]
    return {k: v.value for k, v in mats[-1].metadata.items()}


def _materialize_alerts(home: Path) -> dg.ExecuteInProcessResult:
    """The alert asset alone on DAY, over what the test stored in ``home``'s warehouse."""
    return dg.materialize(
        [prognostics.maintenance_alerts],
        partition_key=DAY.isoformat(),
        resources=platform_resources(Settings(home=home)),
    )


def _query(home: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    with Warehouse(home / "warehouse.duckdb").read() as con:
        return con.execute(sql, params or []).pl()


@pytest.mark.slow
def test_models_and_a_day_materialize_with_passing_checks(line_home: Path, first_run) -> None:
    assert first_run.success
    checks = {c.check_name: c.passed for c in first_run.get_asset_check_evaluations()}
    assert checks == {
        "rul_model_trained": True,
        "predictions_cover_active_machines": True,
        "intervals_ordered_non_negative": True,
        "model_version_is_latest": True,
    }
    physics = _meta(first_run, "physics_model")
    assert physics["status"] == "trained" and "fitted" in physics["parameters"]
    rul = _meta(first_run, "rul_model")
    assert rul["status"] == "trained" and rul["cv_rmse_fused_h"] > 0

    registry = _query(line_home, "SELECT kind, version, path, physics_version FROM model_registry")
    assert sorted(registry["kind"]) == ["physics", "rul"]
    rul_row = registry.filter(pl.col("kind") == "rul").row(0, named=True)
    bundle = line_home / "models" / rul_row["path"]
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == rul_row["version"] == rul["version"]
    assert rul_row["physics_version"] == physics["version"]

    predictions = _query(line_home, "SELECT * FROM rul_predictions WHERE day = ?", [DAY])
    assert predictions.height == 8 and predictions["machine_id"].n_unique() == 8
    end = dt.datetime.combine(NEXT, dt.time(), tzinfo=dt.UTC)
    assert (predictions["ts"] == end).all()
    assert (predictions["model_version"] == rul_row["version"]).all()
    # fused, or a type's fallback branch where held-out training machines said so
    fused = predictions.filter(pl.col("basis").is_in(["fused", "ml_fallback", "physics_fallback"]))
    assert fused.height >= 6
    assert (fused["rul_fused_lo_h"] <= fused["rul_fused_h"]).all()
    assert (fused["rul_fused_h"] <= fused["rul_fused_hi_h"]).all()

    state = _query(line_home, "SELECT * FROM physics_state WHERE day = ?", [DAY])
    assert state.height == 8 and state["dominant_stress"].null_count() == 0
    features = _query(line_home, "SELECT machine_id, ts FROM ml_features WHERE day = ?", [DAY])
    assert features.height == 8 * 24
    alerts = _query(line_home, "SELECT * FROM maintenance_alerts WHERE day = ?", [DAY])
    # The model's rule (chosen by expected cost at training) over each current life's hourly
    # timeline decides every row; an alert written or lost by the asset would break the equality.
    model = fleet.load_bundle(line_home / "models", rul_row["path"], rul_row["version"])
    assert model.alert_rule is not None
    assert _meta(first_run, "maintenance_alerts")["alert_rule"]["source"] == "rul model"
    with Warehouse(line_home / "warehouse.duckdb").read() as con:
        features = tables.read_days(con, "ml_features", START, DAY)
    lives = fleet.current_lives(
        features, predictions.select("machine_id", "component_installed_at")
    )
    rule, timeline = fleet.alert_timeline(
        model, predictions, lives.drop("day", "physics_version"), end
    )
    ruled = evaluate_alerts(timeline, rule).filter(pl.col("ts") == end)
    assert ruled.height == 8
    assert set(alerts["machine_id"]) == set(ruled.filter("alert")["machine_id"])
    for row in alerts.iter_rows(named=True):
        assert row["probability"] >= (rule.release or rule.threshold)
        assert "branch" in row["reason"] and row["model_version"] == rul_row["version"]


@pytest.mark.slow
def test_next_day_reuses_the_models_and_predicts_with_the_latest(
    line_home: Path, first_run
) -> None:
    assert first_run.success
    with Warehouse(line_home / "warehouse.duckdb").write() as con:
        build_telemetry_day(con, NEXT)
    result = dg.materialize(
        prognostics.PROGNOSTICS_ASSETS,
        partition_key=NEXT.isoformat(),
        resources=platform_resources(Settings(home=line_home)),
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert _meta(result, "physics_model")["status"] == "reused"
    rul = _meta(result, "rul_model")
    assert rul["status"] == "reused"
    assert _meta(result, "rul_predictions")["model_version"] == rul["version"]
    both_days = _query(
        line_home, "SELECT day, count(*) AS n FROM rul_predictions GROUP BY day ORDER BY day"
    )
    assert both_days.rows() == [(DAY, 8), (NEXT, 8)]


@pytest.mark.slow
def test_a_rematerialized_day_uses_the_model_the_platform_had_then(
    line_home: Path, first_run, tmp_path: Path
) -> None:
    """A model trained on later data (registered after a later day) must not predict a past day:
    it has seen that day's future failures."""
    from dt_platform.phm import fleet

    assert first_run.success
    home = tmp_path / "home"
    shutil.copytree(line_home, home)
    with Warehouse(home / "warehouse.duckdb").write() as con:
        used = fleet.latest_model(con, "rul")
        fleet.register_model(
            con,
            fleet.RegistryEntry(
                kind="rul",
                version="f" * 64,
                trained_at=used.trained_at + dt.timedelta(days=30),
                trained_until=used.trained_until + dt.timedelta(days=30),
                path="rul-later.dtrul",
                physics_version=used.physics_version,
            ),
        )
    result = dg.materialize(
        [prognostics.rul_predictions],
        partition_key=DAY.isoformat(),
        resources=platform_resources(Settings(home=home)),
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert _meta(result, "rul_predictions")["model_version"] == used.version
    predictions = _query(
        home, "SELECT DISTINCT model_version FROM rul_predictions WHERE day = ?", [DAY]
    )
    assert predictions["model_version"].to_list() == [used.version]


@pytest.mark.slow
def test_a_changed_model_file_is_refused(line_home: Path, first_run, tmp_path: Path) -> None:
    assert first_run.success
    home = tmp_path / "home"
    shutil.copytree(line_home, home)
    (bundle,) = (home / "models").glob("rul-*.dtrul")
    data = bytearray(bundle.read_bytes())
    data[-1] ^= 1
    bundle.write_bytes(bytes(data))
    result = dg.materialize(
        [prognostics.rul_predictions],
        partition_key=DAY.isoformat(),
        resources=platform_resources(Settings(home=home)),
        raise_on_error=False,
    )
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "was changed" in message and "force: true" in message


@pytest.mark.slow
def test_without_failures_predictions_rest_on_the_physics_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    start = dt.date(2026, 3, 2)
    config = SimConfig(machines=4, days=2, seed=5, start=start, interval_s=900)
    _ingest(home, config, [start, start + dt.timedelta(days=1)])
    result = dg.materialize(
        prognostics.PROGNOSTICS_ASSETS,
        partition_key=start.isoformat(),
        resources=platform_resources(Settings(home=home)),
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["rul_model_trained"].passed
    assert checks["rul_model_trained"].severity == dg.AssetCheckSeverity.WARN
    for name in (
        "predictions_cover_active_machines",
        "intervals_ordered_non_negative",
        "model_version_is_latest",
    ):
        assert checks[name].passed, name
    assert _meta(result, "rul_model")["status"] == "not trained"
    predictions = _query(home, "SELECT * FROM rul_predictions")
    assert predictions.height == 4 and predictions["model_version"].null_count() == 4
    assert set(predictions["basis"]) <= {"physics_only", "none"}
    assert predictions["note"].null_count() == 0  # every row says why it rests on what it does
    assert predictions.filter(pl.col("basis") == "physics_only").height >= 1


def test_daily_job_holds_the_prognostics_assets_and_the_audit_waits_for_them() -> None:
    from assets import audit
    from assets.definitions import defs

    job = defs.resolve_job_def("daily_job")
    keys = {k.path[-1] for k in job.asset_layer.executable_asset_keys}
    assert {
        "physics_model",
        "rul_model",
        "physics_state",
        "ml_features",
        "rul_predictions",
        "maintenance_alerts",
    } <= keys
    models = defs.resolve_job_def("prognostics_models_job")
    assert {k.path[-1] for k in models.asset_layer.executable_asset_keys} == {
        "physics_model",
        "rul_model",
    }
    audit_deps = {
        d.asset_key.path[-1]
        for d in audit.audit_snapshot.specs_by_key[dg.AssetKey("audit_snapshot")].deps
    }
    assert {"rul_predictions", "maintenance_alerts"} <= audit_deps


def test_a_machine_near_failure_raises_one_alert_with_its_reason(tmp_path: Path) -> None:
    """The alert asset on a day's stored predictions: the machine likely to fail within the
    horizon gets an alert naming its branch, stress and model; a healthy one gets none."""
    end = dt.datetime.combine(NEXT, dt.time(), tzinfo=dt.UTC)
    predictions = pl.DataFrame(
        {
            "machine_id": ["SERVO-01", "SMT-01"],
            "machine_type": ["servo_drive", "smt_placer"],
            "ts": [end, end],
            "stage": ["initiation", "initiation"],
            "rul_physics_h": [30.0, 700.0],
            "rul_physics_lo_h": [10.0, 400.0],
            "rul_physics_hi_h": [60.0, 1200.0],
            "rul_ml_h": [20.0, 300.0],
            "rul_ml_lo_h": [5.0, 200.0],
            "rul_ml_hi_h": [45.0, 336.0],
            "rul_fused_h": [22.0, 320.0],
            "rul_fused_lo_h": [6.0, 210.0],
            "rul_fused_hi_h": [48.0, 500.0],
            "w_physics": [0.2, 0.2],
            "basis": ["fused", "fused"],
            "model_version": ["m" * 64, "m" * 64],
        }
    )
    state = predictions.select("machine_id", "ts").with_columns(
        pl.Series("dominant_stress", ["thermal cycling ΔTj 60 K", "placement force 3 N"])
    )
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        tables.replace_day(con, "rul_predictions", DAY, predictions)
        tables.replace_day(con, "physics_state", DAY, state)
    result = _materialize_alerts(tmp_path)
    assert result.success
    assert _meta(result, "maintenance_alerts")["alerts"] == 1
    alerts = _query(tmp_path, "SELECT * FROM maintenance_alerts WHERE day = ?", [DAY])
    assert alerts["machine_id"].to_list() == ["SERVO-01"]
    alert = alerts.row(0, named=True)
    assert alert["probability"] >= prognostics.ALERT_RULE.threshold
    assert alert["model_version"] == "m" * 64 and alert["dominant_stress"].startswith("thermal")
    assert "branch" in alert["reason"] and "thermal cycling" in alert["reason"]


def test_a_never_failed_type_trending_to_its_limit_alerts(tmp_path: Path) -> None:
    """A placer the RUL model has no physics for (its type never failed): its offset climbs
    0.1 µm/h and stands at 56 of 60 µm, so it reaches its failure limit in ~40 h. The model's
    probability alone is far below the threshold; the alert comes from the sensor trend. Its
    twin SMT-02 failed an hour ago and is being repaired: its prediction says so (basis
    ``failed``, as ``rul_predictions`` writes it from the maintenance log): no alert."""
    end = dt.datetime.combine(NEXT, dt.time(), tzinfo=dt.UTC)
    installed = end - dt.timedelta(hours=240)
    hours = list(range(1, 241))
    ts = [installed + dt.timedelta(hours=k) for k in hours]
    features = pl.DataFrame(
        {
            "machine_id": "SMT-01",
            "machine_type": "smt_placer",
            "ts": ts,
            "component_installed_at": installed,
            "n_readings": 12,
            "op_fraction": 1.0,
            "placement_offset_um": [56.0 - 0.1 * (240 - k) for k in hours],
            "vacuum_kpa": 74.0,
            "placement_force_n": 3.0,
            "placement_rate_per_min": 40.0,
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )
    features = pl.concat([features, features.with_columns(pl.lit("SMT-02").alias("machine_id"))])
    prediction = pl.DataFrame(
        {
            "machine_id": ["SMT-01", "SMT-02"],
            "machine_type": ["smt_placer"] * 2,
            "ts": [end] * 2,
            "component_installed_at": [installed] * 2,
            "stage": [None, "failed"],
            "rul_physics_h": [None, 0.0],
            "rul_ml_h": [420.0, 0.0],
            "rul_ml_lo_h": [250.0, 0.0],
            "rul_ml_hi_h": [700.0, 0.0],
            "rul_fused_h": [420.0, 0.0],
            "rul_fused_lo_h": [250.0, 0.0],
            "rul_fused_hi_h": [700.0, 0.0],
            "basis": ["ml_only", "failed"],
        },
        schema_overrides={"rul_physics_h": pl.Float64, "stage": pl.String},
    )
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        for day in {t.date() for t in ts if t < end}:
            tables.replace_day(
                con, "ml_features", day, features.filter(pl.col("ts").dt.date() == day)
            )
        tables.replace_day(con, "rul_predictions", DAY, prediction)
    result = _materialize_alerts(tmp_path)
    assert result.success
    meta = _meta(result, "maintenance_alerts")
    assert meta["alerts"] == 1 and meta["sensor_limit_alerts"] == 1
    alert = _query(tmp_path, "SELECT * FROM maintenance_alerts WHERE day = ?", [DAY]).row(
        0, named=True
    )
    assert alert["machine_id"] == "SMT-01" and alert["driver"] == "sensor_limit"
    assert alert["severity"] == "warning" and alert["probability"] < 0.01
    assert "placement_offset_um" in alert["reason"] and "failure limit in ~4" in alert["reason"]


def test_a_component_being_replaced_reads_failed_whatever_its_type(tmp_path: Path) -> None:
    """Two placers (a type with no physics law: only the maintenance log knows of a failure);
    SMT-02's corrective work order is open at the day's end, SMT-01's finished before it. The
    day's prediction of SMT-02 reads 0 h, basis ``failed``, and says why."""
    end = dt.datetime.combine(NEXT, dt.time(), tzinfo=dt.UTC)
    ts = [end - dt.timedelta(hours=k) for k in range(23, -1, -1)]
    features = pl.DataFrame(
        {
            "machine_id": ["SMT-01"] * 24 + ["SMT-02"] * 24,
            "machine_type": "smt_placer",
            "ts": ts * 2,
            "component_installed_at": end - dt.timedelta(days=20),
            "n_readings": 12,
            "op_fraction": 1.0,
            "placement_offset_um": 40.0,
            "vacuum_kpa": 74.0,
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        tables.replace_day(con, "ml_features", DAY, features)
        for line, (machine, finished) in enumerate(
            [("SMT-01", end - dt.timedelta(hours=2)), ("SMT-02", None)], start=1
        ):
            con.execute(
                "INSERT INTO maintenance_log (work_order, machine_id, started_at, finished_at, "
                "kind, action, component, notes, source_file, line) VALUES (?, ?, ?, ?, "
                "'corrective', 'replace', 'nozzle', 'failure', 'cmms/a.csv', ?)",
                [f"WO-{line}", machine, end - dt.timedelta(hours=5), finished, line],
            )
    result = dg.materialize(
        [prognostics.rul_predictions],
        partition_key=DAY.isoformat(),
        resources=platform_resources(Settings(home=tmp_path)),
    )
    assert result.success
    rows = {
        r["machine_id"]: r
        for r in _query(tmp_path, "SELECT * FROM rul_predictions WHERE day = ?", [DAY]).to_dicts()
    }
    repaired, running = rows["SMT-02"], rows["SMT-01"]
    assert (repaired["basis"], repaired["stage"], repaired["rul_fused_h"]) == (
        "failed",
        "failed",
        0.0,
    )
    assert repaired["rul_fused_lo_h"] == repaired["rul_fused_hi_h"] == 0.0
    assert repaired["note"] == "failed: a corrective work order is open"
    assert running["basis"] == "none" and running["stage"] is None
