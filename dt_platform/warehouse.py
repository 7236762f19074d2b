"""The DuckDB warehouse: one file, one writer at a time, any number of short-lived readers.

DuckDB lets one process open a database file read-write, and no other process may open it at
all meanwhile. So writers take an exclusive file lock (``warehouse.lock``) for the duration of
their work — the Dagster ``duckdb_writer`` pool keeps runs from queueing on it, the lock makes
every other writer (the CLI, tests, a second Dagster instance) safe too — and readers open the
file read-only for a short query, retrying while a writer holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from dt_platform.catalog import MACHINE_TYPES

SCHEMA_VERSION = 1

# Tables written by ingestion. Other modules (prognostics, trust) create their own tables next to
# their code; this is the ground floor everyone reads.
_DDL = [
    """CREATE TABLE IF NOT EXISTS schema_info (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sensors (
        sensor_key USMALLINT PRIMARY KEY,
        machine_type VARCHAR NOT NULL,
        tag VARCHAR NOT NULL,
        sensor VARCHAR NOT NULL,
        quantity VARCHAR NOT NULL,
        unit VARCHAR NOT NULL,
        low DOUBLE NOT NULL,
        high DOUBLE NOT NULL,
        description VARCHAR,
        UNIQUE (machine_type, tag)
    )""",
    """CREATE TABLE IF NOT EXISTS machines (
        machine_key USMALLINT PRIMARY KEY,
        machine_id VARCHAR NOT NULL UNIQUE,
        machine_type VARCHAR NOT NULL,
        line VARCHAR,
        gateway VARCHAR,
        installed DATE,
        active BOOLEAN NOT NULL,
        attributes JSON
    )""",
    """CREATE TABLE IF NOT EXISTS file_ledger (
        file_id INTEGER PRIMARY KEY,
        path VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        size_bytes BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        format VARCHAR,
        gateway VARCHAR,
        version INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        reason VARCHAR,
        detail VARCHAR,
        duplicate_of INTEGER,
        superseded_by INTEGER,
        records_in BIGINT,
        records_parsed BIGINT,
        records_malformed BIGINT,
        rows_in BIGINT,
        rows_loaded BIGINT,
        rows_rejected BIGINT,
        first_ts TIMESTAMPTZ,  -- span of the valid timestamps the file covers
        last_ts TIMESTAMPTZ,
        days DATE[],
        ingested_at TIMESTAMPTZ NOT NULL,
        ctime_ns BIGINT  -- with size and mtime, how the file looked when read (see loader)
    )""",
    # Warehouses created before the column existed get it; their files are read once more.
    "ALTER TABLE file_ledger ADD COLUMN IF NOT EXISTS ctime_ns BIGINT",
    """CREATE TABLE IF NOT EXISTS readings (
        machine_key USMALLINT NOT NULL,
        sensor_key USMALLINT NOT NULL,
        ts TIMESTAMPTZ NOT NULL,
        value DOUBLE NOT NULL,
        file_id INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS telemetry_rejects (
        file_id INTEGER NOT NULL,
        source_file VARCHAR NOT NULL,
        line BIGINT,
        machine_id VARCHAR,
        sensor VARCHAR,
        unit VARCHAR,
        ts_text VARCHAR,
        raw_value VARCHAR,
        reason VARCHAR NOT NULL,
        detail VARCHAR,
        rejected_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS telemetry (
        day DATE NOT NULL,
        machine_id VARCHAR NOT NULL,
        machine_type VARCHAR NOT NULL,
        sensor VARCHAR NOT NULL,
        ts TIMESTAMPTZ NOT NULL,
        value DOUBLE NOT NULL,
        quality VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS maintenance_log (
        work_order VARCHAR PRIMARY KEY,
        machine_id VARCHAR NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        kind VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        component VARCHAR,
        notes VARCHAR,
        source_file VARCHAR NOT NULL,
        line BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS maintenance_rejects (
        source_file VARCHAR NOT NULL,
        line BIGINT,
        raw VARCHAR,
        reason VARCHAR NOT NULL,
        detail VARCHAR
    )""",
    # Readable view over the compact readings table: loaded files only (superseded versions and
    # duplicates are kept for the record but are not telemetry).
    """CREATE OR REPLACE VIEW readings_v AS
        SELECT m.machine_id, m.machine_type, s.sensor, s.unit, r.ts, r.value, r.file_id
        FROM readings r
        JOIN file_ledger f ON f.file_id = r.file_id AND f.status = 'loaded'
        JOIN machines m ON m.machine_key = r.machine_key
        JOIN sensors s ON s.sensor_key = r.sensor_key""",
]


def _sync_sensor_catalog(con: duckdb.DuckDBPyConnection) -> None:
    """Give every catalogue sensor a stable small-integer key (new sensors are appended)."""
    known = {
        (t, g): k
        for k, t, g in con.execute("SELECT sensor_key, machine_type, tag FROM sensors").fetchall()
    }
    next_key = max(known.values(), default=0) + 1
    for mtype in MACHINE_TYPES.values():
        for s in mtype.sensors:
            if (mtype.name, s.tag) in known:
                con.execute(
                    "UPDATE sensors SET sensor=?, quantity=?, unit=?, low=?, high=?, description=? "
                    "WHERE sensor_key=?",
                    [
                        s.name,
                        s.quantity,
                        s.unit,
                        s.low,
                        s.high,
                        s.description,
                        known[(mtype.name, s.tag)],
                    ],
                )
                continue
            con.execute(
                "INSERT INTO sensors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    next_key,
                    mtype.name,
                    s.tag,
                    s.name,
                    s.quantity,
                    s.unit,
                    s.low,
                    s.high,
                    s.description,
                ],
            )
            next_key += 1


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        con.execute(statement)
    con.execute(
        "INSERT OR REPLACE INTO schema_info VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
    )
    _sync_sensor_catalog(con)


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables and views of the connection's current schema (a fresh warehouse has few)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = current_schema()"
    ).fetchall()
    return {name for (name,) in rows}


class WarehouseBusy(RuntimeError):
    """The warehouse stayed locked by a writer for longer than the reader was willing to wait."""


class WarehouseUnreadable(RuntimeError):
    """The warehouse file exists but DuckDB cannot open it (damaged, or not a DuckDB file)."""


class Warehouse:
    """Access to the DuckDB file. ``write()`` serializes writers; ``read()`` opens read-only."""

    def __init__(self, path: Path, *, lock_timeout_s: float = 600.0) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_suffix(".lock")
        self.lock_timeout_s = lock_timeout_s

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock_file:
            deadline = time.monotonic() + self.lock_timeout_s
            while True:
                try:
                    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WarehouseBusy(
                            f"another writer has held {self.lock_path} for over "
                            f"{self.lock_timeout_s:.0f} s"
                        ) from None
                    time.sleep(0.1)
            try:
                con = self._connect(read_only=False, timeout_s=self.lock_timeout_s)
                try:
                    # Checkpoint once, when the writer is done, not at every commit that pushes
                    # the WAL past DuckDB's 16 MB default (ingestion commits once per file).
                    con.execute("SET checkpoint_threshold = '4GB'")
                    ensure_schema(con)
                    yield con
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def read(self, *, timeout_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.path.exists():
            # An empty warehouse reads as an empty schema rather than failing.
            with self.write():
                pass
        con = self._connect(read_only=True, timeout_s=timeout_s)
        try:
            yield con
        finally:
            con.close()

    def _connect(self, *, read_only: bool, timeout_s: float) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                con.execute("SET TimeZone = 'UTC'")
                return con
            except duckdb.IOException as exc:
                if not _held_by_another_process(exc):
                    raise WarehouseUnreadable(
                        f"{self.path} cannot be opened: {exc}. If the file is damaged, restore it "
                        "from a backup, or move it away and let the platform rebuild it from "
                        "landing (the ledger and the chain's anchors tell what it held)"
                    ) from exc
                if time.monotonic() > deadline:
                    raise WarehouseBusy(
                        f"{self.path} is held by another process ({exc}); try again shortly"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)


def _held_by_another_process(exc: duckdb.IOException) -> bool:
    # DuckDB's lock conflict, and only that: "... block at location ..." of a damaged file
    # contains the letters "lock" too.
    return "Could not set lock on file" in str(exc)
