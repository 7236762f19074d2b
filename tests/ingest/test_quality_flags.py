"""Data-quality flags against the simulator's ground truth of injected sensor faults."""

import datetime as dt
from pathlib import Path

import pytest

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.ingest.loader import ingest_landing
from dt_platform.ingest.registry import load_registry, sync_registry
from dt_platform.ingest.telemetry import build_telemetry_day
from dt_platform.sim import SimConfig, simulate_line
from dt_platform.warehouse import Warehouse

START = dt.date(2026, 5, 4)


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    home: Path = tmp_path_factory.mktemp("quality")
    simulate_line(
        SimConfig(machines=8, days=3, seed=21, start=START, interval_s=60, fault_scale=4.0),
        home / "landing",
        truth_dir=home / "truth",
        registry_path=home / "machines.yaml",
    )
    warehouse = Warehouse(home / "warehouse.duckdb")
    with warehouse.write() as con:
        sync_registry(con, load_registry(home / "machines.yaml"))
        ingest_landing(con, home / "landing")
        for i in range(-1, 4):
            build_telemetry_day(con, START + dt.timedelta(days=i))
        con.execute("CREATE TABLE tagmap (machine_type VARCHAR, tag VARCHAR, sensor VARCHAR)")
        con.executemany(
            "INSERT INTO tagmap VALUES (?, ?, ?)",
            [(t, s.tag, s.name) for t, m in MACHINE_TYPES.items() for s in m.sensors],
        )
        con.execute(
            f"""CREATE TABLE faults AS
                SELECT f.*, tm.sensor AS name FROM read_parquet('{home}/truth/faults.parquet') f
                JOIN machines m USING (machine_id)
                JOIN tagmap tm ON tm.machine_type = m.machine_type AND tm.tag = f.sensor"""
        )
    return warehouse


def test_stuck_transmitters_are_flagged(flagged: Warehouse) -> None:
    with flagged.read() as con:
        total, hit = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE t.quality = 'stuck') FROM faults f
               JOIN telemetry t ON t.machine_id = f.machine_id AND t.sensor = f.name
                    AND t.ts BETWEEN f.start AND f."end"
               WHERE f.kind = 'stuck'"""
        ).fetchone()
    assert total > 500
    assert hit / total >= 0.7


def test_plausible_spikes_are_flagged_and_normal_data_is_not(flagged: Warehouse) -> None:
    with flagged.read() as con:
        events, caught = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM telemetry t WHERE t.machine_id = f.machine_id
                   AND t.sensor = f.name AND t.ts = f.start AND t.quality = 'spike'))
               FROM faults f
               WHERE f.kind = 'spike' AND NOT f.implausible
                 -- a spike drawn within the sensor's normal spread cannot be told apart
                 AND abs(f.value - (SELECT median(value) FROM telemetry t
                                    WHERE t.machine_id = f.machine_id AND t.sensor = f.name
                                      AND t.ts BETWEEN f.start - INTERVAL 10 MINUTE
                                                   AND f.start + INTERVAL 10 MINUTE)) > 0.05 * abs(f.value)"""
        ).fetchone()
        readings, false_flags = con.execute(
            """SELECT (SELECT count(*) FROM telemetry), count(*) FROM telemetry t
               WHERE t.quality <> 'ok' AND NOT EXISTS (
                   SELECT 1 FROM faults f WHERE f.machine_id = t.machine_id AND f.name = t.sensor
                   AND t.ts BETWEEN f.start - INTERVAL 10 MINUTE AND f."end" + INTERVAL 10 MINUTE)"""
        ).fetchone()
    assert events >= 10
    assert caught / events >= 0.8
    assert false_flags / readings < 1e-3
