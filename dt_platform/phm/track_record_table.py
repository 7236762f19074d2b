"""The track record in DuckDB: ``track_record_scores`` and ``track_record_summary``, a day at a
time.

A day's scores are the lives the maintenance log closes that day (:func:`score_day`); its summary
is that of every score up to and including the day, written only on days that close a life, so
the snapshot of a day that closes nothing is left as it was. A day is replaced whole
(:func:`write_day`); a later day's summary sums the earlier days as they are stored, so rebuild
days in order. Missing input tables read as empty.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from dt_platform.phm.tables import duck_type
from dt_platform.phm.track_record import (
    PREDICTION_COLUMNS,
    SCORE_SCHEMA,
    Life,
    closed_lives,
    score_lives,
)
from dt_platform.phm.track_record_summary import SUMMARY_SCHEMA, summarize
from dt_platform.warehouse import table_names

SCORES, SUMMARY = "track_record_scores", "track_record_summary"
SCHEMAS = {SCORES: SCORE_SCHEMA, SUMMARY: SUMMARY_SCHEMA}
MAX_UNKNOWN_START = dt.timedelta(days=365)
"""How far back predictions are read for a life whose start the log does not give."""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create both tables if they do not exist yet."""
    for name, schema in SCHEMAS.items():
        cols = ",\n".join(f'"{c}" {duck_type(t)}' for c, t in schema.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")


def _utc(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(
        [
            pl.col(c).dt.convert_time_zone("UTC").cast(t)
            if isinstance(t, pl.Datetime)
            else pl.col(c).cast(t)
            for c, t in schema.items()
        ]
    )


def _work_orders(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> pl.DataFrame:
    schema = {
        "work_order": pl.String(),
        "machine_id": pl.String(),
        "started_at": pl.Datetime("us", "UTC"),
        "finished_at": pl.Datetime("us", "UTC"),
        "kind": pl.String(),
        "action": pl.String(),
        "component": pl.String(),
    }
    if "maintenance_log" not in table_names(con):
        return pl.DataFrame(schema=schema)
    frame = con.execute(
        f"SELECT {', '.join(schema)} FROM maintenance_log WHERE started_at < ?", [until]
    ).pl()
    return _utc(frame, schema)


def _machine_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    present = table_names(con)
    rows: list[tuple[str, str]] = []
    if "rul_predictions" in present:
        rows += con.execute(
            "SELECT DISTINCT machine_id, machine_type FROM rul_predictions "
            "WHERE machine_type IS NOT NULL"
        ).fetchall()
    if "machines" in present:
        rows += con.execute("SELECT machine_id, machine_type FROM machines").fetchall()
    return dict(rows)


def _life_rows(
    con: duckdb.DuckDBPyConnection, table: str, columns: str, lives: list[Life]
) -> pl.DataFrame | None:
    if table not in table_names(con) or not lives:
        return None
    parts = []
    for life in lives:
        start = life.start or life.end - MAX_UNKNOWN_START
        parts.append(
            con.execute(
                f"SELECT {columns} FROM {table} WHERE machine_id = ? AND ts >= ? AND ts < ?",
                [life.machine_id, start, life.end],
            ).pl()
        )
    return pl.concat(parts, how="vertical_relaxed")


def score_day(con: duckdb.DuckDBPyConnection, day: dt.date) -> pl.DataFrame:
    """The scored rows of the lives the maintenance log closes on ``day`` (read-only)."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    lives = closed_lives(_work_orders(con, end), _machine_types(con), day)
    pred_schema = {c: SCORE_SCHEMA.get(c, pl.Date()) for c in PREDICTION_COLUMNS}
    preds = _life_rows(con, "rul_predictions", ", ".join(PREDICTION_COLUMNS), lives)
    alert_schema = {"machine_id": pl.String(), "ts": SCORE_SCHEMA["ts"], "horizon_h": pl.Float64()}
    raised = _life_rows(con, "maintenance_alerts", "machine_id, ts, horizon_h", lives)
    predictions = pl.DataFrame(schema=pred_schema) if preds is None else _utc(preds, pred_schema)
    alerts = pl.DataFrame(schema=alert_schema) if raised is None else _utc(raised, alert_schema)
    return score_lives(lives, predictions, alerts, day)


def _replace(con: duckdb.DuckDBPyConnection, name: str, day: dt.date, frame: pl.DataFrame) -> None:
    con.execute(f"DELETE FROM {name} WHERE day = ?", [day])
    if frame.height:
        con.register("_track_record_rows", frame.select(list(SCHEMAS[name])).to_arrow())
        try:
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _track_record_rows")
        finally:
            con.unregister("_track_record_rows")


def read_scores(
    con: duckdb.DuckDBPyConnection, *, through: dt.date | None = None, day: dt.date | None = None
) -> pl.DataFrame:
    """Stored scores: of one ``day``, or of every day up to ``through`` (default: all)."""
    if SCORES not in table_names(con):
        return pl.DataFrame(schema=SCORE_SCHEMA)
    where, params = "TRUE", []
    if day is not None:
        where, params = "day = ?", [day]
    elif through is not None:
        where, params = "day <= ?", [through]
    frame = con.execute(f"SELECT * FROM {SCORES} WHERE {where}", params).pl()
    return _utc(frame, SCORE_SCHEMA)


def write_day(con: duckdb.DuckDBPyConnection, day: dt.date, scores: pl.DataFrame) -> pl.DataFrame:
    """Store the day's scores and, when it closed a life, the summary of every score up to it;
    returns that summary (empty on a day that closes nothing)."""
    ensure_tables(con)
    _replace(con, SCORES, day, scores)
    summary = summarize(read_scores(con, through=day), day) if scores.height else None
    if summary is None:
        summary = pl.DataFrame(schema=SUMMARY_SCHEMA)
    _replace(con, SUMMARY, day, summary)
    return summary


def summary_days(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Days with a published summary, oldest first."""
    if SUMMARY not in table_names(con):
        return []
    rows = con.execute(f"SELECT DISTINCT day FROM {SUMMARY} ORDER BY day").fetchall()
    return [d for (d,) in rows]


def published_summary(con: duckdb.DuckDBPyConnection, day: dt.date | None = None) -> pl.DataFrame:
    """The summary published on ``day``, or the latest one up to it (default: the newest)."""
    days = [d for d in summary_days(con) if day is None or d <= day]
    if not days:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    frame = con.execute(f"SELECT * FROM {SUMMARY} WHERE day = ?", [days[-1]]).pl()
    return _utc(frame, SUMMARY_SCHEMA)
