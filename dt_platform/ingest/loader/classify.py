"""Classify the long stage: the first rule a reading breaks gives its reason; clean readings are
loaded, the others rejected."""

from __future__ import annotations

import pyarrow as pa

from dt_platform.ingest.loader.duplicates import _reject_duplicates
from dt_platform.ingest.loader.records import FileResult
from dt_platform.ingest.loader.rules import IngestLimits, cap_sql, earliest_sql
from dt_platform.ingest.loader.stage import _sensor_keys
from dt_platform.ingest.mapping import resolve_sensor


def _note_loaded_span(con, result: FileResult, table: str, where: str) -> None:
    """Extend the file's first/last timestamp and days with the rows just loaded from ``table``."""
    lo, hi, days = con.execute(
        f"SELECT min(ts), max(ts), list(DISTINCT CAST(ts AS DATE)) FROM {table} WHERE {where}"
    ).fetchone()
    if lo is None:
        return
    result.first_ts = lo if result.first_ts is None else min(result.first_ts, lo)
    result.last_ts = hi if result.last_ts is None else max(result.last_ts, hi)
    result.days = sorted(set(result.days) | set(days))


_UNIT_MAP_SCHEMA = pa.schema(
    [
        ("machine_type", pa.string()),
        ("tag", pa.string()),
        ("unit", pa.string()),
        ("sensor_key", pa.int32()),
        ("scale", pa.float64()),
        ("offset", pa.float64()),
        ("low", pa.float64()),
        ("high", pa.float64()),
        ("si_unit", pa.string()),
        ("problem", pa.string()),
        ("detail", pa.string()),
    ]
)

_CLASSIFY_SQL = """CREATE OR REPLACE TEMP TABLE classified AS SELECT * EXCLUDE (verdict),
           verdict.reason AS reason, verdict.detail AS detail,
           CAST(NULL AS INTEGER) AS copied_from FROM (
    SELECT l.line, l.machine_id, l.tag, l.unit, l.ts_text, l.ts, l.value_text,
           m.machine_key, u.sensor_key, l.value * u.scale + u.offset AS si_value,
           -- the first rule a reading breaks gives its reason
           CASE
             WHEN l.problem IS NOT NULL THEN {'reason': l.problem, 'detail': l.detail}
             WHEN l.machine_id IS NULL OR l.tag IS NULL OR l.ts_text IS NULL
                  OR l.value_text IS NULL
               THEN {'reason': 'missing_field',
                     'detail': 'a reading needs ts, machine, sensor and value'}
             WHEN m.machine_key IS NULL
               THEN {'reason': 'unknown_machine',
                     'detail': 'machine ' || l.machine_id || ' is not in the registry'}
             WHEN g.gateway IS NOT NULL AND m.gateway IS DISTINCT FROM g.gateway
               THEN {'reason': 'wrong_gateway',
                     'detail': 'machine ' || l.machine_id || ' is registered to '
                               || coalesce('gateway ' || m.gateway, 'no gateway')
                               || ', not to ' || g.gateway}
             WHEN l.ts_problem IS NOT NULL
               THEN {'reason': l.ts_problem, 'detail': 'timestamp ' || l.ts_text}
             WHEN l.ts > $future
               THEN {'reason': 'future_timestamp',
                     'detail': 'timestamp ' || l.ts_text || ' is in the future'}
             WHEN l.ts < EARLIEST
               THEN {'reason': 'early_timestamp',
                     'detail': 'timestamp ' || l.ts_text || ' is before '
                               || strftime(EARLIEST, '%Y-%m-%d %H:%M UTC')
                               || ', the start of the accepted window'}
             WHEN u.problem IS NOT NULL THEN {'reason': u.problem, 'detail': u.detail}
             WHEN l.value IS NULL
               THEN {'reason': 'non_numeric_value', 'detail': NULL}
             WHEN NOT isfinite(l.value)
               THEN {'reason': 'non_finite_value', 'detail': NULL}
             WHEN l.value * u.scale + u.offset NOT BETWEEN u.low AND u.high
               THEN {'reason': 'out_of_range',
                     'detail': printf('%.6g %s outside [%g, %g]',
                                      l.value * u.scale + u.offset, u.si_unit, u.low, u.high)}
           END AS verdict
    FROM long_stage l
    LEFT JOIN machines m ON m.machine_id = l.machine_id AND m.active
    LEFT JOIN line_gateway g ON g.line = l.line
    LEFT JOIN py_unit_map u ON u.machine_type = m.machine_type
         AND u.tag = coalesce(l.tag, '') AND u.unit = coalesce(l.unit, ''))""".replace(
    "EARLIEST", earliest_sql("m.machine_type")
)


def _unit_map(con) -> pa.Table:
    """How each (machine type, tag, unit) the stage holds maps to a sensor, resolved once each."""
    combos = con.execute(
        """SELECT DISTINCT m.machine_type, l.tag, l.unit FROM long_stage l
           JOIN machines m ON m.machine_id = l.machine_id AND m.active WHERE l.problem IS NULL"""
    ).fetchall()
    sensor_keys = _sensor_keys(con)
    units = dict(con.execute("SELECT sensor_key, unit FROM sensors").fetchall())
    return pa.Table.from_pylist(
        [
            {
                "machine_type": t,
                "tag": tag or "",
                "unit": unit or "",
                "sensor_key": m.sensor_key,
                "scale": m.scale,
                "offset": m.offset,
                "low": m.low,
                "high": m.high,
                "si_unit": units.get(m.sensor_key),
                "problem": m.problem,
                "detail": m.detail,
            }
            for t, tag, unit in combos
            for m in [resolve_sensor(t, tag, unit, sensor_keys)]
        ],
        schema=_UNIT_MAP_SCHEMA,
    )


_REJECT_SQL = f"""INSERT INTO telemetry_rejects
    SELECT $file_id, $rel, line, {cap_sql("machine_id")}, {cap_sql("tag")}, {cap_sql("unit")},
           {cap_sql("ts_text")}, {cap_sql("value_text")}, reason, {cap_sql("detail")}, $now
    FROM classified WHERE reason IS NOT NULL"""


def _classify_long_stage(con, file_id, rel, now, limits: IngestLimits, result: FileResult) -> None:
    """Give every staged reading its verdict, mark duplicates, then load the clean readings and
    reject the others with their reasons (their raw text capped)."""
    con.register("py_unit_map", _unit_map(con))
    con.execute(_CLASSIFY_SQL, limits.params(now))
    con.unregister("py_unit_map")
    _reject_duplicates(con, file_id)
    loaded = con.execute(
        f"""INSERT INTO readings SELECT machine_key, sensor_key, ts, si_value, {file_id}
            FROM classified WHERE reason IS NULL"""
    ).fetchone()[0]
    _note_loaded_span(con, result, "classified", "reason IS NULL")
    rejected = con.execute(_REJECT_SQL, {"file_id": file_id, "rel": rel, "now": now}).fetchone()[0]
    result.rows_loaded += loaded
    result.rows_rejected += rejected
    if result.rows_loaded == 0:
        result.duplicate_of = _copied_from(con)
    con.execute("DROP TABLE IF EXISTS classified")


def _copied_from(con) -> int | None:
    """The one earlier file this file repeats, when it loaded nothing because each of its readings
    had already been loaded from that file (a copy with other bytes: re-exported, other line
    ends). A correction that later arrives under this file's name then supersedes that file."""
    sources, conflicts = con.execute(
        """SELECT list(DISTINCT copied_from) FILTER (WHERE reason = 'duplicate_reading'),
                  count(*) FILTER (WHERE reason = 'conflicting_reading' AND copied_from IS NOT NULL)
           FROM classified WHERE copied_from IS NOT NULL"""
    ).fetchone()
    return sources[0] if sources and len(sources) == 1 and not conflicts else None
