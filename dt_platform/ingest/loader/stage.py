"""The long stage every reader fills (one row per reading) and the helpers the readers share:
timestamp checks in SQL, record counting, rows parsed in Python."""

from __future__ import annotations

import pyarrow as pa

from dt_platform.ingest.loader.rules import cap_text, parse_number, ts_problem_sql


def _create_long_stage(con) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE long_stage (
            line BIGINT, machine_id VARCHAR, tag VARCHAR, unit VARCHAR, ts_text VARCHAR,
            ts TIMESTAMPTZ, ts_problem VARCHAR, value_text VARCHAR, value DOUBLE, problem VARCHAR,
            detail VARCHAR)"""
    )
    # The gateway a JSON Lines reading names (the MQTT bridge writes the topic's edge node): the
    # machine must be registered to that gateway (``wrong_gateway``).
    con.execute("CREATE OR REPLACE TEMP TABLE line_gateway (line BIGINT, gateway VARCHAR)")


_LONG_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("machine_id", pa.string()),
        ("tag", pa.string()),
        ("unit", pa.string()),
        ("ts_text", pa.string()),
        ("value_text", pa.string()),
        ("value", pa.float64()),
        ("problem", pa.string()),
        ("detail", pa.string()),
    ]
)


def _append_long_rows(con, rows: list[dict]) -> None:
    """Add Python-parsed readings to the long stage, parsing their timestamps in SQL."""
    if not rows:
        return
    con.register("py_long_rows", pa.Table.from_pylist(rows, schema=_LONG_SCHEMA))
    con.execute(
        f"""INSERT INTO long_stage
            SELECT line, machine_id, tag, unit, ts_text,
                   try_cast(trim(ts_text) AS TIMESTAMPTZ), {ts_problem_sql("ts_text")},
                   value_text, value, problem, detail
            FROM py_long_rows"""
    )
    con.unregister("py_long_rows")


def _count_records(data: bytes, skip_header: bool) -> tuple[int, list[int]]:
    """Non-empty physical lines (minus the header) and the line numbers of empty ones."""
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    blank: list[int] = []
    if data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data:
        for number, line in enumerate(data.split(b"\n"), start=1):
            if number <= n_lines and not line.strip(b"\r"):
                blank.append(number)
    n_records = n_lines - len(blank) - (1 if skip_header else 0)
    return n_records, blank


def _malformed_row(
    number: int, text: str, expected: int, found: int | None = None, detail: str | None = None
) -> dict:
    """The reject row of a line that cannot be split into readings (its text capped)."""
    if found is None:
        problem, detail = "malformed_line", detail or "unbalanced quotes or unparseable CSV"
    else:
        problem, detail = "wrong_column_count", f"expected {expected} fields, found {found}"
    return {
        "line": number,
        "machine_id": None,
        "tag": None,
        "unit": None,
        "ts_text": None,
        "value_text": cap_text(text),
        "value": None,
        "problem": problem,
        "detail": detail,
    }


def _reading_row(number: int, machine, tag, unit, ts_text, value_text, value=None) -> dict:
    """A reading parsed in Python; ``value`` defaults to ``value_text`` in ASCII decimal notation."""
    return {
        "line": number,
        "machine_id": machine,
        "tag": tag,
        "unit": unit,
        "ts_text": ts_text,
        "value_text": value_text,
        "value": parse_number(value_text) if value is None else value,
        "problem": None,
        "detail": None,
    }


def _sensor_keys(con) -> dict[tuple[str, str], int]:
    return {
        (t, g): k
        for k, t, g in con.execute("SELECT sensor_key, machine_type, tag FROM sensors").fetchall()
    }
