"""Reader for long Parquet dumps: one reading per row, timestamps typed or as text.

The file's metadata is read from the bytes hashed; DuckDB reads a private copy of them (never the
landed path, see ``landed.private_copy``)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform.ingest.loader.landed import private_copy
from dt_platform.ingest.loader.records import FileResult, _Quarantine
from dt_platform.ingest.loader.rules import number_sql, ts_problem_sql

_PARQUET_COLUMNS = {"machine_id", "sensor", "unit", "ts", "value"}


def _stage_parquet(con, data: bytes, result: FileResult) -> None:
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        meta, schema = parquet.metadata, parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise _Quarantine("unreadable_file", f"not a readable Parquet file ({exc})") from None
    missing = _PARQUET_COLUMNS - set(schema.names)
    if missing:
        raise _Quarantine(
            "not_a_dump", f"Parquet dump lacks columns {sorted(missing)}; has {schema.names}"
        )
    if len(set(schema.names)) != len(schema.names):
        raise _Quarantine("not_a_dump", f"a column appears twice in {schema.names}")
    result.records_in = meta.num_rows
    ts_type = schema.field("ts").type
    if pa.types.is_timestamp(ts_type):
        if ts_type.tz is None:
            ts_sql = "CAST(ts AS TIMESTAMP)::TIMESTAMPTZ"
            problem_sql = "'missing_timezone'"
        else:
            ts_sql, problem_sql = "ts", "CASE WHEN ts IS NULL THEN 'unparseable_timestamp' END"
        ts_text_sql = "CAST(ts AS VARCHAR)"
    else:
        ts_text_sql = "CAST(ts AS VARCHAR)"
        ts_sql = "try_cast(trim(CAST(ts AS VARCHAR)) AS TIMESTAMPTZ)"
        problem_sql = ts_problem_sql("CAST(ts AS VARCHAR)")
    value_type = schema.field("value").type
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        value_sql = number_sql("CAST(value AS VARCHAR)")  # text: ASCII decimal notation only
    else:
        value_sql = "try_cast(value AS DOUBLE)"
    try:
        with private_copy(data, ".parquet") as copy:
            con.execute(
                f"""INSERT INTO long_stage
                    SELECT file_row_number, CAST(machine_id AS VARCHAR), CAST(sensor AS VARCHAR),
                           CAST(unit AS VARCHAR), {ts_text_sql}, {ts_sql}, {problem_sql},
                           CAST(value AS VARCHAR), {value_sql}, NULL, NULL
                    FROM read_parquet(?, file_row_number=true)""",
                [str(copy)],
            )
    except duckdb.Error as exc:
        raise _Quarantine(
            "unreadable_file", f"DuckDB could not read the Parquet file: {exc}"
        ) from None
    result.records_parsed = con.execute("SELECT count(*) FROM long_stage").fetchone()[0]
    result.rows_in = result.records_parsed
