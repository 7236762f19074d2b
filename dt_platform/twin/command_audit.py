"""The day's command events in the warehouse, where the audit snapshot reads them.

Every event of ``command_events`` (twin store, SQLite) stamped on a UTC day is copied into the
DuckDB table ``command_events`` (same columns plus ``day``); the snapshot source of the same name
(:mod:`dt_platform.trust.snapshot.sources`) makes each one a record keyed by
``(command_id, seq)``. Copying a day replaces that day's rows, so a re-run is idempotent and a
late acknowledgement stamped on an anchored day shows up as a change of that day.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import duckdb

from dt_platform.twin.command_store import open_commands

DUCKDB_DDL = """
CREATE TABLE IF NOT EXISTS command_events (
    day         DATE NOT NULL,
    seq         BIGINT NOT NULL,
    command_id  VARCHAR NOT NULL,
    machine_id  VARCHAR NOT NULL,
    "at"        TIMESTAMPTZ NOT NULL,      -- quoted: a keyword in DuckDB
    event       VARCHAR NOT NULL,
    state       VARCHAR NOT NULL,
    actor       VARCHAR,
    role        VARCHAR,
    signature   VARCHAR,
    reason      VARCHAR,
    detail      VARCHAR NOT NULL
)
"""
_COLUMNS = (
    "seq", "command_id", "machine_id", "at", "event", "state", "actor", "role", "signature",
    "reason", "detail",
)  # fmt: skip


_QUOTED = ", ".join(f'"{c}"' for c in _COLUMNS)


def ensure_command_events_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DUCKDB_DDL)


def copy_command_events(
    twin: sqlite3.Connection, warehouse: duckdb.DuckDBPyConnection, day: dt.date
) -> int:
    """Replace ``day``'s rows of the warehouse's ``command_events`` with the twin store's;
    returns how many were copied. The caller holds the warehouse's writer connection."""
    open_commands(twin)
    ensure_command_events_table(warehouse)
    rows = twin.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM command_events WHERE substr(at, 1, 10) = ? "
        "ORDER BY seq",
        (day.isoformat(),),
    ).fetchall()
    values = [
        (day, r["seq"], r["command_id"], r["machine_id"], dt.datetime.fromisoformat(r["at"]),
         *(r[c] for c in _COLUMNS[4:]))
        for r in rows
    ]  # fmt: skip
    warehouse.execute("BEGIN TRANSACTION")
    try:
        warehouse.execute("DELETE FROM command_events WHERE day = ?", [day])
        if values:
            warehouse.executemany(
                f"INSERT INTO command_events (day, {_QUOTED}) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
                values,
            )
        warehouse.execute("COMMIT")
    except BaseException:
        warehouse.execute("ROLLBACK")
        raise
    return len(values)
