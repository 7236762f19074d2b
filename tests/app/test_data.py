"""The dashboard's queries on a warehouse the platform built (simulated line, full demo run)."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import polars as pl
import pytest

from app import data
from dt_platform.warehouse import Warehouse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def con(platform):
    with Warehouse(platform.settings.warehouse_path).read() as c:
        yield c


def test_the_platform_fixture_holds_what_these_tests_read(con) -> None:
    """Each query below is checked on rows, not on an empty frame that would pass anything."""
    assert len(data.prediction_days(con)) >= 2
    machines = data.machines(con)
    assert machines.height >= 4 and machines["active"].all()
    for machine_id in machines["machine_id"]:
        assert data.rul_history(con, [machine_id]).height >= 2, machine_id
        assert data.damage_history(con, machine_id).height > 0, machine_id
        assert data.work_orders(con, machine_id).height > 0, machine_id
    assert (data.audit_snapshots(con)["status"] == "anchored").sum() >= 2


@pytest.fixture
def con_with_alerts(platform, tmp_path):
    """A copy of the platform's warehouse with alerts on two days (the small demo line raises
    none by itself), so the alert queries are checked on rows."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(platform.settings.warehouse_path, copy)
    c = duckdb.connect(str(copy))
    newest, before = data.prediction_days(c)[:2]
    c.execute(
        """INSERT INTO maintenance_alerts BY NAME
           SELECT * FROM (VALUES
               ($newest, 'SMT-01', 'smt_placer', 0.62, 'warning', 'likely within 72 h'),
               ($newest, 'CNC-01', 'cnc_spindle', 0.91, 'critical', 'likely within 24 h'),
               ($before, 'CNC-01', 'cnc_spindle', 0.55, 'warning', 'likely within 72 h'))
             AS t(day, machine_id, machine_type, probability, severity, reason)""",
        {"newest": newest, "before": before},
    )
    yield c, newest
    c.close()


def test_fleet_status_lists_every_active_machine_with_its_newest_estimate(con) -> None:
    day = data.latest_prediction_day(con)
    assert day is not None and data.prediction_days(con)[0] == day
    status = data.fleet_status(con, day)
    machines = data.machines(con)
    assert sorted(status["machine_id"]) == sorted(machines.filter("active")["machine_id"])
    expected = con.execute(
        """SELECT machine_id, rul_fused_h FROM rul_predictions WHERE day = ?
           QUALIFY row_number() OVER (PARTITION BY machine_id ORDER BY ts DESC) = 1""",
        [day],
    ).pl()
    joined = status.join(expected, on="machine_id", suffix="_expected")
    assert joined.height == expected.height > 0
    assert (joined["rul_fused_h"] == joined["rul_fused_h_expected"]).all()
    estimated = status.drop_nulls("rul_fused_h")
    assert (estimated["rul_fused_lo_h"] <= estimated["rul_fused_h"]).all()
    assert (estimated["rul_fused_h"] <= estimated["rul_fused_hi_h"]).all()


def test_machine_queries(con) -> None:
    machine = data.machines(con).row(0, named=True)
    mid = machine["machine_id"]
    history = data.rul_history(con, [mid])
    assert history["machine_id"].unique().to_list() == [mid] and history["ts"].is_sorted()
    sensors = data.machine_sensors(con, machine["machine_type"])["sensor"].to_list()
    day = data.latest_prediction_day(con)
    hourly = data.sensor_hourly(con, mid, sensors[:2], day, day)
    raw = con.execute(
        "SELECT count(*) FROM telemetry WHERE machine_id = ? AND day = ? AND sensor IN (?, ?)",
        [mid, day, *sensors[:2]],
    ).fetchone()[0]
    assert hourly["readings"].sum() == raw > 0  # every reading counted once, flagged or not
    assert hourly.height <= 24 * 2
    damage = data.damage_history(con, mid)
    assert damage.height > 0 and damage["damage"].min() >= 0 and damage["ts"].is_sorted()
    orders = data.work_orders(con, mid)
    stored = con.execute("SELECT count(*) FROM maintenance_log WHERE machine_id = ?", [mid])
    assert orders.height == stored.fetchone()[0] > 0
    assert orders["started_at"].is_sorted(descending=True)


def test_production_by_day_limits_rows_to_the_types_asked(con) -> None:
    day = data.latest_prediction_day(con)
    start = day - dt.timedelta(days=5)
    smt = data.production_by_day(con, ["smt_placer"], start, day)
    assert smt.height > 0 and set(smt["machine_type"]) == {"smt_placer"}
    assert (smt["operating_h"] <= 24.0 + 1e-9).all() and (smt["output"] > 0).all()
    assert set(smt["output_unit"]) == {"placements"}
    assert data.production_by_day(con, [], start, day).is_empty()
    everything = data.production_by_day(con, data.machines(con)["machine_type"], start, day)
    assert everything.height > smt.height


def test_alerts_and_audit_tables(con, con_with_alerts) -> None:
    with_alerts, day = con_with_alerts
    alerts = data.alerts_of_day(with_alerts, day)
    stored = with_alerts.execute(
        "SELECT count(*) FROM maintenance_alerts WHERE day = ?", [day]
    ).fetchone()
    assert alerts.height == stored[0] == 2
    assert alerts["machine_id"].to_list() == ["CNC-01", "SMT-01"]  # most probable first
    history = data.alert_history(with_alerts)
    total = with_alerts.execute("SELECT count(*) FROM maintenance_alerts").fetchone()[0]
    assert history["alerts"].sum() == total == 3 and history["day"].is_sorted()
    assert history.filter(pl.col("severity") == "critical")["alerts"].to_list() == [1]
    snapshots = data.audit_snapshots(con)
    assert snapshots.height > 0 and (snapshots["status"] == "anchored").any()
    assert snapshots["day"].is_sorted(descending=True)


def test_alert_and_failure_marks_of_a_machine(con, con_with_alerts) -> None:
    with_alerts, day = con_with_alerts
    marks = data.alert_marks(with_alerts, "CNC-01")
    assert marks.height == 2 and marks["day"].n_unique() == 2  # one mark per alert day
    assert set(marks.filter(pl.col("day") == day)["severity"]) == {"critical"}
    assert data.alert_marks(with_alerts, "OVEN-01").is_empty()
    logged = con.execute(
        "SELECT machine_id, count(*) FROM maintenance_log WHERE kind = 'corrective' GROUP BY 1"
    ).fetchall()
    assert logged, "the demo line should have logged at least one failure"
    for machine_id, n in logged:
        failures = data.failure_marks(con, machine_id)
        assert failures.height == n and failures["started_at"].is_sorted()
    quiet = set(data.machines(con)["machine_id"]) - {m for m, _ in logged}
    assert all(data.failure_marks(con, m).is_empty() for m in quiet)


def test_a_fresh_warehouse_reads_as_empty_frames_of_the_same_schema(con, tmp_path) -> None:
    """A page written against the real columns works unchanged before any data arrives."""
    empty = duckdb.connect(str(tmp_path / "empty.duckdb"))
    day = data.latest_prediction_day(con)
    mid = data.machines(con)["machine_id"][0]
    assert data.prediction_days(empty) == [] and data.latest_prediction_day(empty) is None
    queries = {
        "machines": lambda c: data.machines(c),
        "fleet_status": lambda c: data.fleet_status(c, day),
        "rul_history": lambda c: data.rul_history(c, [mid]),
        "sensor_hourly": lambda c: data.sensor_hourly(c, mid, ["vacuum_kpa"], day, day),
        "damage_history": lambda c: data.damage_history(c, mid),
        "work_orders": lambda c: data.work_orders(c, mid),
        "alerts_of_day": lambda c: data.alerts_of_day(c, day),
        "alert_history": lambda c: data.alert_history(c),
        "alert_marks": lambda c: data.alert_marks(c, mid),
        "failure_marks": lambda c: data.failure_marks(c, mid),
        "production_by_day": lambda c: data.production_by_day(c, ["smt_placer"], day, day),
        "audit_snapshots": lambda c: data.audit_snapshots(c),
    }
    for name, query in queries.items():
        frame = query(empty)
        assert isinstance(frame, pl.DataFrame) and frame.is_empty(), name
        assert frame.schema == query(con).schema, name
