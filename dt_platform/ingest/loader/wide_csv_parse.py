"""Parse wide CSV dumps: the header's sensor columns, the typed parse by DuckDB (with the lines it
refuses), and the re-parse of each refused line in Python."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from dt_platform.ingest.loader.landed import private_copy
from dt_platform.ingest.loader.records import _Quarantine
from dt_platform.ingest.loader.rules import cap_text, offset_ok_fast_sql, ts_problem_sql
from dt_platform.ingest.loader.stage import _malformed_row, _reading_row

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


def _unbalanced_quote_lines(data: bytes) -> list[tuple[int, bytes]]:
    """Lines (number, bytes) holding an odd number of double quotes.

    A dump holds one record per line, so a quote never legitimately spans lines; but a CSV
    parser that meets an unbalanced quote reads on into the next lines looking for its end and,
    in a large file, swallows thousands of good records into one bad field. Such lines are taken
    out before parsing and rejected on their own (``malformed_line``)."""
    body = data.find(b"\n") + 1  # a quoted header alone is common: no need to look further
    if body == 0 or b'"' not in data[body:]:
        return []
    return [
        (number, raw)
        for number, raw in enumerate(data.split(b"\n"), start=1)
        if raw.count(b'"') % 2
    ]


def _undecodable_lines(data: bytes) -> list[tuple[int, bytes]]:
    """Lines (number, bytes) that are not UTF-8: each is rejected on its own, the others load."""
    if data.isascii():
        return []
    try:
        data.decode("utf-8")
        return []
    except UnicodeDecodeError:
        pass
    found = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            found.append((number, raw))
    return found


# A literal first character lets the regex engine skip ahead (a leading \d is 20 times slower).
_UNDERSCORE_DIGIT = re.compile(rb"_(?=\d)")


def _has_digit_underscore_digit(data: bytes) -> bool:
    return any(data[m.start() - 1 : m.start()].isdigit() for m in _UNDERSCORE_DIGIT.finditer(data))


def _underscore_number_lines(data: bytes) -> list[tuple[int, bytes]]:
    """Data lines with an underscore between digits in a value field: DuckDB reads ``6_2.8`` as
    62.8, so these lines are parsed one by one, where such a value is not a number."""
    if not _has_digit_underscore_digit(data):
        return []
    found = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1 or not _has_digit_underscore_digit(raw):
            continue
        text = raw.rstrip(b"\r").decode("utf-8", "replace")
        try:
            fields = next(csv.reader([text]))
        except (csv.Error, StopIteration):
            fields = text.split(",")
        if any("_" in field for field in fields[2:]):
            found.append((number, raw))
    return found


def _diverted_lines(data: bytes) -> dict[int, tuple[str, list[str]]]:
    """Lines taken out before DuckDB parses the file, by number: (text, why) — the first reason
    found wins (encoding, then quoting, then numbers)."""
    diverted: dict[int, tuple[str, list[str]]] = {}
    for why, lines in (
        ("INVALID UTF-8", _undecodable_lines(data)),
        ("UNBALANCED QUOTE", _unbalanced_quote_lines(data)),
        ("UNDERSCORE IN NUMBER", _underscore_number_lines(data)),
    ):
        for number, raw in lines:
            if number > 1 and number not in diverted:
                text = raw.rstrip(b"\r").decode("utf-8", "backslashreplace")
                diverted[number] = (text, [why])
    return diverted


def _parse_wide_csv(
    con, tag: int | str, data: bytes, names: list[str], into: str = "TEMP TABLE stage"
) -> list[tuple]:
    """Parse a wide CSV's bytes into ``into`` (the temp table ``stage``, or a scratch table) with
    typed columns, in file order (so a row's rowid gives its position), checking each timestamp
    as it is read. Returns the lines refused (line number, text, errors): those taken out before
    the parse (:func:`_diverted_lines`), and those DuckDB refused (from its reject table, named
    after ``tag``).

    DuckDB reads a private copy of the bytes hashed, never the landed path: a file name holding
    ``*`` or ``?`` would be a glob to DuckDB, and the landed file could change after hashing."""
    diverted = _diverted_lines(data)
    if diverted:
        # Empty those lines (an empty line is skipped, so the others keep their numbers).
        lines = data.split(b"\n")
        for number in diverted:
            lines[number - 1] = b""
        data = b"\n".join(lines)
    with private_copy(data, ".csv") as copy:
        refused = _read_csv(con, tag, copy, names, into)
    taken_out = [(n, text, why) for n, (text, why) in diverted.items()]
    return sorted(taken_out + refused, key=lambda item: item[0])


def _read_csv(con, tag: int | str, path: Path, names: list[str], into: str) -> list[tuple]:
    """DuckDB's typed parse of the CSV at ``path`` (a private copy) and the lines it refused."""
    # Cheap timestamp test first (parses, and ends in Z or an offset within ±14:00); the full
    # diagnosis only runs on rows failing it. Character tests cost a quarter of regexes.
    ts_raw = '"timestamp"'
    spec = {"timestamp": "VARCHAR", "machine_id": "VARCHAR", **{n: "DOUBLE" for n in names}}
    rejects_table, rejects_scan = f"csv_rejects_{tag}", f"csv_scans_{tag}"
    con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
    con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    try:
        con.execute(
            f"""CREATE OR REPLACE {into} AS
                SELECT machine_id, {ts_raw} AS ts_text, try_cast({ts_raw} AS TIMESTAMPTZ) AS ts,
                       CASE WHEN {offset_ok_fast_sql(ts_raw)}
                                 AND try_cast({ts_raw} AS TIMESTAMPTZ) IS NOT NULL
                            THEN NULL ELSE {ts_problem_sql(ts_raw)} END AS ts_problem,
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
        raise _Quarantine(
            "unreadable_file", cap_text(f"DuckDB could not read the CSV: {exc}")
        ) from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    return bad_lines


def _reparse_wide_line(text: str, number: int, columns, errors=()) -> list[dict] | dict:
    """Readings of one CSV line refused by the typed parse, or the reject row if the line is
    malformed (not UTF-8, too long for DuckDB, bad quoting, wrong field count)."""
    expected = len(columns) + 2
    if "INVALID UTF-8" in errors:
        return _malformed_row(number, text, expected, detail="not UTF-8 text")
    if "LINE SIZE OVER MAXIMUM" in errors:
        return _malformed_row(number, text, expected, detail="longer than the 2 MiB line limit")
    try:
        fields = next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration):
        return _malformed_row(number, text, expected)
    if text.count('"') % 2:
        return _malformed_row(number, text, expected)
    if len(fields) != expected:
        return _malformed_row(number, text, expected, found=len(fields))
    ts_text, machine_id = fields[0], fields[1]
    return [
        _reading_row(number, machine_id or None, tag, unit, ts_text, raw)
        for (tag, unit), raw in zip(columns, fields[2:], strict=True)
        if raw.strip(" \t") != ""
    ]
