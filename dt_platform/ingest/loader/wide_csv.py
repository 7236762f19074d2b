"""Reader for wide CSV dumps: one line per machine and time, one column per sensor.

Clean rows go straight into ``readings`` (the fast path); the other rows, and the lines DuckDB
refused, go to the long stage one reading per row."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import os
import re
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from dt_platform.ingest.loader.records import FileResult, _Delivery, _Quarantine
from dt_platform.ingest.loader.stage import (
    FUTURE_TOLERANCE,
    _append_long_rows,
    _count_records,
    _malformed_row,
    _sensor_keys,
    _to_float,
    _ts_problem_sql,
)
from dt_platform.ingest.mapping import resolve_sensor

_WIDE_COLUMN = re.compile(r"^\s*(?P<tag>[^\[\]]+?)\s*(?:\[(?P<unit>[^\]]*)\])?\s*$")


def _parse_wide_header(data: bytes) -> list[tuple[str, str | None]]:
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header_text = first.decode("utf-8-sig")
        header = next(csv.reader([header_text], strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        raise _Quarantine("not_a_dump", f"the first line is not a CSV header ({exc})") from None
    if len(header) < 3 or [h.strip() for h in header[:2]] != ["timestamp", "machine_id"]:
        raise _Quarantine(
            "not_a_dump",
            "a wide CSV dump starts with the columns 'timestamp,machine_id' followed by "
            f"'<tag> [<unit>]' columns; found {header[:4]!r}",
        )
    columns = []
    for raw in header[2:]:
        match = _WIDE_COLUMN.match(raw)
        if not match:
            raise _Quarantine("not_a_dump", f"column {raw!r} is not '<tag> [<unit>]'")
        columns.append((match["tag"], match["unit"]))
    if len({c[0] for c in columns}) != len(columns):
        raise _Quarantine("not_a_dump", f"a sensor column appears twice in {header!r}")
    return columns


def _unbalanced_quote_lines(data: bytes) -> list[tuple[int, str]]:
    """Lines (number, text) holding an odd number of double quotes.

    A dump holds one record per line, so a quote never legitimately spans lines; but a CSV
    parser that meets an unbalanced quote reads on into the next lines looking for its end and,
    in a large file, swallows thousands of good records into one bad field. Such lines are taken
    out before parsing and rejected on their own (``malformed_line``)."""
    if b'"' not in data:
        return []
    found = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.count(b'"') % 2:
            found.append((number, raw.rstrip(b"\r").decode("utf-8", errors="replace")))
    return found


def _parse_wide_csv(
    con, tag: int | str, path: Path, data: bytes, names: list[str], into: str = "TEMP TABLE stage"
) -> list[tuple]:
    """Parse a wide CSV into ``into`` (the temp table ``stage``, or a scratch table) with typed
    columns, in file order (so a row's rowid gives its position), checking each timestamp as it
    is read. Returns the lines refused (line number, text, errors): those with unbalanced
    quotes, and those DuckDB refused (from its reject table, named after ``tag``).
    """
    unbalanced = _unbalanced_quote_lines(data)
    if unbalanced:
        # Parse the hashed bytes with those lines emptied (an empty line is skipped, so the other
        # lines keep their numbers); the original file is left as it is.
        lines = data.split(b"\n")
        for number, _ in unbalanced:
            lines[number - 1] = b""
        with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as fh:
            fh.write(b"\n".join(lines))
        try:
            refused = _parse_wide_csv(con, tag, Path(fh.name), b"", names, into)
        finally:
            os.unlink(fh.name)
        quoted = [(n, text, ["UNBALANCED QUOTE"]) for n, text in unbalanced]
        return sorted(quoted + refused, key=lambda item: item[0])
    # Cheap timestamp test first (parses, and ends in Z or a ±hh[:mm] offset); the full diagnosis
    # only runs on rows failing it. Character tests cost a quarter of slicing or regexes.
    ts_raw = '"timestamp"'
    has_offset = (
        f"(length({ts_raw}) > 16 AND (suffix({ts_raw}, 'Z') OR suffix({ts_raw}, 'z') "
        f"OR {ts_raw}[-6] IN ('+', '-') OR {ts_raw}[-5] IN ('+', '-') "
        f"OR {ts_raw}[-3] IN ('+', '-')))"
    )
    spec = {"timestamp": "VARCHAR", "machine_id": "VARCHAR", **{n: "DOUBLE" for n in names}}
    rejects_table, rejects_scan = f"csv_rejects_{tag}", f"csv_scans_{tag}"
    con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
    con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    try:
        con.execute(
            f"""CREATE OR REPLACE {into} AS
                SELECT machine_id, {ts_raw} AS ts_text, try_cast({ts_raw} AS TIMESTAMPTZ) AS ts,
                       CASE WHEN {has_offset} AND try_cast({ts_raw} AS TIMESTAMPTZ) IS NOT NULL
                            THEN NULL ELSE {_ts_problem_sql(ts_raw)} END AS ts_problem,
                       {", ".join(names)}
                FROM read_csv(?, header=true, columns={spec!r}, auto_detect=false, delim=',',
                     quote='"', escape='"', store_rejects=true,
                     rejects_table='{rejects_table}', rejects_scan='{rejects_scan}')""",
            [str(path)],
        )
        bad_lines = con.execute(
            f"""SELECT line, any_value(csv_line), list(DISTINCT error_type::VARCHAR)
                FROM {rejects_table} GROUP BY line ORDER BY line"""
        ).fetchall()
    except duckdb.Error as exc:
        raise _Quarantine("unreadable_file", f"DuckDB could not read the CSV: {exc}") from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    return bad_lines


def _stage_wide_csv(con, file_id, delivery: _Delivery, now, result: FileResult) -> int:
    """Stage a wide CSV; load clean rows directly and return how many readings that loaded.

    The file is materialized once, in file order (so a row's position gives its line), with the
    timestamp checked as it is read. Machines are looked up through a tiny per-file table; values
    are checked, inline, for the machine types the file holds (usually one).
    """
    columns = _parse_wide_header(delivery.data)
    names = [f"c{i}" for i in range(len(columns))]
    n_records, blank_lines = _count_records(delivery.data, skip_header=True)
    result.records_in = n_records
    sensor_keys = _sensor_keys(con)
    types = [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT machine_type FROM machines WHERE active ORDER BY 1"
        ).fetchall()
    ]
    mappings = {
        (t, i): resolve_sensor(t, tag, unit, sensor_keys)
        for t in types
        for i, (tag, unit) in enumerate(columns)
    }

    def value_ok(t: str, i: int) -> str:
        m, c = mappings[(t, i)], f"s.{names[i]}"
        if m.sensor_key is None:
            return f"{c} IS NULL"
        return (
            f"({c} IS NULL OR (isfinite({c}) AND {c} * {m.scale!r} + {m.offset!r} "
            f"BETWEEN {m.low!r} AND {m.high!r}))"
        )

    prepared = delivery.prepared
    if isinstance(prepared, BaseException):
        raise prepared
    if prepared is None:
        stage = "stage"
        bad_lines = _parse_wide_csv(con, file_id, delivery.path, delivery.data, names)
    else:
        stage, bad_lines = prepared  # parsed ahead into a scratch table: read it in place

    # Lines DuckDB refused: re-parse each physical line to give every reading its own reason.
    slow_rows: list[dict] = []
    consumed: list[int] = []
    for first_line, text, _ in bad_lines:
        physical = (text or "").lstrip("\n").split("\n")
        for offset, line_text in enumerate(physical):
            number = first_line + offset
            consumed.append(number)
            line_text = line_text.rstrip("\r")
            if not line_text:
                continue
            parsed = _reparse_wide_line(line_text, number, columns)
            if isinstance(parsed, dict):
                result.records_malformed += 1
                slow_rows.append(parsed)
            else:
                result.records_parsed += 1
                slow_rows.extend(parsed)
    excluded = sorted(set(blank_lines) | set(consumed))
    n_staged, first_rowid, readings_in_staged = con.execute(
        "SELECT count(*), min(rowid), "
        + " + ".join(f"count({n})" for n in names)
        + f" FROM {stage}"
    ).fetchone()
    result.records_parsed += n_staged

    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE file_machines AS
           SELECT f.machine_id, m.machine_key, m.machine_type
           FROM (SELECT DISTINCT machine_id FROM {stage}) f
           JOIN machines m ON m.machine_id = f.machine_id AND m.active"""
    )
    # Value checks only for the machine types this file actually holds (usually one).
    present = [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT machine_type FROM file_machines ORDER BY 1"
        ).fetchall()
    ]

    def values_ok(t: str) -> str:
        return " AND ".join(value_ok(t, i) for i in range(len(columns)))

    type_ok = " ".join(f"WHEN '{t}' THEN ({values_ok(t)})" for t in present)
    row_ok = (
        f"(s.ts_problem IS NULL AND s.ts <= $now AND fm.machine_key IS NOT NULL "
        f"AND {f'CASE fm.machine_type {type_ok} ELSE false END' if present else 'false'})"
    )
    # Rows whose (machine, time) repeats inside the file or is already loaded go the slow way,
    # where each reading is compared. Constant time bounds let DuckDB skip old row groups.
    # One scan gives the time bounds for the history lookup and the span the file covers (its
    # days may include a day whose readings all turn out duplicates: a harmless extra refresh).
    lo, hi, span_lo, span_hi = con.execute(
        f"""SELECT min(ts), max(ts), min(ts) FILTER (WHERE ts <= $now),
                  max(ts) FILTER (WHERE ts <= $now)
           FROM {stage} WHERE ts_problem IS NULL""",
        {"now": now + FUTURE_TOLERANCE},
    ).fetchone()
    days: list[dt.date] = []
    if span_lo is not None:
        first_day, last_day = span_lo.date(), span_hi.date()
        if (last_day - first_day).days <= 1:
            days = sorted({first_day, last_day})  # both hold rows: exact without another pass
        else:
            days = con.execute(
                f"""SELECT list(DISTINCT CAST(ts AS DATE)) FROM {stage}
                   WHERE ts_problem IS NULL AND ts <= $now""",
                {"now": now + FUTURE_TOLERANCE},
            ).fetchone()[0]
    blocked = 0
    if lo is not None:
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
        blocked = con.execute("SELECT count(*) FROM blocked").fetchone()[0]
    fast_from = f"{stage} s JOIN file_machines fm ON fm.machine_id = s.machine_id" + (
        " ANTI JOIN blocked b ON b.machine_id = s.machine_id AND b.ts = s.ts" if blocked else ""
    )
    params = {"now": now + FUTURE_TOLERANCE}

    # Fast path: clean rows, unpivoted straight into readings in one scan per machine type
    # (parallel unnest of the sensor keys and the SI values; an empty cell is no reading).
    selects = []
    for t in present:
        mapped = [
            (i, mappings[(t, i)])
            for i in range(len(columns))
            if mappings[(t, i)].sensor_key is not None
        ]
        if not mapped:
            continue
        keys = ", ".join(str(m.sensor_key) for _, m in mapped)
        values = ", ".join(f"s.{names[i]} * {m.scale!r} + {m.offset!r}" for i, m in mapped)
        selects.append(
            f"""SELECT machine_key, sensor_key, ts, value, {file_id} FROM (
                    SELECT fm.machine_key, unnest([{keys}]::USMALLINT[]) AS sensor_key, s.ts,
                           unnest([{values}]) AS value
                    FROM {fast_from}
                    WHERE {row_ok} AND fm.machine_type = '{t}')
                WHERE value IS NOT NULL"""
        )
    fast_loaded = 0
    if selects:
        fast_loaded = con.execute(
            "INSERT INTO readings " + " UNION ALL ".join(selects), params
        ).fetchone()[0]
        if fast_loaded and span_lo is not None:
            result.first_ts, result.last_ts, result.days = span_lo, span_hi, sorted(days)

    # Slow path: every reading of every other row, with its physical line number. When the fast
    # path took every reading the stage holds, other rows hold no reading and there is nothing to
    # do (a row whose cells are all empty yields no reading on either path).
    if fast_loaded != readings_in_staged:
        blocked_join = (
            " LEFT JOIN blocked b ON b.machine_id = s.machine_id AND b.ts = s.ts" if blocked else ""
        )
        fast_test = f"coalesce({row_ok}, false)" + (" AND b.machine_id IS NULL" if blocked else "")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE slow AS
                SELECT s.rowid - {first_rowid or 0} AS rid, s.*
                FROM {stage} s LEFT JOIN file_machines fm ON fm.machine_id = s.machine_id{blocked_join}
                WHERE NOT ({fast_test})""",
            params,
        )
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
        for i, (tag, unit) in enumerate(columns):
            con.execute(
                f"""INSERT INTO long_stage
                    SELECT {line_expr}, machine_id, ?, ?, ts_text, ts, ts_problem,
                           CAST({names[i]} AS VARCHAR), {names[i]}, NULL, NULL
                    FROM slow WHERE {names[i]} IS NOT NULL""",
                [tag, unit],
            )
    for table in ("blocked", "slow", "file_machines"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    _append_long_rows(con, slow_rows)
    reparsed_readings = sum(1 for r in slow_rows if r["problem"] is None)
    result.rows_in = readings_in_staged + reparsed_readings + result.records_malformed
    return fast_loaded


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


def _reparse_wide_line(text: str, number: int, columns) -> list[dict] | dict:
    """Readings of one CSV line DuckDB refused, or the reject row if the line is malformed."""
    expected = len(columns) + 2
    try:
        fields = next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration):
        return _malformed_row(number, text, expected)
    if text.count('"') % 2:
        return _malformed_row(number, text, expected)
    if len(fields) != expected:
        return _malformed_row(number, text, expected, found=len(fields))
    ts_text, machine_id = fields[0], fields[1]
    rows = []
    for (tag, unit), raw in zip(columns, fields[2:], strict=True):
        if raw.strip() == "":
            continue
        rows.append(
            {
                "line": number,
                "machine_id": machine_id or None,
                "tag": tag,
                "unit": unit,
                "ts_text": ts_text,
                "value_text": raw,
                "value": _to_float(raw.strip()),
                "problem": None,
                "detail": None,
            }
        )
    return rows
