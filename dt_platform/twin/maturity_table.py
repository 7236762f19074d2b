"""The DuckDB table ``twin_maturity``: one row per day and machine — its level, the evidence
document (canonical JSON) and that document's sha256. A day is replaced whole, so materializing
it again gives the same rows; the ``twin_maturity`` snapshot source makes each row a record of the
day's audit snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from dt_platform.twin.maturity import Assessment
from dt_platform.warehouse import table_names

TABLE = "twin_maturity"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    day             DATE NOT NULL,
    machine_id      VARCHAR NOT NULL,
    level           INTEGER NOT NULL,
    level_name      VARCHAR NOT NULL,
    evidence        VARCHAR NOT NULL,   -- canonical JSON (dt_platform.twin.maturity)
    evidence_sha256 VARCHAR NOT NULL
)
"""


@dataclass(frozen=True)
class LatestLevel:
    """A machine's level on the newest day computed for it: what the chain should hold."""

    machine_id: str
    machine_type: str
    day: dt.date
    level: int
    evidence: str
    evidence_sha256: str


def ensure_maturity_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def replace_maturity_day(
    con: duckdb.DuckDBPyConnection, day: dt.date, assessments: Sequence[Assessment]
) -> int:
    """Replace ``day``'s rows with ``assessments`` (one transaction); returns the row count."""
    ensure_maturity_table(con)
    rows = [
        (day, a.machine_id, a.level, a.level_name, a.evidence_json, a.evidence_sha256)
        for a in assessments
    ]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {TABLE} WHERE day = ?", [day])
        if rows:
            con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(rows)


def latest_levels(con: duckdb.DuckDBPyConnection) -> list[LatestLevel]:
    """Per registered machine, its row of the newest day in the table."""
    if TABLE not in table_names(con) or "machines" not in table_names(con):
        return []
    rows = con.execute(
        f"""SELECT t.machine_id, m.machine_type, t.day, t.level, t.evidence, t.evidence_sha256
            FROM {TABLE} t JOIN machines m USING (machine_id)
            QUALIFY row_number() OVER (PARTITION BY t.machine_id ORDER BY t.day DESC) = 1
            ORDER BY t.machine_id"""
    ).fetchall()
    return [LatestLevel(r[0], r[1], r[2], int(r[3]), r[4], r[5]) for r in rows]
