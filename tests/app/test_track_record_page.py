"""The track record page (Streamlit AppTest against the real chain for the role check): the
hand-made timeline's track record is stored in the dashboard platform's warehouse under its own
model versions (``v1``, ``v2``) and a day after the demo's, and removed afterwards."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import data
from dt_platform.phm.track_record import closed_lives, score_lives
from dt_platform.phm.track_record_table import SCORES, SUMMARY, write_day
from dt_platform.warehouse import Warehouse
from tests.phm.track_record_fixtures import TYPE, WORK_ORDERS, M, alerts, predictions

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "app"
SESSION = "dt_signed_in"
SHIFT = dt.timedelta(days=365 * 70)  # March 2096: after anything the demo wrote


@pytest.fixture
def record(platform) -> Iterator[None]:
    days = []
    warehouse = Warehouse(platform.settings.warehouse_path)
    with warehouse.write() as con:
        for d in (5, 9):
            day = dt.date(2026, 3, d)
            lives = [x for x in closed_lives(WORK_ORDERS, {M: TYPE}, day) if x.machine_id == M]
            scores = score_lives(lives, predictions(), alerts(), day + SHIFT)
            write_day(con, day + SHIFT, scores)
            days.append(day + SHIFT)
    st.cache_data.clear()
    try:
        yield
    finally:
        with warehouse.write() as con:
            for table in (SCORES, SUMMARY):
                con.execute(f"DELETE FROM {table} WHERE day IN (SELECT unnest(?))", [days])
        st.cache_data.clear()


def page(platform, role: str) -> AppTest:
    at = AppTest.from_file(str(APP / "dashboard.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    at.switch_page("app_pages/track_record.py")
    return at.run()


@pytest.mark.parametrize("role", ["MANAGER", "AUDITOR", "SUPPLIER"])
def test_the_track_record_page(platform, record, role: str) -> None:
    at = page(platform, role)
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert [t.value for t in at.title] == ["Track record"]
    assert {m.label for m in at.metric} >= {"Lives closed", "Failures warned"}
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(charts) == 2  # calibration, error by lead time
    values = [
        row
        for chart in at.get("vega_lite_chart")
        for named in chart.proto.datasets
        for row in pa.ipc.open_stream(named.data.data).read_all().to_pylist()
    ]
    observed = {
        (r["nominal"], r["observed"])
        for r in values
        if "nominal" in r and r["model"] == "v1 · smt_placer"
    }
    assert observed == {(0.5, 0.25), (0.8, 0.5), (0.9, 0.5)}  # by hand: 1, 2, 2 of 4
    frames = [df.value for df in at.dataframe]
    alerts_table = next(f for f in frames if "false_alarm_share" in f.columns)
    v1 = alerts_table[alerts_table["model_version"] == "v1"].iloc[0]
    assert (v1["failures"], v1["warned"], v1["mean_lead_h"]) == (1, 1, 36.0)
    assert v1["false_alarm_share"] == 0.5
    lives = next(f for f in frames if "work_order" in f.columns)
    assert {"WO-1", "WO-2"} <= set(lives["work_order"])


def test_a_maintainer_is_refused(platform) -> None:
    at = AppTest.from_file(str(APP / "app_pages" / "track_record.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address("MAINTAINER"))
    at.run()
    assert not at.exception
    assert "Access denied" in at.error[0].value and "AUDITOR" in at.error[0].value
    assert not at.metric and not at.dataframe


def test_the_queries_on_a_fresh_warehouse() -> None:
    with duckdb.connect(":memory:") as con:
        summary = data.track_record_summary(con)
        lives = data.track_record_lives(con)
    assert summary.is_empty() and "coverage_90" in summary.columns
    assert lives.is_empty() and "work_order" in lives.columns
    assert isinstance(summary, pl.DataFrame)
