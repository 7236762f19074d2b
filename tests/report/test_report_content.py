"""The report of a hand-made day: every section's figures equal the ones chosen by hand in
``report_fixtures``, and the HTML shows them; a day without data says so in every section."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

from dt_platform.report import build_report, render_html
from dt_platform.warehouse import Warehouse
from tests.report.report_fixtures import (
    DAY,
    END,
    PREV,
    ROOT,
    SNAPSHOT_CID,
    TX,
    build_twin_store,
    build_warehouse,
    telemetry_of_the_day,
    twin_read_only,
)

NOW = END + dt.timedelta(hours=1, minutes=30)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("report_day")
    warehouse = Warehouse(home / "warehouse.duckdb")
    with warehouse.write() as con:
        build_warehouse(con)
    build_twin_store(home / "twin.sqlite")
    twin = twin_read_only(home / "twin.sqlite")
    with warehouse.read() as con:
        built = build_report(con, twin, DAY, now=NOW)
    twin.close()
    return built


def test_fleet_health_and_what_changed(report) -> None:
    fleet = report.section("fleet")
    assert not fleet.missing
    assert fleet.facts == {
        "machines": 4,
        "predicted": 3,  # SERVO-01 has none
        "with_rul": 2,  # OVEN-01's prediction has no fused RUL
        "alerting": 1,
        "alerting_prev": 1,
        "new_alerts": ["SMT-01"],
        "no_longer_alerting": ["CNC-01"],
        "level_changes": ["SMT-01 2 → 3"],
        "work_orders": ["WO-1"],  # WO-2 started the day before
        "failures": ["WO-1"],
    }
    rows = {r[0]: r for r in fleet.tables[0].rows}
    assert rows["SMT-01"][2:5] == ("40 h", "10–120 h", "−20 h")
    assert rows["CNC-01"][4] == "−20 h" and rows["CNC-01"][6] == "–"
    assert rows["SMT-01"][6] == "critical (80%)" and rows["SMT-01"][7] == "3 digital twin"
    assert rows["SERVO-01"][2:5] == ("–", "–", "–")


def test_top_risks_alerting_first_with_intervals(report) -> None:
    risks = report.section("risks")
    assert risks.facts["top"] == ["SMT-01", "CNC-01"]
    assert risks.tables[0].rows[0][3] == "10–120 h" and risks.tables[0].rows[0][4] == "80%"
    chart = risks.charts[0]
    assert chart.startswith("<svg") and "SMT-01" in chart and "1,000 h" in chart


def test_alarms_of_the_day(report) -> None:
    alarms = report.section("alarms")
    assert alarms.facts == {
        "events": {"opened": 1, "escalated": 0, "acknowledged": 1, "cleared": 1, "resolved": 0},
        "active_at_end": 1,  # SMT-01; CNC-01's opening belongs to the day before
    }
    events = [(r[2], r[4], r[6], r[7]) for r in alarms.tables[0].rows]
    assert ("CNC-01", "acknowledged", "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65",
            "spare ordered") in events  # fmt: skip
    assert {(m, e) for m, e, *_ in events} == {
        ("CNC-01", "acknowledged"), ("CNC-01", "cleared"), ("SMT-01", "opened")
    }  # fmt: skip


def test_decisions_and_commands(report) -> None:
    decisions = report.section("decisions")
    assert decisions.facts == {"decisions": 1, "by_action": {"derate": 1}, "commands": 1}
    assert decisions.tables[0].rows[0][:4] == ("SMT-01", "derate 20 %", "autonomous", "applied")
    command = decisions.tables[1].rows[0]
    assert command[1:5] == ("SMT-01", "derate 20 %", "applied", command[4])
    assert command[5] == "issued → pending → applied"


def test_data_quality(report) -> None:
    quality = report.section("quality")
    rows = telemetry_of_the_day()
    assert quality.facts["loaded"] == len(rows)
    assert quality.facts["by_quality"] == dict(Counter(r[6] for r in rows))
    # files 1, 2, 3 hold readings of the day (2 also of the day before: counted whole)
    assert (quality.facts["files"], quality.facts["rows_in"]) == (3, 160)
    assert (quality.facts["rows_loaded"], quality.facts["rows_rejected"]) == (156, 4)
    assert quality.facts["rejects_by_reason"] == {
        "non_numeric_value": 2,
        "out_of_range": 1,
        "missing_timezone": 1,
    }
    assert quality.facts["late_for_day"] == ["gw-historian/late.parquet"]
    assert quality.facts["received_late"] == ["gw-mqtt/old.jsonl"]
    assert quality.facts["refused"] == ["gw-opcua/huge.csv"]
    assert quality.facts["silent_gateways"] == ["gw-quiet"]
    assert quality.facts["quiet_gateways"] == ["gw-mqtt"]
    hourly = quality.charts[0]
    assert hourly.count("<rect") == 24


def test_the_days_anchor_and_the_track_record(report) -> None:
    anchor = report.section("anchor")
    assert anchor.facts["anchored"] == [
        {"version": 1, "root": ROOT, "cid": SNAPSHOT_CID, "tx_hash": TX, "block_number": 42}
    ]
    assert report.covering_day == DAY + dt.timedelta(days=1)
    record = report.section("track_record")
    assert record.facts == {
        "published": PREV,
        "lives": 3,
        "predictions": 34,
        "failures": 2,
        "warned": 2,
        "closed_today": [],
    }


def test_the_html_shows_the_figures_and_stands_alone(report) -> None:
    html = render_html(report)
    for needle in (ROOT, SNAPSHOT_CID, TX, "SMT-01", "gw-quiet", "non_numeric_value",
                   "gw-historian/late.parquet", "spare ordered", "2 of 2", "90%"):  # fmt: skip
        assert needle in html, needle
    assert f"{len(telemetry_of_the_day()):,}" in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)  # nothing to fetch
    assert "@media print" in html and "Content-Security-Policy" in html
    assert ">None<" not in html and "None of" not in html and "0 of 0" in html


def test_a_day_without_data_says_so_in_every_section(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.write() as con:
        build_warehouse(con)
    empty_day = DAY - dt.timedelta(days=30)
    with warehouse.read() as con:
        report = build_report(con, None, empty_day, now=NOW)
    for key in ("fleet", "risks", "alarms", "quality", "anchor", "track_record"):
        assert report.section(key).missing, key
    assert "no predictions for" in report.section("fleet").missing[0]
    assert "no reading of" in report.section("quality").missing[0]
    assert "no snapshot of" in report.section("anchor").missing[0]
    html = render_html(report)
    assert html.count('class="missing"') >= 6
    # a warehouse with nothing at all: still a report
    with Warehouse(tmp_path / "empty.duckdb").write() as con:
        bare = build_report(con, None, DAY, now=NOW)
    assert all(s.missing for s in bare.sections if s.key != "decisions")
    assert "Daily report" in render_html(bare)
