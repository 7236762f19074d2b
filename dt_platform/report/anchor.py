"""The day's anchor, as the audit queue recorded it (``audit_snapshots``: CID, Merkle root,
transaction, block, every version with its reason), the documents it covers, and the track
record of the model versions published up to the day."""

from __future__ import annotations

import datetime as dt

import duckdb

from dt_platform.report.content import Section, Table, count, hours, moment, share, text
from dt_platform.report.db import missing_tables, rows
from dt_platform.trust.audit import ANCHORED
from dt_platform.trust.snapshot import attached_documents

REPORT_DOCUMENT = "daily_report/{day}.{ext}"
"""How a day's report is named among the documents its covering day's snapshot holds."""

_BUILDS = """
SELECT id, version, status, root, record_count, cid, tx_hash, block_number, gas_used,
       built_at, anchored_at, reason, error, detail
FROM audit_snapshots WHERE partition = $day ORDER BY id"""
_SUMMARY = """
SELECT day, model_version, machine_type, lives, predictions, coverage_90, rmse_h, failures,
       warned, mean_lead_h, false_alarm_share
FROM track_record_summary
WHERE lead_band = 'all' AND day = (SELECT max(day) FROM track_record_summary WHERE day <= $day)
ORDER BY model_version, machine_type"""
_CLOSED = """
SELECT machine_id, end_kind, work_order, count(*) AS predictions
FROM track_record_scores WHERE day = $day GROUP BY ALL ORDER BY machine_id"""


def anchor_section(con: duckdb.DuckDBPyConnection, day: dt.date, covering: dt.date) -> Section:
    section = Section("anchor", "The day's anchor")
    builds = [] if missing_tables(con, "audit_snapshots") else rows(con, _BUILDS, {"day": day})
    anchored = [b for b in builds if b["status"] == ANCHORED]
    section.facts = {
        "anchored": [
            {k: b[k] for k in ("version", "root", "cid", "tx_hash", "block_number")}
            for b in anchored
        ],
        "builds": len(builds),
    }
    if not builds:
        section.missing.append(
            f"no snapshot of {day} was built: nothing anchored (no records, or the day's run "
            "did not reach the audit)"
        )
    elif not anchored:
        last = builds[-1]
        section.missing.append(
            f"the day is not anchored: its snapshot is {last['status']}"
            + (f" ({last['error'] or last['detail']})" if last["error"] or last["detail"] else "")
        )
    for b in anchored:
        section.lines.append(
            f"Version {b['version']}: {count(b['record_count'])} records, anchored "
            f"{moment(b['anchored_at'])} in block {count(b['block_number'])}"
            + (f" — reason: {b['reason']}" if b["reason"] else "")
            + "."
        )
    if anchored:
        section.tables.append(
            Table(
                "Anchored versions",
                ("version", "Merkle root", "CID (IPFS)", "transaction", "block"),
                [
                    (
                        str(b["version"]),
                        b["root"],
                        text(b["cid"]),
                        text(b["tx_hash"]),
                        count(b["block_number"]),
                    )
                    for b in anchored
                ],
            )
        )
    documents = attached_documents(con, day)
    if documents:
        section.tables.append(
            Table(
                "Documents this day's anchor also covers",
                ("name", "CID", "bytes"),
                [(d["name"], d["cid"], count(d["size_bytes"])) for d in documents],
                frozenset({2}),
            )
        )
    name = REPORT_DOCUMENT.format(day=day, ext="html")
    section.lines.append(
        f"This report shows the day's own anchor, so the anchor of {covering} covers it (the "
        f"next day not yet built when it was published): `dt-platform prove --partition "
        f"{covering} --record published_documents:name={name}` once that day is anchored."
    )
    return section


def track_record_section(con: duckdb.DuckDBPyConnection, day: dt.date) -> Section:
    section = Section("track_record", "Track record of the model versions")
    if missing_tables(con, "track_record_summary", "track_record_scores"):
        section.missing.append("no track record table yet: the track record has not run")
        return section
    summary = rows(con, _SUMMARY, {"day": day})
    closed = rows(con, _CLOSED, {"day": day})
    section.facts = {
        "published": summary[0]["day"] if summary else None,
        "lives": sum(r["lives"] for r in summary),
        "predictions": sum(r["predictions"] for r in summary),
        # a version and type whose closed lives had no failure and no alert has null counts
        "failures": sum(r["failures"] or 0 for r in summary),
        "warned": sum(r["warned"] or 0 for r in summary),
        "closed_today": [r["machine_id"] for r in closed],
    }
    if not summary:
        section.missing.append(
            f"no component life closed up to {day}: no prediction could be scored yet"
        )
        return section
    section.lines.append(
        f"Published {summary[0]['day']}, over every component life closed up to then: "
        f"{section.facts['lives']} lives, {section.facts['warned']} of "
        f"{section.facts['failures']} failures warned."
    )
    if closed:
        section.lines.append(
            "Lives closed this day: "
            + "; ".join(f"{r['machine_id']} ({r['end_kind']}, {r['work_order']})" for r in closed)
            + "."
        )
    section.tables.append(
        Table(
            "Per model version and machine type (every lead time)",
            (
                "model version",
                "type",
                "lives",
                "scored",
                "90 % coverage",
                "RMSE",
                "warned",
                "mean lead",
                "false alarms",
            ),
            [
                (
                    r["model_version"][:12],
                    r["machine_type"],
                    count(r["lives"]),
                    count(r["predictions"]),
                    share(r["coverage_90"]),
                    hours(r["rmse_h"]),
                    f"{r['warned'] or 0} of {r['failures'] or 0}",
                    hours(r["mean_lead_h"]),
                    share(r["false_alarm_share"]),
                )
                for r in summary
            ],
            frozenset({2, 3, 4, 5, 7, 8}),
        )
    )
    return section
