"""The dashboard's queries on a warehouse the platform built (simulated line, full demo run)."""

from __future__ import annotations

import datetime as dt

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
    assert damage.is_empty() or damage["damage"].min() >= 0
    orders = data.work_orders(con, mid)
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


def test_alerts_and_audit_tables(con) -> None:
    day = data.latest_prediction_day(con)
    alerts = data.alerts_of_day(con, day)
    stored = con.execute("SELECT count(*) FROM maintenance_alerts WHERE day = ?", [day]).fetchone()
    assert alerts.height == stored[0]
    history = data.alert_history(con)
    total = con.execute("SELECT count(*) FROM maintenance_alerts").fetchone()[0]
    assert history["alerts"].sum() == total
    snapshots = data.audit_snapshots(con)
    assert snapshots.height > 0 and (snapshots["status"] == "anchored").any()
    assert snapshots["day"].is_sorted(descending=True)


def test_a_fresh_warehouse_reads_as_empty_frames(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    day = dt.date(2026, 12, 1)
    assert data.prediction_days(con) == [] and data.latest_prediction_day(con) is None
    for frame in (
        data.machines(con),
        data.fleet_status(con, day),
        data.rul_history(con, ["X"]),
        data.sensor_hourly(con, "X", ["s"], day, day),
        data.damage_history(con, "X"),
        data.work_orders(con, "X"),
        data.alerts_of_day(con, day),
        data.alert_history(con),
        data.production_by_day(con, ["smt_placer"], day, day),
        data.audit_snapshots(con),
    ):
        assert isinstance(frame, pl.DataFrame) and frame.is_empty()
