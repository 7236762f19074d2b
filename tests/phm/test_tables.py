"""The prognostics tables: each round-trips through DuckDB with its schema, a table not written yet
reads as an empty frame of its schema, and writing a day again replaces it (nothing else)."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from dt_platform.phm import tables

DAY = dt.date(2026, 1, 27)
TS = dt.datetime(2026, 1, 27, 13, tzinfo=dt.UTC)


def _value(dtype: pl.DataType, k: int) -> object:
    if isinstance(dtype, pl.Datetime):
        return TS + dt.timedelta(hours=k)
    if dtype == pl.Date:
        return DAY
    if dtype == pl.Float64:
        return 0.25 + k
    if dtype == pl.Int64:
        return 7 + k
    if dtype == pl.Boolean:
        return k % 2 == 0
    return f"value-{k}"


def _rows(name: str, n: int = 3) -> pl.DataFrame:
    """``n`` rows of table ``name`` without its ``day``, every column set (a null in the last)."""
    schema = {c: t for c, t in tables.TABLES[name].items() if c != "day"}
    data = {c: [_value(t, k) for k in range(n - 1)] + [None] for c, t in schema.items()}
    data["machine_id"] = [f"M-{k}" for k in range(n)]
    return pl.DataFrame(data, schema=schema)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@pytest.mark.parametrize("name", sorted(tables.TABLES))
def test_each_table_round_trips_with_its_schema(con, name: str) -> None:
    rows = _rows(name)
    assert tables.replace_day(con, name, DAY, rows) == rows.height
    back = tables.read_day(con, name, DAY)
    assert back.schema == pl.Schema(tables.TABLES[name])
    assert back.sort("machine_id").equals(tables.conform(rows, name, DAY))
    assert (back["day"] == DAY).all()


@pytest.mark.parametrize("name", sorted(tables.TABLES))
def test_a_table_not_written_yet_reads_as_an_empty_frame_of_its_schema(con, name: str) -> None:
    for frame in (
        tables.read_day(con, name, DAY),
        tables.read_days(con, name, DAY - dt.timedelta(days=3), DAY),
    ):
        assert frame.is_empty()
        assert frame.schema == pl.Schema(tables.TABLES[name])


def test_replacing_a_day_is_idempotent_and_leaves_other_days_alone(con) -> None:
    name = "rul_predictions"
    before = DAY - dt.timedelta(days=1)
    tables.replace_day(con, name, before, _rows(name, 2))
    rows = _rows(name, 3)
    for _ in range(2):
        assert tables.replace_day(con, name, DAY, rows) == 3
    assert tables.read_day(con, name, DAY).height == 3
    assert tables.replace_day(con, name, DAY, rows.head(1)) == 1
    assert tables.read_day(con, name, DAY)["machine_id"].to_list() == ["M-0"]
    assert tables.replace_day(con, name, DAY, rows.clear()) == 0  # a day with nothing left
    assert tables.read_day(con, name, DAY).is_empty()
    assert tables.read_day(con, name, before).height == 2
    both = tables.read_days(con, name, before, DAY)
    assert both["day"].to_list() == [before, before]


def test_conform_orders_casts_and_fills_columns(con) -> None:
    frame = pl.DataFrame({"rul_ml_h": [1], "machine_id": ["M-1"], "not_a_column": ["x"]})
    out = tables.conform(frame, "rul_predictions", DAY)
    assert out.columns == list(tables.TABLES["rul_predictions"])
    row = out.row(0, named=True)
    assert row["rul_ml_h"] == 1.0 and row["day"] == DAY and row["rul_fused_h"] is None


def test_types_without_a_duckdb_column_are_refused() -> None:
    assert tables.duck_type(pl.Datetime("us", "UTC")) == "TIMESTAMPTZ"
    assert tables.duck_type(pl.Int64()) == "BIGINT"
    with pytest.raises(TypeError, match="no DuckDB type"):
        tables.duck_type(pl.List(pl.String))


def test_the_model_versions_of_a_day_are_those_its_predictions_used(con) -> None:
    assert tables.model_versions_of_day(con, DAY) is None  # no predictions table yet
    rows = _rows("rul_predictions").with_columns(
        pl.Series("model_version", ["bbb", "aaa", None]),
        pl.Series("physics_version", ["p1", "p1", "p1"]),
    )
    tables.replace_day(con, "rul_predictions", DAY, rows)
    assert tables.model_versions_of_day(con, DAY) == "physics:p1 rul:aaa rul:bbb"
    assert tables.model_versions_of_day(con, DAY + dt.timedelta(days=1)) is None
