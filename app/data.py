"""Read-only queries behind the dashboard pages, one function per question a page asks.

Each takes an open DuckDB connection (the dashboard opens the warehouse read-only and only for
the query) and returns a polars frame; a table that does not exist yet (a fresh platform) reads
as an empty frame with the columns of the real answer (the query runs on an empty copy of the
platform's tables), so pages show "nothing yet" instead of failing. Nothing here touches
Streamlit, so it is unit-tested on a warehouse the platform itself built.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb
import polars as pl

from dt_platform.phm import tables, track_record_table
from dt_platform.trust.audit.table import ensure_audit_table
from dt_platform.twin.maturity_table import ensure_maturity_table
from dt_platform.warehouse import ensure_schema, table_names

__all__ = [
    "alert_history",
    "alert_marks",
    "alerts_of_day",
    "audit_snapshots",
    "damage_history",
    "failure_marks",
    "fleet_status",
    "latest_prediction_day",
    "machine_sensors",
    "machines",
    "prediction_days",
    "production_by_day",
    "rul_history",
    "sensor_hourly",
    "track_record_lives",
    "track_record_summary",
    "twin_maturity",
    "twin_maturity_history",
    "work_orders",
]

# What each machine type produces, counted from its hourly features: (label, SQL of one hour's
# output over ``ml_features f`` joined with ``machines m``). A rate is the mean over the hour's
# active readings, so output = rate x 60 x active fraction. Ovens have no board counter: their
# work is the heat delivered, duty x rated heater power (from the registry) x hours running.
THROUGHPUT = {
    "smt_placer": ("placements", 'coalesce(f."placement_rate_per_min", 0) * 60 * f.op_fraction'),
    "servo_drive": ("power cycles", 'coalesce(f."power_cycles_per_min", 0) * 60 * f.op_fraction'),
    "cnc_spindle": ("spindle revolutions", 'coalesce(f."speed_rpm", 0) * 60 * f.op_fraction'),
    "reflow_oven": (
        "heat delivered (kWh)",
        'coalesce(f."heater_duty_pct", 0) / 100 * f.op_fraction * TRY_CAST(json_extract_string('
        "m.attributes, '$.rated.heater_rated_power_kw') AS DOUBLE)",
    ),
}


def _empty_warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with every table the platform writes, and no rows."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    for name in tables.TABLES:
        tables.ensure_table(con, name)
    ensure_audit_table(con)
    ensure_maturity_table(con)
    track_record_table.ensure_tables(con)
    return con


def _query(
    con: duckdb.DuckDBPyConnection,
    needs: Iterable[str],
    sql: str,
    params: dict | list | None = None,
) -> pl.DataFrame:
    """``sql`` on the warehouse, or, while a table it ``needs`` does not exist yet, on an empty
    one: the frame is then empty but has exactly the columns and types of the real answer."""
    if set(needs) <= table_names(con):
        return con.execute(sql, params or {}).pl()
    with _empty_warehouse() as empty:
        return empty.execute(sql, params or {}).pl()


def machines(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The registry (digital model): every machine with its type, line and gateway."""
    return _query(
        con,
        ["machines"],
        """SELECT machine_id, machine_type, line, gateway, installed, active
           FROM machines ORDER BY machine_id""",
    )


def prediction_days(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Days that have predictions, newest first."""
    if "rul_predictions" not in table_names(con):
        return []
    rows = con.execute("SELECT DISTINCT day FROM rul_predictions ORDER BY day DESC").fetchall()
    return [d for (d,) in rows]


def latest_prediction_day(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    days = prediction_days(con)
    return days[0] if days else None


def fleet_status(con: duckdb.DuckDBPyConnection, day: dt.date) -> pl.DataFrame:
    """Per active machine, its newest prediction of ``day`` and, where raised, that day's alert.

    Machines without a prediction that day are listed with empty estimates (so a machine that
    stopped reporting is visible, not missing).
    """
    return _query(
        con,
        ["machines", "rul_predictions", "maintenance_alerts"],
        """WITH p AS (
               SELECT * FROM rul_predictions WHERE day = $day
               QUALIFY row_number() OVER (PARTITION BY machine_id ORDER BY ts DESC) = 1),
           a AS (
               SELECT * FROM maintenance_alerts WHERE day = $day
               QUALIFY row_number() OVER (PARTITION BY machine_id ORDER BY ts DESC) = 1)
           SELECT m.machine_id, m.machine_type, m.line, p.ts,
                  p.rul_fused_h, p.rul_fused_lo_h, p.rul_fused_hi_h,
                  p.rul_physics_h, p.rul_ml_h, p.basis, p.stage,
                  a.probability, a.severity, a.reason, p.note
           FROM machines m
           LEFT JOIN p USING (machine_id)
           LEFT JOIN a USING (machine_id)
           WHERE m.active
           ORDER BY a.probability DESC NULLS LAST, p.rul_fused_h ASC NULLS LAST, m.machine_id""",
        {"day": day},
    )


def rul_history(con: duckdb.DuckDBPyConnection, machine_ids: list[str]) -> pl.DataFrame:
    """Every daily prediction of the machines, oldest first: the three estimates and the band."""
    return _query(
        con,
        ["rul_predictions"],
        """SELECT machine_id, ts, rul_fused_h, rul_fused_lo_h, rul_fused_hi_h,
                  rul_physics_h, rul_ml_h, basis, model_version
           FROM rul_predictions
           WHERE machine_id IN (SELECT unnest($ids))
           ORDER BY machine_id, ts""",
        {"ids": machine_ids},
    )


def machine_sensors(con: duckdb.DuckDBPyConnection, machine_type: str) -> pl.DataFrame:
    """The sensors of a machine type from the catalogue, with unit and description."""
    return _query(
        con,
        ["sensors"],
        "SELECT sensor, unit, description FROM sensors WHERE machine_type = $t ORDER BY sensor",
        {"t": machine_type},
    )


def sensor_hourly(
    con: duckdb.DuckDBPyConnection,
    machine_id: str,
    sensors: list[str],
    start: dt.date,
    end: dt.date,
) -> pl.DataFrame:
    """Hourly mean/min/max of the machine's good readings over ``[start, end]`` (days, UTC)."""
    return _query(
        con,
        ["telemetry"],
        """SELECT time_bucket(INTERVAL 1 HOUR, ts) AS hour, sensor,
                  avg(value) FILTER (WHERE quality = 'ok') AS mean,
                  min(value) FILTER (WHERE quality = 'ok') AS min,
                  max(value) FILTER (WHERE quality = 'ok') AS max,
                  count(*) AS readings,
                  count(*) FILTER (WHERE quality <> 'ok') AS flagged
           FROM telemetry
           WHERE machine_id = $m AND day BETWEEN $start AND $end
             AND sensor IN (SELECT unnest($sensors))
           GROUP BY ALL ORDER BY sensor, hour""",
        {"m": machine_id, "sensors": sensors, "start": start, "end": end},
    )


def damage_history(con: duckdb.DuckDBPyConnection, machine_id: str) -> pl.DataFrame:
    """The physics branch's hourly damage of the component in service (Miner's sum, 1 = end),
    each day as the law of that day (``physics_version``) computed it."""
    return _query(
        con,
        ["physics_trajectory"],
        """SELECT ts, damage, damage_rate_per_h, stage, component_installed_at, physics_version
           FROM physics_trajectory WHERE machine_id = $m ORDER BY ts""",
        {"m": machine_id},
    )


def work_orders(con: duckdb.DuckDBPyConnection, machine_id: str) -> pl.DataFrame:
    """The machine's maintenance log, newest first."""
    return _query(
        con,
        ["maintenance_log"],
        """SELECT work_order, started_at, finished_at, kind, action, component, notes
           FROM maintenance_log WHERE machine_id = $m ORDER BY started_at DESC""",
        {"m": machine_id},
    )


def failure_marks(con: duckdb.DuckDBPyConnection, machine_id: str) -> pl.DataFrame:
    """The machine's failures as the maintenance log records them: its corrective work orders
    (the repair that followed a breakdown), oldest first."""
    return _query(
        con,
        ["maintenance_log"],
        """SELECT work_order, started_at, finished_at, action, component, notes
           FROM maintenance_log WHERE machine_id = $m AND kind = 'corrective'
           ORDER BY started_at""",
        {"m": machine_id},
    )


def alert_marks(con: duckdb.DuckDBPyConnection, machine_id: str) -> pl.DataFrame:
    """The machine's alert days: the first alert of each day (when, how severe, how likely, and
    the fused RUL it was raised at), oldest first."""
    return _query(
        con,
        ["maintenance_alerts"],
        """SELECT day, ts, severity, probability, rul_fused_h, reason
           FROM maintenance_alerts WHERE machine_id = $m
           QUALIFY row_number() OVER (PARTITION BY day ORDER BY ts) = 1
           ORDER BY ts""",
        {"m": machine_id},
    )


_ALERT_COLUMNS = (
    "machine_id",
    "machine_type",
    "ts",
    "severity",
    "probability",
    "horizon_h",
    "rul_fused_h",
    "rul_fused_lo_h",
    "rul_fused_hi_h",
    "driver",
    "sensor_trend",
    "dominant_stress",
    "reason",
    "model_version",
)


def alerts_of_day(con: duckdb.DuckDBPyConnection, day: dt.date) -> pl.DataFrame:
    """The maintenance alerts raised on ``day``, most probable failure first."""
    cols = ", ".join(_ALERT_COLUMNS)
    return _query(
        con,
        ["maintenance_alerts"],
        f"SELECT {cols} FROM maintenance_alerts WHERE day = $day "
        "ORDER BY probability DESC, machine_id",
        {"day": day},
    )


def alert_history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Alerts per day and severity."""
    return _query(
        con,
        ["maintenance_alerts"],
        "SELECT day, severity, count(*) AS alerts FROM maintenance_alerts GROUP BY ALL ORDER BY day",
    )


def production_by_day(
    con: duckdb.DuckDBPyConnection, machine_types: Iterable[str], start: dt.date, end: dt.date
) -> pl.DataFrame:
    """Per machine of ``machine_types`` and day in ``[start, end]``: operating hours, output
    (what :data:`THROUGHPUT` counts for the type), readings and the share flagged."""
    types = sorted(set(machine_types))
    output_cases = " ".join(f"WHEN '{t}' THEN sum({expr})" for t, (_, expr) in THROUGHPUT.items())
    labels = " ".join(f"WHEN '{t}' THEN '{label}'" for t, (label, _) in THROUGHPUT.items())
    return _query(
        con,
        ["ml_features", "telemetry", "machines"],
        f"""WITH ops AS (
                SELECT f.day, f.machine_id, f.machine_type,
                       sum(f.op_fraction) AS operating_h,
                       CASE f.machine_type {output_cases} END AS output,
                       CASE f.machine_type {labels} END AS output_unit
                FROM ml_features f JOIN machines m USING (machine_id)
                WHERE f.machine_type IN (SELECT unnest($types))
                  AND f.day BETWEEN $start AND $end
                GROUP BY f.day, f.machine_id, f.machine_type),
            q AS (
                SELECT day, machine_id, count(*) AS readings,
                       avg((quality <> 'ok')::DOUBLE) AS flagged_share
                FROM telemetry
                WHERE machine_type IN (SELECT unnest($types)) AND day BETWEEN $start AND $end
                GROUP BY day, machine_id)
            SELECT ops.day, ops.machine_id, ops.machine_type, ops.operating_h, ops.output,
                   ops.output_unit, q.readings, q.flagged_share
            FROM ops LEFT JOIN q USING (day, machine_id)
            ORDER BY ops.day, ops.machine_id""",
        {"types": types, "start": start, "end": end},
    )


def audit_snapshots(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every snapshot the platform built, newest day and version first, with where it stands."""
    return _query(
        con,
        ["audit_snapshots"],
        """SELECT partition AS day, version, status, record_count, root, cid, tx_hash,
                  block_number, gas_used, anchored_at, reason, error
           FROM audit_snapshots ORDER BY partition DESC, id DESC""",
    )


def twin_maturity(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per registered machine, its maturity on the newest day judged: level, name, evidence."""
    return _query(
        con,
        ["machines", "twin_maturity"],
        # the newest day per machine first, then only those rows' evidence (a year of daily
        # evidence documents is read otherwise)
        """WITH latest AS (SELECT machine_id, max(day) AS day FROM twin_maturity GROUP BY ALL)
           SELECT t.machine_id, m.machine_type, t.day, t.level, t.level_name, t.evidence,
                  t.evidence_sha256
           FROM latest JOIN twin_maturity t USING (machine_id, day)
           JOIN machines m USING (machine_id)
           ORDER BY t.level DESC, t.machine_id""",
    )


def twin_maturity_history(con: duckdb.DuckDBPyConnection, machine_id: str) -> pl.DataFrame:
    """The machine's level day by day, oldest first."""
    return _query(
        con,
        ["twin_maturity"],
        """SELECT day, level, level_name FROM twin_maturity WHERE machine_id = $m ORDER BY day""",
        {"m": machine_id},
    )


def track_record_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The newest published track record: per model version, machine type and lead band."""
    return _query(
        con,
        ["track_record_summary"],
        """SELECT * FROM track_record_summary
           WHERE day = (SELECT max(day) FROM track_record_summary)
           ORDER BY model_version, machine_type""",
    )


def track_record_lives(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every closed component life the track record scored, newest first: how it ended, when,
    by which work order, and how many of its predictions were scored and alerted."""
    return _query(
        con,
        ["track_record_scores"],
        """SELECT day AS closed, machine_id, machine_type, end_kind, ended_at, work_order,
                  count(*) AS predictions, count(*) FILTER (WHERE alert) AS alerting,
                  avg(inside_90::DOUBLE) AS coverage_90,
                  string_agg(DISTINCT coalesce(model_version, 'none'), ', ') AS model_versions
           FROM track_record_scores
           GROUP BY ALL ORDER BY ended_at DESC, machine_id""",
    )
