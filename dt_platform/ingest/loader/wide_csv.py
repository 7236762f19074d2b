"""Reader for wide CSV dumps: one line per machine and time, one column per sensor.

Clean rows go straight into ``readings`` (the fast path); the other rows, and the lines DuckDB
refused, go to the long stage one reading per row (the slow path)."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from dt_platform.ingest.loader.records import FileResult, _Delivery
from dt_platform.ingest.loader.rules import IngestLimits, earliest_for, used_params
from dt_platform.ingest.loader.stage import _append_long_rows, _count_records, _sensor_keys
from dt_platform.ingest.loader.wide_csv_parse import (
    _parse_wide_csv,
    _parse_wide_header,
    _reparse_wide_line,
)
from dt_platform.ingest.mapping import SensorMapping, resolve_sensor


@dataclass(frozen=True)
class _WideFile:
    """A wide CSV parsed into the table ``stage``: its sensor columns, their names in SQL, and how
    each column maps for every active machine type, keyed by (machine type, column index)."""

    stage: str
    columns: list[tuple[str, str | None]]
    names: list[str]
    mappings: dict[tuple[str, int], SensorMapping]


def _stage_wide_csv(
    con, file_id, delivery: _Delivery, now, limits: IngestLimits, result: FileResult
) -> int:
    """Stage a wide CSV; load clean rows directly and return how many readings that loaded.

    The file is materialized once, in file order (so a row's position gives its line), with the
    timestamp checked as it is read. Machines are looked up through a tiny per-file table; values
    are checked, inline, for the machine types the file holds (usually one).
    """
    columns = _parse_wide_header(delivery.data)
    names = [f"c{i}" for i in range(len(columns))]
    n_records, blank_lines = _count_records(delivery.data, skip_header=True)
    result.records_in = n_records
    mappings = _column_mappings(con, columns)
    stage, bad_lines = _parsed_stage(con, file_id, delivery, names)
    wide = _WideFile(stage, columns, names, mappings)

    # Lines DuckDB refused: re-parse each physical line to give every reading its own reason.
    slow_rows, consumed = _reparse_refused_lines(bad_lines, columns, result)
    excluded = sorted(set(blank_lines) | set(consumed))
    n_staged, first_rowid, readings_in_staged = con.execute(
        "SELECT count(*), min(rowid), "
        + " + ".join(f"count({n})" for n in names)
        + f" FROM {stage}"
    ).fetchone()
    result.records_parsed += n_staged

    present = _file_machine_types(con, stage)
    row_ok = _row_ok_sql(wide, present)
    params = limits.params(now)
    # The span counts only times some machine of the file may have (and Python can hold).
    lowest = min((limits.earliest_of(t) for t in present), default=limits.earliest)
    lo, hi, span_lo, span_hi, days = _time_span(con, stage, params | {"lowest": lowest})
    blocked = _block_repeated_keys(con, stage, lo, hi) if lo is not None else 0
    fast_loaded = _load_clean_rows(con, file_id, wide, present, row_ok, blocked, params)
    if fast_loaded and span_lo is not None:
        result.first_ts, result.last_ts, result.days = span_lo, span_hi, sorted(days)

    # Slow path: every reading of every other row, with its physical line number. When the fast
    # path took every reading the stage holds, other rows hold no reading and there is nothing to
    # do (a row whose cells are all empty yields no reading on either path).
    if fast_loaded != readings_in_staged:
        _stage_other_rows(con, wide, row_ok, blocked, first_rowid, excluded, params)
    for table in ("blocked", "slow", "file_machines"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    _append_long_rows(con, slow_rows)
    reparsed_readings = sum(1 for r in slow_rows if r["problem"] is None)
    result.rows_in = readings_in_staged + reparsed_readings + result.records_malformed
    return fast_loaded


def _column_mappings(
    con, columns: list[tuple[str, str | None]]
) -> dict[tuple[str, int], SensorMapping]:
    """How each column maps for every active machine type (the file's machines are not known
    before the parse)."""
    sensor_keys = _sensor_keys(con)
    types = [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT machine_type FROM machines WHERE active ORDER BY 1"
        ).fetchall()
    ]
    return {
        (t, i): resolve_sensor(t, tag, unit, sensor_keys)
        for t in types
        for i, (tag, unit) in enumerate(columns)
    }


def _parsed_stage(
    con, file_id: int, delivery: _Delivery, names: list[str]
) -> tuple[str, list[tuple]]:
    """The table holding the parsed rows and the lines refused: parsed ahead by the reader thread
    (read in place), or parsed now into the temp table ``stage``."""
    prepared = delivery.prepared
    if isinstance(prepared, BaseException):
        raise prepared
    if prepared is None:
        return "stage", _parse_wide_csv(con, file_id, delivery.data, names)
    return prepared


def _reparse_refused_lines(
    bad_lines: list[tuple], columns: list[tuple[str, str | None]], result: FileResult
) -> tuple[list[dict], list[int]]:
    """The readings (or reject rows) of every physical line DuckDB refused, and those lines'
    numbers; counts the records parsed and malformed."""
    slow_rows: list[dict] = []
    consumed: list[int] = []
    for first_line, text, errors in bad_lines:
        physical = (text or "").lstrip("\n").split("\n")
        for offset, line_text in enumerate(physical):
            number = first_line + offset
            consumed.append(number)
            line_text = line_text.rstrip("\r")
            if not line_text:
                continue
            parsed = _reparse_wide_line(line_text, number, columns, errors)
            if isinstance(parsed, dict):
                result.records_malformed += 1
                slow_rows.append(parsed)
            else:
                result.records_parsed += 1
                slow_rows.extend(parsed)
    return slow_rows, consumed


def _file_machine_types(con, stage: str) -> list[str]:
    """Create ``file_machines`` (the file's known machines) and return their machine types."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE file_machines AS
           SELECT f.machine_id, m.machine_key, m.machine_type
           FROM (SELECT DISTINCT machine_id FROM {stage}) f
           JOIN machines m ON m.machine_id = f.machine_id AND m.active"""
    )
    # Value checks only for the machine types this file actually holds (usually one).
    return [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT machine_type FROM file_machines ORDER BY 1"
        ).fetchall()
    ]


def _value_ok_sql(m: SensorMapping, c: str) -> str:
    if m.sensor_key is None:
        return f"{c} IS NULL"
    return (
        f"({c} IS NULL OR (isfinite({c}) AND {c} * {m.scale!r} + {m.offset!r} "
        f"BETWEEN {m.low!r} AND {m.high!r}))"
    )


def _row_ok_sql(wide: _WideFile, present: list[str]) -> str:
    """SQL true for a staged row ``s`` (joined to ``file_machines`` as ``fm``) whose timestamp,
    machine and every value pass, for the machine types ``present`` in the file."""

    def values_ok(t: str) -> str:
        return " AND ".join(
            _value_ok_sql(wide.mappings[(t, i)], f"s.{wide.names[i]}")
            for i in range(len(wide.columns))
        )

    type_ok = " ".join(
        f"WHEN '{t}' THEN (s.ts >= {earliest_for(t)} AND {values_ok(t)})" for t in present
    )
    return (
        f"(s.ts_problem IS NULL AND s.ts <= $future AND fm.machine_key IS NOT NULL "
        f"AND {f'CASE fm.machine_type {type_ok} ELSE false END' if present else 'false'})"
    )


def _time_span(con, stage: str, params: dict) -> tuple:
    """(lo, hi, span_lo, span_hi, days): the bounds of the valid timestamps, and the span and days
    of those within the accepted window (from ``$lowest`` to ``$future``).

    One scan gives the time bounds for the history lookup and the span the file covers (its days
    may include a day whose readings all turn out duplicates: a harmless extra refresh). Times
    outside the window are rejected anyway, and a year 0 or 99999 would not fit Python's
    datetime."""
    sql = f"""SELECT min(ts), max(ts), min(ts) FILTER (WHERE ts >= $lowest),
                     max(ts) FILTER (WHERE ts >= $lowest)
              FROM {stage} WHERE ts_problem IS NULL AND ts BETWEEN $floor AND $future"""
    lo, hi, span_lo, span_hi = con.execute(sql, used_params(sql, params)).fetchone()
    days: list[dt.date] = []
    if span_lo is not None:
        first_day, last_day = span_lo.date(), span_hi.date()
        if (last_day - first_day).days <= 1:
            days = sorted({first_day, last_day})  # both hold rows: exact without another pass
        else:
            sql = f"""SELECT list(DISTINCT CAST(ts AS DATE)) FROM {stage}
                      WHERE ts_problem IS NULL AND ts BETWEEN $lowest AND $future"""
            days = con.execute(sql, used_params(sql, params)).fetchone()[0]
    return lo, hi, span_lo, span_hi, days


def _block_repeated_keys(con, stage: str, lo, hi) -> int:
    """Create ``blocked``: the (machine, time) keys that repeat inside the file or are already
    loaded; their rows go the slow way, where each reading is compared. Returns its row count.

    Constant time bounds let DuckDB skip old row groups."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE blocked AS
           SELECT machine_id, ts FROM {stage} WHERE ts_problem IS NULL
           GROUP BY ALL HAVING count(*) > 1
           UNION
           SELECT DISTINCT fm.machine_id, r.ts FROM readings r
           JOIN file_machines fm ON fm.machine_key = r.machine_key
           WHERE r.ts BETWEEN $lo AND $hi
             AND r.file_id IN (SELECT file_id FROM file_ledger WHERE status = 'loaded')""",
        {"lo": lo, "hi": hi},
    )
    return con.execute("SELECT count(*) FROM blocked").fetchone()[0]


def _load_clean_rows(
    con, file_id: int, wide: _WideFile, present: list[str], row_ok: str, blocked: int, params
) -> int:
    """Fast path: clean rows, unpivoted straight into readings in one scan per machine type
    (parallel unnest of the sensor keys and the SI values; an empty cell is no reading).
    Returns how many readings it loaded."""
    fast_from = f"{wide.stage} s JOIN file_machines fm ON fm.machine_id = s.machine_id" + (
        " ANTI JOIN blocked b ON b.machine_id = s.machine_id AND b.ts = s.ts" if blocked else ""
    )
    selects = []
    for t in present:
        mapped = [
            (i, wide.mappings[(t, i)])
            for i in range(len(wide.columns))
            if wide.mappings[(t, i)].sensor_key is not None
        ]
        if not mapped:
            continue
        keys = ", ".join(str(m.sensor_key) for _, m in mapped)
        values = ", ".join(f"s.{wide.names[i]} * {m.scale!r} + {m.offset!r}" for i, m in mapped)
        selects.append(
            f"""SELECT machine_key, sensor_key, ts, value, {file_id} FROM (
                    SELECT fm.machine_key, unnest([{keys}]::USMALLINT[]) AS sensor_key, s.ts,
                           unnest([{values}]) AS value
                    FROM {fast_from}
                    WHERE {row_ok} AND fm.machine_type = '{t}')
                WHERE value IS NOT NULL"""
        )
    if not selects:
        return 0
    sql = "INSERT INTO readings " + " UNION ALL ".join(selects)
    return con.execute(sql, used_params(sql, params)).fetchone()[0]


def _stage_other_rows(
    con, wide: _WideFile, row_ok: str, blocked: int, first_rowid, excluded: list[int], params
) -> None:
    """Slow path: put every reading of the rows the fast path did not take into the long stage,
    with the physical line number of its row."""
    blocked_join = (
        " LEFT JOIN blocked b ON b.machine_id = s.machine_id AND b.ts = s.ts" if blocked else ""
    )
    fast_test = f"coalesce({row_ok}, false)" + (" AND b.machine_id IS NULL" if blocked else "")
    sql = f"""CREATE OR REPLACE TEMP TABLE slow AS
              SELECT s.rowid - {first_rowid or 0} AS rid, s.*
              FROM {wide.stage} s LEFT JOIN file_machines fm ON fm.machine_id = s.machine_id{blocked_join}
              WHERE NOT ({fast_test})"""
    con.execute(sql, used_params(sql, params))
    slow_rids = [r for (r,) in con.execute("SELECT rid FROM slow ORDER BY rid").fetchall()]
    line_expr = "rid + 2"
    if excluded and slow_rids:
        con.register(
            "py_rid_line",
            pa.table({"rid": slow_rids, "line": _rids_to_lines(slow_rids, excluded)}),
        )
        con.execute("CREATE OR REPLACE TEMP TABLE rid_line AS SELECT * FROM py_rid_line")
        con.unregister("py_rid_line")
        line_expr = "(SELECT line FROM rid_line WHERE rid_line.rid = slow.rid)"
    for i, (tag, unit) in enumerate(wide.columns):
        name = wide.names[i]
        con.execute(
            f"""INSERT INTO long_stage
                SELECT {line_expr}, machine_id, ?, ?, ts_text, ts, ts_problem,
                       CAST({name} AS VARCHAR), {name}, NULL, NULL
                FROM slow WHERE {name} IS NOT NULL""",
            [tag, unit],
        )


def _rids_to_lines(rids: list[int], excluded: list[int], first_data_line: int = 2) -> list[int]:
    """Physical line of the k-th parsed row, skipping blank lines and lines DuckDB rejected."""
    out = []
    for k in rids:
        line = first_data_line + k
        while True:
            skipped = bisect.bisect_right(excluded, line) - bisect.bisect_left(
                excluded, first_data_line
            )
            candidate = first_data_line + k + skipped
            if candidate == line:
                break
            line = candidate
        out.append(line)
    return out
