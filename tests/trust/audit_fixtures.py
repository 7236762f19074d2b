"""Helpers shared by the audit tests: a small synthetic day of telemetry in the real schema.

Plain functions, not fixtures (no conftest): each test module builds what it needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from pathlib import Path

import duckdb
import pyarrow as pa

from dt_platform.trust.anvil import free_port  # noqa: F401  (re-exported for the audit tests)
from dt_platform.trust.ipfs import EmbeddedIpfs

DAY = dt.date(2026, 11, 20)
MACHINES = (("SMT-01", "smt_placer"), ("CNC-01", "cnc_spindle"), ("OVEN-01", "reflow_oven"))
SENSORS = {
    "smt_placer": ("vacuum_kpa", "head_temp_c"),
    "cnc_spindle": ("vibration_rms_mm_s", "spindle_temp_c"),
    "reflow_oven": ("zone1_temp_c", "heater_duty_pct"),
}


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def telemetry_rows(
    day: dt.date = DAY, *, per_hour: int = 6, hours: int = 24, seed: int = 7
) -> list[tuple]:
    """Rows for ``telemetry``: every machine and sensor, ``per_hour`` readings an hour.

    Values have full double precision (not round numbers) and a few readings carry the
    ``spike``/``stuck`` flags, like the real table.
    """
    rng = random.Random(seed)
    start = day_start(day)
    step = dt.timedelta(seconds=3600 // per_hour)
    rows = []
    for machine_id, machine_type in MACHINES:
        for sensor in SENSORS[machine_type]:
            base = rng.uniform(20.0, 200.0)
            for i in range(hours * per_hour):
                ts = start + i * step + dt.timedelta(microseconds=rng.randrange(1_000_000))
                quality = rng.choices(("ok", "spike", "stuck"), (0.94, 0.03, 0.03))[0]
                rows.append(
                    (day, machine_id, machine_type, sensor, ts, base + rng.gauss(0, 3), quality)
                )
    return rows


def insert_telemetry(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Bulk insert through Arrow (``executemany`` costs milliseconds per row in DuckDB)."""
    columns = list(zip(*rows, strict=True))
    batch = pa.table(
        {
            "day": pa.array(columns[0], pa.date32()),
            "machine_id": pa.array(columns[1], pa.string()),
            "machine_type": pa.array(columns[2], pa.string()),
            "sensor": pa.array(columns[3], pa.string()),
            "ts": pa.array(columns[4], pa.timestamp("us", tz="UTC")),
            "value": pa.array(columns[5], pa.float64()),
            "quality": pa.array(columns[6], pa.string()),
        }
    )
    con.register("_telemetry_batch", batch)
    try:
        con.execute("INSERT INTO telemetry SELECT * FROM _telemetry_batch")
    finally:
        con.unregister("_telemetry_batch")


def create_rul_predictions(con: duckdb.DuckDBPyConnection, day: dt.date = DAY) -> None:
    """A small stand-in for the prognostics' ``rul_predictions`` table (not built yet)."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS rul_predictions (
            day DATE NOT NULL, machine_id VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL,
            rul_hours DOUBLE, rul_p05_hours DOUBLE, rul_p95_hours DOUBLE, model_version VARCHAR)"""
    )
    start = day_start(day)
    for n, (machine_id, _) in enumerate(MACHINES):
        for h in (6, 18):
            con.execute(
                "INSERT INTO rul_predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    day,
                    machine_id,
                    start + dt.timedelta(hours=h),
                    1000.0 / (n + 1) - h * 0.1,
                    800.0 / (n + 1),
                    1300.0 / (n + 1),
                    "xgb-3f2a",
                ],
            )


def add_loaded_file(
    con: duckdb.DuckDBPyConnection, path: str, days: list[dt.date], ingested_at: dt.datetime
) -> int:
    """A ``file_ledger`` row for a loaded dump covering ``days``; returns its file_id."""
    (file_id,) = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM file_ledger").fetchone()
    con.execute(
        """INSERT INTO file_ledger (file_id, path, sha256, size_bytes, mtime_ns, format, version,
               status, days, ingested_at)
           VALUES (?, ?, ?, 100, 0, 'csv', 1, 'loaded', ?, ?)""",
        [file_id, path, f"{file_id:064x}", days, ingested_at],
    )
    return int(file_id)


def _key(con: duckdb.DuckDBPyConnection, table: str, where: dict, values: dict) -> int:
    """The key of the ``machines``/``sensors`` row matching ``where``, added if it is missing."""
    column = "machine_key" if table == "machines" else "sensor_key"
    clause = " AND ".join(f"{k} = ?" for k in where)
    found = con.execute(f"SELECT {column} FROM {table} WHERE {clause}", list(where.values()))
    row = found.fetchone()
    if row:
        return int(row[0])
    (key,) = con.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}").fetchone()
    row_values = {column: key, **where, **values}
    con.execute(
        f"INSERT INTO {table} ({', '.join(row_values)}) VALUES ({', '.join('?' * len(row_values))})",
        list(row_values.values()),
    )
    return int(key)


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: str,
    rows: list[tuple],
    ingested_at: dt.datetime,
    *,
    content: bytes | None = None,
    version: int = 1,
) -> int:
    """A loaded dump as ingestion leaves it: a ``file_ledger`` row and its ``readings``.

    ``rows`` are :func:`telemetry_rows` tuples (their quality flags are not readings' business).
    Build the days' ``telemetry`` afterwards with ``build_telemetry_day``. ``content`` stands for
    the file's bytes (its sha256 goes to the ledger); by default the path and rows.
    """
    (file_id,) = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM file_ledger").fetchone()
    content = content if content is not None else f"{path}:{rows!r}".encode()
    days = sorted({r[0] for r in rows})
    con.execute(
        """INSERT INTO file_ledger (file_id, path, sha256, size_bytes, mtime_ns, format, version,
               status, rows_in, rows_loaded, rows_rejected, first_ts, last_ts, days, ingested_at)
           VALUES (?, ?, ?, ?, 0, 'csv', ?, 'loaded', ?, ?, 0, ?, ?, ?, ?)""",
        [
            file_id,
            path,
            hashlib.sha256(content).hexdigest(),
            len(content),
            version,
            len(rows),
            len(rows),
            min(r[4] for r in rows),
            max(r[4] for r in rows),
            days,
            ingested_at,
        ],
    )
    keys: dict[tuple[str, str], tuple[int, int]] = {}
    for _, machine_id, machine_type, sensor, *_ in rows:
        if (machine_id, sensor) not in keys:
            machine = {"machine_type": machine_type, "active": True}
            extra = {"tag": sensor, "quantity": "test", "unit": "1", "low": -1e9, "high": 1e9}
            keys[machine_id, sensor] = (
                _key(con, "machines", {"machine_id": machine_id}, machine),
                _key(con, "sensors", {"machine_type": machine_type, "sensor": sensor}, extra),
            )
    readings = [(*keys[r[1], r[3]], r[4], r[5], file_id) for r in rows]
    columns = list(zip(*readings, strict=True))
    batch = pa.table(
        {
            "machine_key": pa.array(columns[0], pa.uint16()),
            "sensor_key": pa.array(columns[1], pa.uint16()),
            "ts": pa.array(columns[2], pa.timestamp("us", tz="UTC")),
            "value": pa.array(columns[3], pa.float64()),
            "file_id": pa.array(columns[4], pa.int32()),
        }
    )
    con.register("_readings_batch", batch)
    try:
        con.execute("INSERT INTO readings SELECT * FROM _readings_batch")
    finally:
        con.unregister("_readings_batch")
    return int(file_id)


def hour_of(ts: dt.datetime) -> str:
    """The digest key text of the hour holding ``ts``."""
    h = ts.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return h.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def only_hash_cid(folder: Path, scratch: Path) -> str:
    """The CID ``ipfs add -r --cid-version=1 --only-hash`` gives the folder."""
    return EmbeddedIpfs(scratch / "hash-only-store").add_path(folder, only_hash=True)
