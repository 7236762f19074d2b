"""Parse wide CSV dumps: the header's sensor columns, the typed parse by DuckDB (with the lines it
refuses), and the re-parse of each refused line in Python."""

from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path

import duckdb

from dt_platform.ingest.loader.records import _Quarantine
from dt_platform.ingest.loader.stage import _malformed_row, _to_float, _ts_problem_sql

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
