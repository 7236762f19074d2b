"""The ``audit_snapshots`` table: one row per snapshot build, its state, read and written here.

A row is written before each outside call (IPFS, the chain), so whatever fails leaves the row in a
state :func:`~dt_platform.trust.audit.queue.process_pending` can resume from. Each write is one
autocommitted statement, so the row always shows the last step that completed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

PENDING_PUBLISH = "pending_publish"
PENDING_ANCHOR = "pending_anchor"
ANCHORED = "anchored"
UNCHANGED = "unchanged"
SUPERSEDED = "superseded"
AWAITING_REASON = "awaiting_reason"
LOST = "lost"
PENDING_STATES = (PENDING_PUBLISH, PENDING_ANCHOR)

_DDL = """CREATE TABLE IF NOT EXISTS audit_snapshots (
    id BIGINT PRIMARY KEY,
    partition DATE NOT NULL,
    version INTEGER,
    root VARCHAR NOT NULL,
    record_count BIGINT NOT NULL,
    snapshot_dir VARCHAR NOT NULL,
    manifest_sha256 VARCHAR NOT NULL,
    cid VARCHAR,
    tx_hash VARCHAR,
    block_number BIGINT,
    gas_used BIGINT,
    status VARCHAR NOT NULL,
    error VARCHAR,
    built_at TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ,
    anchored_at TIMESTAMPTZ,
    reason VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 0,
    detail VARCHAR,
    requeued_from BIGINT
)"""

_ADDED_COLUMNS = {"detail": "VARCHAR", "requeued_from": "BIGINT"}
"""Columns added after the table's first release: older warehouses get them on the next write."""


_COLUMNS = (
    "id",
    "partition",
    "version",
    "root",
    "record_count",
    "snapshot_dir",
    "manifest_sha256",
    "cid",
    "tx_hash",
    "block_number",
    "gas_used",
    "status",
    "error",
    "built_at",
    "published_at",
    "anchored_at",
    "reason",
    "attempts",
    "detail",
    "requeued_from",
)


def ensure_audit_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``audit_snapshots`` if it does not exist, or add the columns it lacks (writable)."""
    con.execute(_DDL)
    for column, kind in _ADDED_COLUMNS.items():
        con.execute(f"ALTER TABLE audit_snapshots ADD COLUMN IF NOT EXISTS {column} {kind}")


@dataclass
class Row:
    """One row of ``audit_snapshots``, in column order."""

    id: int
    partition: dt.date
    version: int | None
    root: str
    record_count: int
    snapshot_dir: str
    manifest_sha256: str
    cid: str | None
    tx_hash: str | None
    block_number: int | None
    gas_used: int | None
    status: str
    error: str | None
    built_at: dt.datetime
    published_at: dt.datetime | None
    anchored_at: dt.datetime | None
    reason: str | None
    attempts: int
    detail: str | None = None
    """Why the row stands where it does, for people (e.g. what an OPERATOR's reason must cover)."""
    requeued_from: int | None = None
    """For a re-anchor: the id of the row whose anchor the chain no longer holds."""

    @property
    def is_reanchor(self) -> bool:
        return self.requeued_from is not None


def _selected_columns(con: duckdb.DuckDBPyConnection) -> str:
    """The column list, with NULL for columns an older (read-only) table does not have yet."""
    present = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            "'audit_snapshots' AND table_schema = current_schema()"
        ).fetchall()
    }
    return ", ".join(c if c in present else f"NULL AS {c}" for c in _COLUMNS)


def select_rows(
    con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any] = ()
) -> list[Row]:
    """The rows matching ``where`` (SQL with ``?`` placeholders), oldest first."""
    sql = f"SELECT {_selected_columns(con)} FROM audit_snapshots WHERE {where} ORDER BY id"
    return [Row(*r) for r in con.execute(sql, list(params)).fetchall()]


def update_row(con: duckdb.DuckDBPyConnection, row: Row, **values: Any) -> None:
    """Write ``values`` to the row (and to ``row``), one autocommitted statement."""
    assignments = ", ".join(f"{k} = ?" for k in values)
    con.execute(
        f"UPDATE audit_snapshots SET {assignments} WHERE id = ?", [*values.values(), row.id]
    )
    for k, v in values.items():
        setattr(row, k, v)


def insert_row(con: duckdb.DuckDBPyConnection, **values: Any) -> Row:
    """Add a row with the next id (columns not given are NULL, ``attempts`` 0) and return it."""
    (next_id,) = con.execute("SELECT coalesce(max(id), 0) + 1 FROM audit_snapshots").fetchone()
    values = {"id": next_id, "attempts": 0, **values}
    full = {c: values.get(c) for c in _COLUMNS}
    con.execute(
        f"INSERT INTO audit_snapshots ({', '.join(_COLUMNS)}) VALUES "
        f"({', '.join('?' for _ in _COLUMNS)})",
        list(full.values()),
    )
    return select_rows(con, "id = ?", [next_id])[0]


def latest_anchored(con: duckdb.DuckDBPyConnection, day: dt.date) -> Row | None:
    """The highest anchored version of ``day`` recorded here, if any."""
    rows = select_rows(con, "partition = ? AND status = ?", [day, ANCHORED])
    return max(rows, key=lambda r: (r.version or 0, r.id)) if rows else None


def latest_committed(con: duckdb.DuckDBPyConnection, day: dt.date) -> Row | None:
    """What a rebuild of ``day`` is compared with: the newest anchored row, or a newer re-anchor
    still pending (a version the chain lost is still this warehouse's word on the day)."""
    rows = select_rows(
        con,
        "partition = ? AND (status = ? OR (status IN (?, ?) AND requeued_from IS NOT NULL))",
        [day, ANCHORED, *PENDING_STATES],
    )
    return max(rows, key=lambda r: r.id) if rows else None
