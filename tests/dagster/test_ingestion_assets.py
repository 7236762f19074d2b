"""The ingestion graph in Dagster: materialization on simulated data, checks, sensors, schedule."""

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets import automation, ingestion
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.sim import SimConfig, simulate_line
from dt_platform.warehouse import Warehouse

START = dt.date(2026, 3, 2)
DAYS = 3


@pytest.fixture(scope="module")
def simulated_home(tmp_path_factory) -> Path:
    """A DT_HOME with a small simulated line in landing (not yet ingested)."""
    home = tmp_path_factory.mktemp("dt_home")
    simulate_line(
        SimConfig(machines=4, days=DAYS, seed=5, start=START, interval_s=300),
        home / "landing",
        truth_dir=home / "ground_truth",
        registry_path=home / "machines.yaml",
    )
    return home


@pytest.fixture
def home(simulated_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(simulated_home, copy)
    return copy


def _ingest(home: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ingestion.machine_registry, ingestion.raw_dumps, ingestion.maintenance_log],
        resources=platform_resources(Settings(home=home)),
    )


def test_ingestion_graph_materializes_with_passing_checks(home: Path) -> None:
    result = _ingest(home)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["every_file_balances"].passed
    assert checks["maintenance_rows_balance"].passed
    raw = result.asset_materializations_for_node("raw_dumps")[0].metadata
    assert raw["rows_loaded"].value > 10_000
    assert raw["rows_rejected"].value > 0  # the simulator injects bad input
    assert raw["rows_in"].value == raw["rows_loaded"].value + raw["rows_rejected"].value
    touched = raw["touched_days"].value
    assert {(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)} <= set(touched)

    day = START + dt.timedelta(days=1)
    daily = dg.materialize(
        [ingestion.telemetry],
        partition_key=day.isoformat(),
        resources=platform_resources(Settings(home=home)),
    )
    assert daily.success
    assert all(c.passed for c in daily.get_asset_check_evaluations())
    with Warehouse(home / "warehouse.duckdb").read() as con:
        n_machines, n_rows = con.execute(
            "SELECT count(DISTINCT machine_id), count(*) FROM telemetry WHERE day = ?", [day]
        ).fetchone()
    assert n_machines == 4 and n_rows > 1000


def test_hostile_exports_cost_only_their_lines(home: Path) -> None:
    """A long notes field crashed the asset and an unbalanced quote swallowed work orders: now
    each costs its own line, every export balances, and a file without work orders is flagged."""
    cmms = home / "landing" / "cmms"
    (simulated,) = sorted(cmms.glob("*.csv"))
    header, first, *rest = simulated.read_text().splitlines()
    (cmms / "z_hostile.csv").write_text(
        "\n".join([header, first.rsplit(",", 1)[0] + ',"' + "x" * 200_000, *rest[:2]]) + "\n"
    )
    (cmms / "z_wrong_header.csv").write_text(f"{header.replace(',notes', '')}\n{rest[0]}\n")
    (cmms / "z_link.csv").symlink_to(simulated)
    result = _ingest(home)
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["maintenance_rows_balance"].passed
    flagged = checks["every_export_yields_work_orders"]
    assert not flagged.passed and flagged.severity == dg.AssetCheckSeverity.WARN
    table = flagged.metadata["exports_without_work_orders"].value
    assert "z_wrong_header.csv" in table and "z_link.csv" in table
    meta = result.asset_materializations_for_node("maintenance_log")[0].metadata
    assert meta["quarantined_files"].value == ["cmms/z_link.csv", "cmms/z_wrong_header.csv"]
    with Warehouse(home / "warehouse.duckdb").read() as con:
        reasons = con.execute(
            "SELECT source_file, line, reason FROM maintenance_rejects ORDER BY 1, 2"
        ).fetchall()
        superseded = con.execute("SELECT count(*) FROM maintenance_superseded").fetchone()[0]
    assert reasons == [
        ("cmms/z_hostile.csv", 2, "unbalanced_quote"),
        ("cmms/z_link.csv", None, "not_a_regular_file"),
        ("cmms/z_wrong_header.csv", 1, "bad_header"),
    ]
    assert superseded == 2  # the two lines after the broken one re-export simulated work orders


def test_rematerializing_is_idempotent(home: Path) -> None:
    _ingest(home)
    second = _ingest(home)
    raw = second.asset_materializations_for_node("raw_dumps")[0].metadata
    assert raw["new_files"].value == 0
    with Warehouse(home / "warehouse.duckdb").read() as con:
        before = con.execute("SELECT count(*) FROM readings").fetchone()[0]
    _ingest(home)
    with Warehouse(home / "warehouse.duckdb").read() as con:
        assert con.execute("SELECT count(*) FROM readings").fetchone()[0] == before


def test_a_file_that_loads_no_reading_is_named_with_its_reasons(home: Path) -> None:
    first = _ingest(home)
    assert first.success
    # A gateway re-sends a day under new names: the same bytes, and a re-export (CRLF line ends)
    # whose every reading is already loaded. Both load nothing; the check says so, and why.
    dump = next(p for p in sorted((home / "landing").rglob("*.csv")) if "cmms" not in p.parts)
    data = dump.read_bytes()
    (dump.parent / "again.csv").write_bytes(data)
    (dump.parent / "again_crlf.csv").write_bytes(data.replace(b"\n", b"\r\n"))
    second = _ingest(home)
    checks = {c.check_name: c for c in second.get_asset_check_evaluations()}
    check = checks["every_new_file_loads_readings"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["loaded_nothing"].value == 2
    table = check.metadata["files"].value
    assert "again.csv | duplicate_file" in table and "same bytes as file" in table
    assert "again_crlf.csv | loaded" in table and "duplicate_reading ×" in table
    assert checks["every_file_balances"].passed
    third = _ingest(home)  # nothing new: nothing to flag
    assert {c.check_name: c.passed for c in third.get_asset_check_evaluations()}[
        "every_new_file_loads_readings"
    ]


@pytest.mark.timeout(120)
def test_links_fifos_and_devices_in_landing_neither_hang_nor_stop_ingestion(
    home: Path, tmp_path: Path
) -> None:
    """A FIFO (which blocks whoever opens it), a link to /dev/zero, a dangling link and a link to
    a file outside landing: the sensor still answers and ingestion records each as refused."""
    gateway = home / "landing" / "gw-hostile"
    gateway.mkdir()
    os.mkfifo(gateway / "pipe.csv")
    (gateway / "zero.csv").symlink_to("/dev/zero")
    (gateway / "dangling.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    secret = tmp_path / "secret.csv"
    secret.write_text("timestamp,machine_id,vacuum [kPa]\nSECRET,SECRET,1\n")
    (gateway / "secret.csv").symlink_to(secret)
    platform = platform_resources(Settings(home=home))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=platform)
        assert isinstance(ingestion.landing_sensor(ctx), dg.RunRequest)
    result = _ingest(home)
    assert result.success
    with Warehouse(home / "warehouse.duckdb").read() as con:
        refused = con.execute(
            """SELECT path, reason FROM file_ledger WHERE gateway = 'gw-hostile' ORDER BY path"""
        ).fetchall()
        leaked = con.execute(
            "SELECT count(*) FROM telemetry_rejects WHERE contains(coalesce(raw_value, '') || "
            "coalesce(machine_id, '') || coalesce(ts_text, ''), 'SECRET')"
        ).fetchone()[0]
    assert refused == [
        (f"gw-hostile/{name}", "not_a_regular_file")
        for name in ("dangling.jsonl", "pipe.csv", "secret.csv", "zero.csv")
    ]
    assert leaked == 0
    raw = result.asset_materializations_for_node("raw_dumps")[0].metadata
    assert raw["rows_loaded"].value > 10_000  # the other files loaded


def test_broken_registry_fails_with_the_reason(home: Path) -> None:
    (home / "machines.yaml").write_text("machines:\n  - {machine_id: X-1, type: toaster}\n")
    result = dg.materialize(
        [ingestion.machine_registry],
        resources=platform_resources(Settings(home=home)),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0]
    assert "toaster" in failure.step_failure_data.error.message


def test_landing_sensor_requests_ingestion_only_when_landing_changes(home: Path) -> None:
    platform = platform_resources(Settings(home=home))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=platform)
        first = ingestion.landing_sensor(ctx)
        assert isinstance(first, dg.RunRequest)
        ctx = dg.build_sensor_context(instance=instance, cursor=ctx.cursor, resources=platform)
        assert isinstance(ingestion.landing_sensor(ctx), dg.SkipReason)
        new_file = home / "landing" / "gw-late" / "late.jsonl"
        new_file.parent.mkdir()
        new_file.write_text(
            json.dumps(
                {
                    "ts": "2026-03-03T00:00:00Z",
                    "machine": "SMT-01",
                    "sensor": "vacuum",
                    "value": 70,
                    "unit": "kPa",
                }
            )
            + "\n"
        )
        ctx = dg.build_sensor_context(instance=instance, cursor=ctx.cursor, resources=platform)
        again = ingestion.landing_sensor(ctx)
        assert isinstance(again, dg.RunRequest) and again.run_key != first.run_key


def test_late_data_sensor_requests_the_touched_days(home: Path) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [ingestion.machine_registry, ingestion.raw_dumps, ingestion.maintenance_log],
            resources=platform_resources(Settings(home=home)),
            instance=instance,
        )
        assert result.success
        from assets.definitions import defs

        ctx = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
        requests = automation.late_data_sensor.evaluate_tick(ctx).run_requests
        keys = {r.partition_key for r in requests}
        assert {(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)} <= keys
        assert all(r.run_key.startswith("late-") for r in requests)

        # Once a day is rebuilt after the data arrived, the sensor leaves it alone.
        day = min(keys)
        assert dg.materialize(
            [ingestion.telemetry],
            partition_key=day,
            instance=instance,
            resources=platform_resources(Settings(home=home)),
        ).success
        fresh = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
        again = automation.late_data_sensor.evaluate_tick(fresh).run_requests
        assert day not in {r.partition_key for r in again} and len(again) == len(requests) - 1


def test_daily_schedule_materializes_yesterday() -> None:
    ctx = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
    )
    request = automation.daily_schedule(ctx)
    assert request.partition_key == "2026-11-24"


def test_live_schedule_rebuilds_today_every_hour_without_anchoring_it() -> None:
    at = dt.datetime(2026, 11, 25, 14, 5, tzinfo=dt.UTC)
    request = automation.live_schedule(dg.build_schedule_context(scheduled_execution_time=at))
    assert request.partition_key == "2026-11-25" and request.run_key == "live-2026-11-25T14"
    assert "audit_snapshot" not in automation.LIVE_ASSETS
    assert {"telemetry", "rul_predictions", "maintenance_alerts"} <= set(automation.LIVE_ASSETS)


def test_definitions_load_and_every_job_resolves() -> None:
    from assets.definitions import defs

    dg.Definitions.validate_loadable(defs)
    selections = {
        "ingest_job": {"machine_registry", "raw_dumps", "telemetry_rejects", "maintenance_log"},
        "daily_job": set(automation.DAILY_ASSETS),
        "live_job": set(automation.LIVE_ASSETS),
        "prognostics_models_job": {"physics_model", "rul_model"},
    }
    for job_name, assets in selections.items():
        job = defs.resolve_job_def(job_name)  # raises if the job does not resolve
        assert {k.path[-1] for k in job.asset_layer.executable_asset_keys} == assets, job_name
    pending = defs.resolve_job_def("anchor_pending_job")
    assert list(pending.graph.node_names()) == ["anchor_pending_snapshots"]
    repo = defs.get_repository_def()
    assert {s.name for s in repo.sensor_defs} >= {"landing_sensor", "late_data_sensor"}
    assert {s.name for s in repo.schedule_defs} == {"daily_schedule", "live_schedule"}


def test_late_data_sensor_leaves_today_to_the_live_job(home: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    live = home / "landing" / "stream" / "live.jsonl"
    live.parent.mkdir(parents=True, exist_ok=True)
    live.write_text(
        json.dumps(
            {
                "ts": (now - dt.timedelta(minutes=1)).isoformat(),
                "machine": "SMT-01",
                "sensor": "vacuum",
                "value": 70,
                "unit": "kPa",
            }
        )
        + "\n"
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [ingestion.machine_registry, ingestion.raw_dumps, ingestion.maintenance_log],
            resources=platform_resources(Settings(home=home)),
            instance=instance,
        )
        assert result.success
        touched = result.asset_materializations_for_node("raw_dumps")[0].metadata["touched_days"]
        assert now.date().isoformat() in touched.value
        from assets.definitions import defs

        ctx = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
        keys = {
            r.partition_key for r in automation.late_data_sensor.evaluate_tick(ctx).run_requests
        }
        assert START.isoformat() in keys and now.date().isoformat() not in keys
