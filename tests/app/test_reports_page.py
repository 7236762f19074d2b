"""The daily report on the demo-built platform: ``make demo``'s path built the report of the
newest complete day, whose figures equal what the warehouse holds (counted here with SQL of
its own), and the Reports page (MANAGER) lists it with both downloads and their CIDs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dt_platform.report import build_report, list_reports
from dt_platform.report.publish import open_twin_read_only
from dt_platform.warehouse import Warehouse

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "app"
SESSION = "dt_signed_in"


def newest_complete_day(con) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return con.execute("SELECT max(day) FROM telemetry WHERE day < ?", [today]).fetchone()[0]


def test_the_demo_reported_its_newest_complete_day(platform) -> None:
    settings = platform.settings
    with Warehouse(settings.warehouse_path).read() as con:
        day = newest_complete_day(con)
        twin = open_twin_read_only(settings.twin_db_path)
        report = build_report(con, twin, day, now=dt.datetime.now(dt.UTC))
        if twin is not None:
            twin.close()
        (machines,) = con.execute("SELECT count(*) FROM machines WHERE active").fetchone()
        (predicted,) = con.execute(
            "SELECT count(DISTINCT machine_id) FROM rul_predictions WHERE day = ?", [day]
        ).fetchone()
        (loaded,) = con.execute("SELECT count(*) FROM telemetry WHERE day = ?", [day]).fetchone()
        files = con.execute(
            "SELECT file_id, rows_rejected FROM file_ledger WHERE status = 'loaded' "
            "AND ? = ANY(days)",
            [day],
        ).fetchall()
        reasons = dict(
            con.execute(
                "SELECT reason, count(*) FROM telemetry_rejects WHERE file_id IN "
                "(SELECT unnest(?)) GROUP BY reason",
                [[f for f, _ in files]],
            ).fetchall()
        )
        anchors = con.execute(
            "SELECT version, root, cid, tx_hash, block_number FROM audit_snapshots "
            "WHERE partition = ? AND status = 'anchored' ORDER BY id",
            [day],
        ).fetchall()
    fleet, quality = report.section("fleet").facts, report.section("quality").facts
    assert (fleet["machines"], fleet["predicted"]) == (machines, predicted) and machines > 0
    assert quality["loaded"] == loaded > 0
    assert quality["files"] == len(files)
    assert quality["rows_rejected"] == sum(r for _, r in files)
    assert quality["rejects_by_reason"] == reasons
    shown = report.section("anchor").facts["anchored"]
    assert [tuple(a.values()) for a in shown] == anchors and anchors
    # what the demo wrote is that report (its figures and its anchor)
    (listed,) = [r for r in list_reports(settings.reports_dir) if r["day"] == day.isoformat()]
    html = (settings.reports_dir / day.isoformat() / "report.html").read_text()
    assert anchors[-1][3] in html and f"{loaded:,}" in html
    assert listed["covering_day"] > day.isoformat()


def test_the_reports_page_lists_the_reports_with_downloads(platform) -> None:
    reports = list_reports(platform.settings.reports_dir)
    assert reports, "the demo builds a report"
    st.cache_data.clear()
    at = AppTest.from_file(str(APP / "dashboard.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address("MANAGER"))
    at.run()
    at.switch_page("app_pages/reports.py")
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert [t.value for t in at.title] == ["Daily reports"]
    table = at.dataframe[0].value
    assert table["day"].tolist() == [r["day"] for r in reports]
    newest = reports[0]
    cids = {f["cid"] for f in newest["files"]}
    assert {c.value for c in at.code} == cids and len(cids) == 2
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download HTML", "Download PDF"]


def test_only_a_manager_opens_the_reports_page(platform) -> None:
    at = AppTest.from_file(str(APP / "app_pages" / "reports.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address("AUDITOR"))
    at.run()
    assert at.error and "Access denied" in at.error[0].value and not at.dataframe
