"""Small read helpers: which tables exist, and query results as dicts (the report reads a
warehouse and a twin store that may lack tables on a young platform)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import duckdb

from dt_platform.warehouse import table_names


def missing_tables(con: duckdb.DuckDBPyConnection, *names: str) -> list[str]:
    present = table_names(con)
    return [n for n in names if n not in present]


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or {})
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


def twin_rows(con: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


def twin_tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of the UTC day."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
