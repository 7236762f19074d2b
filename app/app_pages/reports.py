"""Daily reports (MANAGER): each morning's report of the day before — download it as HTML or
PDF, see its IPFS CIDs and the anchor that covers it. `dt-platform report [--day D] [--send]`
builds one now."""

import polars as pl
import streamlit as st

from app import session
from dt_platform.report import list_reports, report_file
from dt_platform.trust.audit import ANCHORED

session.guard("reports")
st.title("Daily reports")
st.write(
    "Every morning, once the day before is complete and anchored, the platform writes its "
    "report — fleet health and what changed, top risks, alarms, decisions and commands, data "
    "quality, the day's anchor and the track record — as HTML and PDF, publishes both to IPFS "
    "and mails them to `DT_REPORT_TO` — once per version: a day rebuilt with different figures "
    "goes out again as a correction. A report shows its own day's anchor, so the next "
    "day's anchor covers it: prove it on the audit trail with the source "
    "`published_documents` and the name `daily_report/<day>.html`."
)

reports_dir = session.settings().reports_dir
reports = list_reports(reports_dir)
if not reports:
    st.info(
        "No report yet: the first is written the morning after a day is anchored, or now with "
        "`dt-platform report`."
    )
    st.stop()

snapshots: pl.DataFrame = session.query("audit_snapshots")
anchored = snapshots.filter(pl.col("status") == ANCHORED)
covering_tx = {
    d.isoformat(): tx for d, tx in anchored.sort("version").select("day", "tx_hash").iter_rows()
}


def _cid(report: dict, kind: str) -> str:
    found = [f["cid"] for f in report.get("files", []) if f.get("kind") == kind]
    return found[0] if found else "–"


table = pl.DataFrame(
    {
        "day": [r["day"] for r in reports],
        "summary": [r.get("headline", "–") for r in reports],
        "covered by the anchor of": [r.get("covering_day", "–") for r in reports],
        "that anchor": [
            covering_tx.get(r.get("covering_day"), "not anchored yet") for r in reports
        ],
        "HTML CID": [_cid(r, "html") for r in reports],
        "PDF CID": [_cid(r, "pdf") for r in reports],
        "mail": [r.get("mailed", r.get("mail", "–")) for r in reports],
    }
)
st.dataframe(table, hide_index=True, width="stretch")

day = st.selectbox("Report of", [r["day"] for r in reports])
chosen = next(r for r in reports if r["day"] == day)
st.caption(chosen.get("headline", ""))
for sent in chosen.get("mail_history", []):
    kind = "Correction" if sent["correction"] else "Mailed"
    st.caption(
        f"{kind} to {', '.join(sent['to'])} at {sent['at']} (HTML sha256 {sent['sha256'][:12]}…)"
    )
cols = st.columns(2)
for col, kind, mime in ((cols[0], "html", "text/html"), (cols[1], "pdf", "application/pdf")):
    path = report_file(reports_dir, day, kind)
    with col:
        if path is None:
            reason = chosen.get("pdf_error") if kind == "pdf" else None
            st.warning(f"No {kind.upper()} for {day}" + (f": {reason}" if reason else "."))
            continue
        st.download_button(
            f"Download {kind.upper()}",
            data=path.read_bytes(),
            file_name=f"dt-platform-report-{day}.{kind}",
            mime=mime,
            key=f"download-{kind}",
            icon=":material/download:",
        )
        st.code(_cid(chosen, kind), language=None)
