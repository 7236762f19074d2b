"""The prognostics tables in DuckDB: their schemas, and writing and reading them a day at a time.

Five tables hold the daily output of the prognostics (:data:`TABLES`): the physics state and
hourly trajectory, the hourly ML features, the RUL predictions and the maintenance alerts. Each
row carries its partition ``day``; a day is always replaced whole (:func:`replace_day`), so
materializing a day again gives the same rows. A table that does not exist yet reads as an
empty frame with its schema (:func:`read_table`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from dt_platform.phm import alerts as alerts_mod
from dt_platform.phm import damage
from dt_platform.phm.schemas import BASE_SCHEMA, PREDICTION_SCHEMA
from dt_platform.warehouse import table_names

_DUCK_TYPES = {
    pl.String: "VARCHAR",
    pl.Float64: "DOUBLE",
    pl.Int64: "BIGINT",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
}


def duck_type(dtype: pl.DataType) -> str:
    """The DuckDB column type of a polars type (every datetime is stored as TIMESTAMPTZ)."""
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    for base, name in _DUCK_TYPES.items():
        if dtype == base:
            return name
    raise TypeError(f"no DuckDB type for {dtype}")


def _with_day(schema: dict) -> dict:
    return {"day": pl.Date(), **schema}


STATE_SCHEMA = _with_day(
    {
        ("ts" if c == "as_of" else c): t
        for c, t in damage.STATE_SCHEMA.items()
        if c != "physics_params_version"  # the registered version replaces it
    }
    | {"physics_version": pl.String()}
)
TRAJECTORY_SCHEMA = _with_day({**damage.TRAJECTORY_SCHEMA, "physics_version": pl.String()})
FEATURES_SCHEMA = _with_day({**BASE_SCHEMA, "physics_version": pl.String()})
PREDICTIONS_SCHEMA = _with_day(
    {
        **PREDICTION_SCHEMA,
        "model_version": pl.String(),
        "physics_version": pl.String(),
        "note": pl.String(),
    }
)
ALERTS_SCHEMA = _with_day({**alerts_mod.ALERT_SCHEMA, "model_version": pl.String()})
ALERTS_SCHEMA.pop("alert")

TABLES = {
    "physics_state": STATE_SCHEMA,
    "physics_trajectory": TRAJECTORY_SCHEMA,
    "ml_features": FEATURES_SCHEMA,
    "rul_predictions": PREDICTIONS_SCHEMA,
    "maintenance_alerts": ALERTS_SCHEMA,
}
"""Tables written by the prognostics, one partition (``day``) at a time."""


def ensure_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Create one of :data:`TABLES` if it does not exist yet."""
    cols = ",\n".join(f'"{c}" {duck_type(t)}' for c, t in TABLES[name].items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")


def conform(frame: pl.DataFrame, name: str, day: dt.date) -> pl.DataFrame:
    """``frame`` as rows of table ``name`` for ``day``: its columns in order, cast to their
    types, null where ``frame`` lacks one; columns the table does not have are dropped."""
    schema = TABLES[name]
    frame = frame.with_columns(pl.lit(day).alias("day"))
    for col, dtype in schema.items():
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def replace_day(
    con: duckdb.DuckDBPyConnection, name: str, day: dt.date, frame: pl.DataFrame
) -> int:
    """Replace the table's rows of ``day`` by ``frame`` (idempotent re-materialization);
    returns the number of rows written."""
    ensure_table(con, name)
    con.execute(f"DELETE FROM {name} WHERE day = ?", [day])
    data = conform(frame, name, day)
    if data.height:
        con.register("_prognostics_rows", data.to_arrow())
        try:
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _prognostics_rows")
        finally:
            con.unregister("_prognostics_rows")
    return data.height


def read_table(
    con: duckdb.DuckDBPyConnection, name: str, where: str, params: Sequence[Any]
) -> pl.DataFrame:
    """Rows of one of :data:`TABLES` matching the SQL condition ``where`` (with ``?``
    placeholders for ``params``); an empty frame of the right schema if it does not exist yet."""
    tables = table_names(con)
    schema = TABLES[name]
    if name not in tables:
        return pl.DataFrame(schema=schema)
    frame = con.execute(f"SELECT * FROM {name} WHERE {where}", params).pl()
    return frame.select(
        [
            pl.col(c).dt.convert_time_zone("UTC").cast(t)
            if isinstance(t, pl.Datetime)
            else pl.col(c).cast(t)
            for c, t in schema.items()
        ]
    )


def read_day(con: duckdb.DuckDBPyConnection, name: str, day: dt.date) -> pl.DataFrame:
    """The rows of one day (see :func:`read_table`)."""
    return read_table(con, name, "day = ?", [day])


def read_days(
    con: duckdb.DuckDBPyConnection, name: str, first: dt.date, last: dt.date
) -> pl.DataFrame:
    """The rows of the days ``first`` to ``last``, both included (see :func:`read_table`)."""
    return read_table(con, name, "day BETWEEN ? AND ?", [first, last])


def model_versions_of_day(con: duckdb.DuckDBPyConnection, day: dt.date) -> str | None:
    """The model versions the day's predictions were made with, as the audit manifest records
    them (``rul:<sha256> physics:<version>``, sorted); None when the day has no predictions."""
    if "rul_predictions" not in table_names(con):
        return None
    rows = con.execute(
        "SELECT DISTINCT 'rul:' || model_version FROM rul_predictions "
        "WHERE day = ? AND model_version IS NOT NULL "
        "UNION SELECT DISTINCT 'physics:' || physics_version FROM rul_predictions "
        "WHERE day = ? AND physics_version IS NOT NULL ORDER BY 1",
        [day, day],
    ).fetchall()
    return " ".join(v for (v,) in rows) or None
