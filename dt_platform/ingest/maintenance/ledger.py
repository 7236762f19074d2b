"""The export ledger (``maintenance_files``): every content each export path has held, in arrival
order, with what became of its lines; and the check that every file balances against the stored
rows.

Arrival order decides which export is *later*. A path whose content is new gets the next number;
the same content under a new name (a re-send, a copy) keeps the number it had when it first
arrived, so an old export sent again can never undo a correction that came after it; a path
whose content changes (a corrected export) gets a new number, so it wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from dt_platform.warehouse import table_names

CURRENT = ("loaded", "duplicate_file", "quarantined")
"""Statuses of what landing holds now; ``replaced`` and ``removed`` rows are history."""

_DDL = [
    """CREATE TABLE IF NOT EXISTS maintenance_files (
        path VARCHAR NOT NULL,      -- relative to landing: cmms/<name>.csv
        sha256 VARCHAR,             -- NULL when the entry was not read
        seq BIGINT,                 -- arrival order of this content: the later export wins
        size_bytes BIGINT,
        mtime_ns BIGINT,
        status VARCHAR NOT NULL,    -- loaded | duplicate_file | quarantined | replaced | removed
        reason VARCHAR,
        detail VARCHAR,
        duplicate_of VARCHAR,
        rows_in BIGINT NOT NULL,    -- as of the last run that read this content
        rows_loaded BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        rows_superseded BIGINT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        checked_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS maintenance_superseded (
        work_order VARCHAR NOT NULL,
        source_file VARCHAR NOT NULL,
        line BIGINT NOT NULL,
        raw VARCHAR,
        superseded_by_file VARCHAR NOT NULL,
        superseded_by_line BIGINT NOT NULL
    )""",
]

_COLUMNS = (
    "path, sha256, seq, size_bytes, mtime_ns, status, reason, detail, duplicate_of, rows_in, "
    "rows_loaded, rows_rejected, rows_superseded, first_seen, checked_at"
)


@dataclass
class FileRow:
    """One row of ``maintenance_files``."""

    path: str
    sha256: str | None
    seq: int | None
    size_bytes: int | None
    mtime_ns: int | None
    status: str
    reason: str | None = None
    detail: str | None = None
    duplicate_of: str | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_superseded: int = 0
    first_seen: dt.datetime | None = None
    checked_at: dt.datetime | None = None

    def values(self) -> tuple:
        return tuple(getattr(self, c.strip()) for c in _COLUMNS.split(","))


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        con.execute(statement)


def history(con: duckdb.DuckDBPyConnection) -> list[FileRow]:
    """The ledger's rows of content that was read (refused entries are not history)."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM maintenance_files WHERE sha256 IS NOT NULL"
    ).fetchall()
    return [FileRow(*row) for row in rows]


def assign_seqs(past: Iterable[FileRow], present: list[tuple[str, str]]) -> list[int]:
    """The arrival number of each (path, sha256) of ``present``, given in arrival order."""
    first_of_sha: dict[str, int] = {}
    last_of_path: dict[str, tuple[int, str]] = {}
    top = 0
    for row in past:
        first_of_sha[row.sha256] = min(row.seq, first_of_sha.get(row.sha256, row.seq))
        last_of_path[row.path] = max((row.seq, row.sha256), last_of_path.get(row.path, (0, "")))
        top = max(top, row.seq)
    seqs = []
    for path, sha in present:
        last = last_of_path.get(path)
        if last is not None and last[1] == sha:
            seq = last[0]  # unchanged
        elif last is None and sha in first_of_sha:
            seq = first_of_sha[sha]  # a re-send under a new name keeps its first place
        else:
            top += 1  # new content, or a path whose content changed: a later export
            seq = top
        first_of_sha.setdefault(sha, seq)
        seqs.append(seq)
    return seqs


def write_ledger(
    con: duckdb.DuckDBPyConnection, past: list[FileRow], current: list[FileRow]
) -> None:
    """Replace the ledger by ``current`` plus the history it does not cover."""
    now_paths = {r.path for r in current}
    now_keys = {(r.path, r.sha256) for r in current if r.sha256}
    first_seen = {(r.path, r.sha256): r.first_seen for r in past}
    for row in current:
        row.first_seen = first_seen.get((row.path, row.sha256)) or row.checked_at
    kept = []
    for row in past:
        if (row.path, row.sha256) in now_keys:
            continue
        row.status = "replaced" if row.path in now_paths else "removed"
        kept.append(row)
    con.execute("DELETE FROM maintenance_files")
    rows = [r.values() for r in [*kept, *current]]
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO maintenance_files ({_COLUMNS}) VALUES ({marks})", rows)


_UNBALANCED_SQL = """
WITH current AS (SELECT * FROM maintenance_files WHERE status IN ('loaded', 'duplicate_file',
                                                                  'quarantined')),
stored AS (
    SELECT c.path, c.rows_in, c.rows_loaded, c.rows_rejected, c.rows_superseded,
        (SELECT count(*) FROM maintenance_log l WHERE l.source_file = c.path) AS loaded,
        (SELECT count(*) FROM maintenance_rejects j WHERE j.source_file = c.path) AS rejected,
        (SELECT count(*) FROM maintenance_superseded s WHERE s.source_file = c.path) AS superseded
    FROM current c
),
orphans AS (
    SELECT source_file FROM maintenance_log UNION SELECT source_file FROM maintenance_rejects
    UNION SELECT source_file FROM maintenance_superseded
)
SELECT path, rows_in, rows_loaded, rows_rejected, rows_superseded, loaded, rejected, superseded
FROM stored
WHERE rows_in <> rows_loaded + rows_rejected + rows_superseded
   OR rows_loaded <> loaded OR rows_rejected <> rejected OR rows_superseded <> superseded
UNION ALL
SELECT source_file, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM orphans
WHERE source_file NOT IN (SELECT path FROM current)
ORDER BY 1
"""

UNBALANCED_COLUMNS = (
    "file",
    "rows in",
    "loaded",
    "rejected",
    "superseded",
    "stored loaded",
    "stored rejected",
    "stored superseded",
)


def unbalanced_exports(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Exports whose counts do not add up, or disagree with the stored rows (columns
    ``UNBALANCED_COLUMNS``); stored rows of a file the ledger does not hold come with NULL
    counts. Empty when every line is accounted for (or nothing was loaded yet)."""
    if not {"maintenance_files", "maintenance_superseded"} <= table_names(con):
        return []
    return con.execute(_UNBALANCED_SQL).fetchall()


def exports_without_work_orders(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Exports of landing that contribute no work order (neither loaded nor superseded), with
    their reasons: (file, status, rows in, reasons)."""
    if "maintenance_files" not in table_names(con):
        return []
    return con.execute(
        """SELECT f.path, f.status, f.rows_in,
                  coalesce((SELECT string_agg(DISTINCT j.reason, ', ' ORDER BY j.reason)
                            FROM maintenance_rejects j WHERE j.source_file = f.path),
                           'no work orders') AS reasons
           FROM maintenance_files f
           WHERE f.status IN ('loaded', 'quarantined')
             AND f.rows_loaded + f.rows_superseded = 0
           ORDER BY 1"""
    ).fetchall()
