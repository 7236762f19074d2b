"""Reader for JSON Lines dumps: one reading per line, strict JSON first, Python's parser for the
lines strict JSON refuses.

Each line is decoded on its own: a line that is not UTF-8 is rejected (``malformed_line``) and
the others load. A UTF-8 byte-order mark at the start of the file is not part of the first line.
A line may name the ``gateway`` it came through (the MQTT bridge does); the machine must then be
registered to that gateway.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable

import pyarrow as pa

from dt_platform.ingest.loader.records import FileResult, _Quarantine
from dt_platform.ingest.loader.rules import number_sql, parse_number, ts_problem_sql
from dt_platform.ingest.loader.stage import (
    _append_long_rows,
    _count_records,
    _malformed_row,
    _reading_row,
)


def _stage_jsonl(con, data: bytes, result: FileResult) -> None:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    n_records, _ = _count_records(data, skip_header=False)
    result.records_in = n_records
    lines, undecodable = _decode_lines(data)
    if n_records and len(undecodable) == n_records:
        raise _Quarantine("not_a_dump", "no line of the file is UTF-8 text")
    con.register(
        "py_lines",
        pa.table(
            {
                "line": pa.array([n for n, _ in lines], pa.int64()),
                "text": pa.array([t for _, t in lines], pa.string()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE stage AS SELECT * FROM py_lines WHERE text <> ''")
    con.unregister("py_lines")
    invalid = con.execute(
        """SELECT line, text FROM stage WHERE NOT json_valid(text)
           OR (json_type(text) = 'OBJECT'
               AND len(json_keys(text)) <> len(list_distinct(json_keys(text))))"""
    ).fetchall()
    if (
        n_records
        and len(invalid) + len(undecodable) == n_records
        and not _looks_like_jsonl(invalid)
    ):
        raise _Quarantine("not_a_dump", "no line of the file is a JSON object")
    con.execute(
        f"""INSERT INTO long_stage
            SELECT line, j->>'machine', j->>'sensor', j->>'unit', j->>'ts',
                   try_cast(trim(j->>'ts') AS TIMESTAMPTZ), {ts_problem_sql("j->>'ts'")},
                   j->>'value', {number_sql("(j->>'value')")}, NULL, NULL
            FROM (SELECT line, CAST(text AS JSON) AS j FROM stage WHERE line NOT IN
                  (SELECT unnest($invalid::BIGINT[])))""",
        {"invalid": [n for n, _ in invalid]},
    )
    con.execute(
        """INSERT INTO line_gateway SELECT line, g FROM (
               SELECT line, CAST(text AS JSON)->>'gateway' AS g FROM stage
               WHERE contains(text, '"gateway"') AND line NOT IN
                     (SELECT unnest($invalid::BIGINT[])))
           WHERE g IS NOT NULL""",
        {"invalid": [n for n, _ in invalid]},
    )
    rows = [_malformed_row(n, raw, 0, detail="not UTF-8 text") for n, raw in undecodable]
    result.records_malformed += len(rows)
    rows += _python_parsed(con, invalid, result)
    _append_long_rows(con, rows)
    result.records_parsed = n_records - result.records_malformed
    result.rows_in = n_records


def _decode_lines(data: bytes) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(number, text) of every line that is UTF-8, and of those that are not (their text with
    the bad bytes escaped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        good, bad = [], []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                good.append((number, raw.decode("utf-8").rstrip("\r")))
            except UnicodeDecodeError:
                bad.append((number, raw.rstrip(b"\r").decode("utf-8", "backslashreplace")))
        return good, bad
    return [(n, ln.rstrip("\r")) for n, ln in enumerate(text.split("\n"), start=1)], []


def _python_parsed(con, invalid: list[tuple[int, str]], result: FileResult) -> list[dict]:
    """Lines strict JSON refuses may still be readable (NaN, Infinity): give them a precise
    reason. A line with a key twice is ambiguous: which value was meant? The gateway a line
    names goes to ``line_gateway``."""
    rows = []
    for number, line_text in invalid:
        try:
            obj = json.loads(line_text, object_pairs_hook=_unique_keys)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            result.records_malformed += 1
            detail = str(exc) if isinstance(exc, _DuplicateKey) else "not a JSON object"
            rows.append(_malformed_row(number, line_text, 0, detail=detail))
            continue
        value = obj.get("value")
        if obj.get("gateway") is not None:
            con.execute(
                "INSERT INTO line_gateway VALUES (?, ?)", [number, _str_or_none(obj["gateway"])]
            )
        rows.append(
            _reading_row(
                number,
                _str_or_none(obj.get("machine")),
                _str_or_none(obj.get("sensor")),
                _str_or_none(obj.get("unit")),
                _str_or_none(obj.get("ts")),
                _str_or_none(value),
                _json_number(value),
            )
        )
    return rows


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _DuplicateKey(f"duplicate key {', '.join(map(repr, repeated))}")
    return dict(pairs)


def _json_number(value) -> float | None:
    """A JSON number as is (NaN and Infinity included); a string only in ASCII decimal
    notation; anything else (booleans, objects) is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return parse_number(value) if isinstance(value, str) else None


def _looks_like_jsonl(invalid: Iterable[tuple[int, str]]) -> bool:
    return any(t.lstrip().startswith("{") for _, t in invalid)


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)
