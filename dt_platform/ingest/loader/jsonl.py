"""Reader for JSON Lines dumps: one reading per line, strict JSON first, Python's parser for the
lines strict JSON refuses."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pyarrow as pa

from dt_platform.ingest.loader.records import FileResult, _Quarantine
from dt_platform.ingest.loader.stage import (
    _append_long_rows,
    _count_records,
    _malformed_row,
    _to_float,
    _ts_problem_sql,
)


def _stage_jsonl(con, path, data: bytes, result: FileResult) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Quarantine("not_a_dump", f"not UTF-8 text ({exc})") from None
    n_records, _ = _count_records(data, skip_header=False)
    result.records_in = n_records
    lines = text.split("\n")
    con.register(
        "py_lines",
        pa.table(
            {
                "line": pa.array(range(1, len(lines) + 1), pa.int64()),
                "text": pa.array([ln.rstrip("\r") for ln in lines], pa.string()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE stage AS SELECT * FROM py_lines WHERE text <> ''")
    con.unregister("py_lines")
    invalid = con.execute("SELECT line, text FROM stage WHERE NOT json_valid(text)").fetchall()
    if n_records and len(invalid) == n_records and not _looks_like_jsonl(invalid):
        raise _Quarantine("not_a_dump", "no line of the file is a JSON object")
    con.execute(
        f"""INSERT INTO long_stage
            SELECT line, j->>'machine', j->>'sensor', j->>'unit', j->>'ts',
                   try_cast(trim(j->>'ts') AS TIMESTAMPTZ), {_ts_problem_sql("j->>'ts'")},
                   j->>'value', try_cast(j->>'value' AS DOUBLE), NULL, NULL
            FROM (SELECT line, CAST(text AS JSON) AS j FROM stage WHERE json_valid(text))"""
    )
    # Lines strict JSON refuses may still be readable (NaN, Infinity): give them a precise reason.
    rows = []
    for number, line_text in invalid:
        try:
            obj = json.loads(line_text)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            result.records_malformed += 1
            rows.append(_malformed_row(number, line_text, 0) | {"detail": "not a JSON object"})
            continue
        value = obj.get("value")
        rows.append(
            {
                "line": number,
                "machine_id": _str_or_none(obj.get("machine")),
                "tag": _str_or_none(obj.get("sensor")),
                "unit": _str_or_none(obj.get("unit")),
                "ts_text": _str_or_none(obj.get("ts")),
                "value_text": _str_or_none(value),
                "value": float(value)
                if isinstance(value, int | float)
                else _to_float(_str_or_none(value)),
                "problem": None,
                "detail": None,
            }
        )
    _append_long_rows(con, rows)
    result.records_parsed = n_records - result.records_malformed
    result.rows_in = n_records


def _looks_like_jsonl(invalid: Iterable[tuple[int, str]]) -> bool:
    return any(t.lstrip().startswith("{") for _, t in invalid)


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)
