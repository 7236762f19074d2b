"""kill -9 at random points: a child process ingests a landing folder and is killed while it
works; ingesting again gives exactly the data of an uninterrupted run — the same ledger, the
same readings, the same rejects, nothing lost and nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dt_platform.ingest.loader import IngestLimits, ingest_landing
from dt_platform.ingest.registry import parse_registry, sync_registry
from dt_platform.warehouse import Warehouse

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
EARLIEST = dt.datetime(2025, 12, 25, tzinfo=dt.UTC)
TRIALS = 8
CHILD = """
import datetime as dt, sys, time
from pathlib import Path
from dt_platform.ingest.loader import IngestLimits, ingest_landing
from dt_platform.warehouse import Warehouse

warehouse, landing, now, earliest = sys.argv[1:5]
limits = IngestLimits(earliest=dt.datetime.fromisoformat(earliest))
with Warehouse(Path(warehouse)).write() as con:
    print("ready", flush=True)
    start = time.perf_counter()
    ingest_landing(con, Path(landing), now=dt.datetime.fromisoformat(now), limits=limits)
print("done", time.perf_counter() - start, flush=True)
"""


def _write_landing(landing: Path) -> None:
    """A day of several gateways: clean and dirty CSV, JSON Lines, Parquet, a copy, a re-export,
    a file that is not a dump and a link."""
    rng = random.Random(7)
    t0 = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    header = "timestamp,machine_id,vacuum [kPa],placement_offset [um],head_temp [degF]\n"
    for f in range(4):
        rows = []
        for i in range(15_000):
            ts = (t0 + dt.timedelta(seconds=f * 15_000 + i)).isoformat()
            vacuum = "ERR" if rng.random() < 0.001 else f"{rng.uniform(60, 80):.2f}"
            rows.append(f"{ts},SMT-01,{vacuum},{rng.uniform(5, 20):.1f},{rng.uniform(90, 110):.1f}")
        (landing / "gw-opcua" / f"part{f}.csv").write_text(header + "\n".join(rows) + "\n")
    lines = [
        json.dumps(
            {
                "ts": (t0 + dt.timedelta(seconds=i)).isoformat(),
                "machine": "CNC-01",
                "sensor": "load",
                "value": "6_0" if i % 997 == 0 else rng.uniform(10, 90),
                "unit": "%",
            }
        )
        for i in range(8_000)
    ]
    (landing / "gw-mqtt" / "load.jsonl").write_text("\n".join(lines) + "\n{broken\n")
    n = 20_000
    pq.write_table(
        pa.table(
            {
                "machine_id": ["OVEN-01"] * n,
                "sensor": ["fan_speed"] * n,
                "unit": ["rpm"] * n,
                "ts": pa.array(
                    [t0 + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")
                ),
                "value": [900.0 + i % 50 for i in range(n)],
            }
        ),
        landing / "gw-hist" / "fans.parquet",
    )
    part0 = (landing / "gw-opcua" / "part0.csv").read_bytes()
    (landing / "gw-opcua" / "part0_resent.csv").write_bytes(part0)
    (landing / "gw-opcua" / "part1_export.csv").write_bytes(
        (landing / "gw-opcua" / "part1.csv").read_bytes().replace(b"\n", b"\r\n")
    )
    (landing / "gw-mqtt" / "notes.csv").write_text("name,phone\nAda,123\n")
    (landing / "gw-mqtt" / "link.csv").symlink_to(landing / "gw-opcua" / "part2.csv")
    for tick, path in enumerate(sorted(p for p in landing.rglob("*") if p.is_file())):
        if not path.is_symlink():
            os.utime(path, ns=(1_700_000_000_000_000_000 + tick,) * 2)


def _snapshot(warehouse: Path) -> dict:
    """Everything ingestion wrote, except the wall-clock times of the run."""
    with Warehouse(warehouse).read() as con:
        return {
            "ledger": con.execute(
                """SELECT file_id, path, sha256, size_bytes, mtime_ns, ctime_ns, format, gateway,
                          version, status, reason, detail, duplicate_of, superseded_by, records_in,
                          records_parsed, records_malformed, rows_in, rows_loaded, rows_rejected,
                          first_ts, last_ts, days
                   FROM file_ledger ORDER BY file_id"""
            ).fetchall(),
            "readings": con.execute(
                """SELECT count(*), sum(hash(machine_key, sensor_key, ts, value, file_id)::HUGEINT)
                   FROM readings"""
            ).fetchone(),
            "rejects": con.execute(
                """SELECT count(*), sum(hash(file_id, source_file, line, machine_id, sensor, unit,
                                             ts_text, raw_value, reason, detail)::HUGEINT)
                   FROM telemetry_rejects"""
            ).fetchone(),
            "telemetry": con.execute(
                "SELECT count(*), sum(hash(machine_id, sensor, ts, value)::HUGEINT) FROM readings_v"
            ).fetchone(),
        }


def _child(warehouse: Path, landing: Path) -> subprocess.Popen:
    # The private copies a killed child leaves behind land in the test's own folder.
    scratch = warehouse.parent / "tmp"
    scratch.mkdir(exist_ok=True)
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(warehouse),
            str(landing),
            NOW.isoformat(),
            EARLIEST.isoformat(),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"TMPDIR": str(scratch)},
    )


def test_a_rerun_after_kill_9_gives_the_data_of_an_uninterrupted_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for gateway in ("gw-opcua", "gw-mqtt", "gw-hist"):
        (landing / gateway).mkdir(parents=True)
    _write_landing(landing)
    empty = tmp_path / "empty.duckdb"
    with Warehouse(empty).write() as con:
        sync_registry(
            con,
            parse_registry(
                "machines:\n  - {machine_id: SMT-01, type: smt_placer}\n"
                "  - {machine_id: CNC-01, type: cnc_spindle}\n"
                "  - {machine_id: OVEN-01, type: reflow_oven}\n"
            ),
        )

    reference = tmp_path / "reference.duckdb"
    shutil.copy(empty, reference)
    child = _child(reference, landing)
    out, _ = child.communicate(timeout=600)
    assert child.returncode == 0, out
    duration = float(out.split()[-1])
    expected = _snapshot(reference)
    assert expected["readings"][0] > 100_000 and expected["rejects"][0] > 0

    rng = random.Random(2026)
    killed_mid_run = 0
    for trial in range(TRIALS):
        warehouse = tmp_path / f"trial{trial}.duckdb"
        shutil.copy(empty, warehouse)
        child = _child(warehouse, landing)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, duration * 1.1))
        killed_mid_run += child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        with Warehouse(warehouse).write() as con:
            ingest_landing(con, landing, now=NOW, limits=IngestLimits(earliest=EARLIEST))
        assert _snapshot(warehouse) == expected, f"trial {trial}"
    assert killed_mid_run >= TRIALS // 2
