"""Producing a report without a chain: the files and the manifest the dashboard lists, both on
IPFS and attached to the next day; without a browser the HTML still goes out and says why there
is no PDF, and no stale PDF stays on disk or attached."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from dt_platform.report import list_reports, produce_report, report_file
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.snapshot import attached_documents
from dt_platform.warehouse import Warehouse
from tests.report.report_fixtures import (
    DAY,
    END,
    build_twin_store,
    build_warehouse,
    reject_late_rows,
)

NEXT = DAY + dt.timedelta(days=1)


def test_files_manifest_ipfs_and_attachment_then_a_rebuild_without_pdf(tmp_path: Path) -> None:
    ipfs = EmbeddedIpfs(tmp_path / "ipfs")
    reports = tmp_path / "reports"
    build_twin_store(tmp_path / "twin.sqlite")
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        build_warehouse(con)
        first = produce_report(con, tmp_path / "twin.sqlite", ipfs, DAY, reports, now=END)
        assert first.pdf_error is None and [f.kind for f in first.files] == ["html", "pdf"]
        for f in first.files:
            assert ipfs.cat(f.cid) == Path(f.path).read_bytes()
        assert {d["name"] for d in attached_documents(con, NEXT)} == {
            f"daily_report/{DAY}.html",
            f"daily_report/{DAY}.pdf",
        }
        no_browser = str(tmp_path / "no-such-chromium")
        same = produce_report(
            con, tmp_path / "twin.sqlite", ipfs, DAY, reports,
            now=END + dt.timedelta(hours=1), browser=no_browser,
        )  # fmt: skip
        # the day says the same: the published files stay, PDF too, attached as they were
        assert same.unchanged and same.files == first.files and same.pdf_error is None
        assert {d["name"]: d["cid"] for d in attached_documents(con, NEXT)} == {
            f.name: f.cid for f in first.files
        }
        reject_late_rows(con)  # now it does not: built anew, and there is no browser
        second = produce_report(
            con, tmp_path / "twin.sqlite", ipfs, DAY, reports,
            now=END + dt.timedelta(hours=2), browser=no_browser,
        )  # fmt: skip
        attached = {d["name"]: d["cid"] for d in attached_documents(con, NEXT)}
    assert not second.unchanged and second.generated_at == (END + dt.timedelta(hours=2)).isoformat()
    assert "cannot start" in second.pdf_error and [f.kind for f in second.files] == ["html"]
    assert attached == {f"daily_report/{DAY}.html": second.file("html").cid}
    assert report_file(reports, DAY.isoformat(), "pdf") is None
    assert report_file(reports, DAY.isoformat(), "html") == reports / str(DAY) / "report.html"
    assert report_file(reports, "../etc", "html") is None
    assert report_file(reports, DAY.isoformat(), "exe") is None
    (listed,) = list_reports(reports)
    manifest = json.loads((reports / str(DAY) / "report.json").read_text())
    assert listed == {**manifest, "mail_history": [], "mailed": "not configured"}
    assert listed["covering_day"] == NEXT.isoformat() and listed["pdf_error"]
