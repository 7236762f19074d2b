"""Data quality of a day: readings loaded (by quality flag), the files that delivered them and
what those files had rejected (by reason), late files, files refused, and silent gateways.

Counting rules (so a reader can recompute every number from the warehouse):

* *loaded*: the day's rows of ``telemetry`` (deduplicated readings of loaded files);
* *files of the day*: loaded files (``file_ledger``) whose ``days`` include the day; their
  ``rows_in``/``rows_loaded``/``rows_rejected`` and their ``telemetry_rejects`` by reason count
  whole files (a file spanning two days shows in both reports);
* *late*: a file with readings of the day ingested after the day's first snapshot was built
  (it missed the day's close), and files ingested during the day with readings of earlier
  days that were already closed that way (a gateway catching up);
* *silent gateway*: a gateway of the registry none of whose machines has a reading that day;
  a gateway whose last reading is more than :data:`QUIET_HOURS` before the day's end went quiet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from dt_platform.report.content import Section, Table, count, moment
from dt_platform.report.db import day_window, missing_tables, rows
from dt_platform.report.svg import bar_chart

QUIET_HOURS = 3.0

_FILES = """
SELECT file_id, path, gateway, rows_in, rows_loaded, rows_rejected, days, ingested_at
FROM file_ledger WHERE status = 'loaded' AND list_contains(days, $day::DATE)
ORDER BY file_id"""
_RECEIVED_LATE = """
SELECT f.file_id, f.path, f.gateway, f.ingested_at,
       list(DISTINCT a.partition ORDER BY a.partition) AS closed_days
FROM file_ledger f JOIN audit_snapshots a
  ON list_contains(f.days, a.partition) AND a.partition < $day::DATE
 AND a.built_at < f.ingested_at
WHERE f.status = 'loaded' AND f.ingested_at >= $start AND f.ingested_at < $end
GROUP BY ALL ORDER BY f.file_id"""
_REFUSED = """
SELECT path, gateway, status, reason FROM file_ledger
WHERE status = 'quarantined' AND ingested_at >= $start AND ingested_at < $end ORDER BY file_id"""
_GATEWAYS = """
SELECT coalesce(m.gateway, '(none)') AS gateway, count(DISTINCT m.machine_id) AS machines,
       count(t.ts) AS readings, max(t.ts) AS last_reading,
       list(DISTINCT m.machine_id ORDER BY m.machine_id) FILTER (WHERE t.ts IS NULL) AS quiet
FROM machines m LEFT JOIN telemetry t ON t.machine_id = m.machine_id AND t.day = $day
WHERE m.active GROUP BY ALL ORDER BY gateway"""


def _first_build(con: duckdb.DuckDBPyConnection, day: dt.date) -> dt.datetime | None:
    if missing_tables(con, "audit_snapshots"):
        return None
    return con.execute(
        "SELECT min(built_at) FROM audit_snapshots WHERE partition = ?", [day]
    ).fetchone()[0]


def _gather(con: duckdb.DuckDBPyConnection, day: dt.date) -> dict[str, Any]:
    """Every row the section shows, by the counting rules of the module doc."""
    start, end = day_window(day)
    by_flag = dict(
        con.execute(
            "SELECT quality, count(*) FROM telemetry WHERE day = ? GROUP BY quality ORDER BY 1",
            [day],
        ).fetchall()
    )
    loaded = sum(by_flag.values())
    files = rows(con, _FILES, {"day": day})
    ids = [f["file_id"] for f in files]
    reasons = con.execute(
        "SELECT reason, count(*) FROM telemetry_rejects WHERE file_id IN (SELECT unnest($ids)) "
        "GROUP BY reason ORDER BY 2 DESC, 1",
        {"ids": ids},
    ).fetchall()
    built = _first_build(con, day)
    late_for_day = [f for f in files if built is not None and f["ingested_at"] > built]
    received_late = (
        []
        if built is None and missing_tables(con, "audit_snapshots")
        else rows(con, _RECEIVED_LATE, {"day": day, "start": start, "end": end})
    )
    refused = rows(con, _REFUSED, {"start": start, "end": end})
    gateways = rows(con, _GATEWAYS, {"day": day})
    silent = [g["gateway"] for g in gateways if not g["readings"]]
    quiet = [
        g["gateway"]
        for g in gateways
        if g["readings"] and (end - g["last_reading"]).total_seconds() > QUIET_HOURS * 3600
    ]
    return {
        "by_flag": by_flag, "loaded": loaded, "files": files, "reasons": reasons,
        "late_for_day": late_for_day, "received_late": received_late, "refused": refused,
        "gateways": gateways, "silent": silent, "quiet": quiet,
    }  # fmt: skip


def quality_section(con: duckdb.DuckDBPyConnection, day: dt.date) -> Section:
    section = Section("quality", "Data quality")
    gone = missing_tables(con, "telemetry", "file_ledger", "telemetry_rejects", "machines")
    if gone:
        section.missing.append(f"no ingestion yet (missing tables: {', '.join(gone)})")
        return section
    g = _gather(con, day)
    by_flag, loaded, files = g["by_flag"], g["loaded"], g["files"]
    silent, quiet = g["silent"], g["quiet"]
    section.facts = {
        "loaded": loaded,
        "by_quality": by_flag,
        "files": len(files),
        "rows_in": sum(f["rows_in"] or 0 for f in files),
        "rows_loaded": sum(f["rows_loaded"] or 0 for f in files),
        "rows_rejected": sum(f["rows_rejected"] or 0 for f in files),
        "rejects_by_reason": dict(g["reasons"]),
        "late_for_day": [f["path"] for f in g["late_for_day"]],
        "received_late": [f["path"] for f in g["received_late"]],
        "refused": [f["path"] for f in g["refused"]],
        "silent_gateways": silent,
        "quiet_gateways": quiet,
    }
    if not loaded:
        section.missing.append(f"no reading of {day} was loaded: no telemetry for the day")
    flags = ", ".join(f"{q} {n:,}" for q, n in by_flag.items()) or "none"
    section.lines.append(f"Readings of the day loaded: {loaded:,} (by quality flag: {flags}).")
    section.lines.append(
        f"{len(files)} loaded file(s) delivered readings of the day: "
        f"{section.facts['rows_in']:,} rows in, {section.facts['rows_loaded']:,} loaded, "
        f"{section.facts['rows_rejected']:,} rejected (whole files, every day they hold)."
    )
    section.lines.append(
        "Silent gateways (no reading all day): "
        + (", ".join(silent) or "none")
        + f"; gone quiet more than {QUIET_HOURS:g} h before midnight: "
        + (", ".join(quiet) or "none")
        + "."
    )
    _charts_and_tables(con, section, day, g)
    return section


def _charts_and_tables(
    con: duckdb.DuckDBPyConnection, section: Section, day: dt.date, g: dict[str, Any]
) -> None:
    late_for_day, received_late, refused = g["late_for_day"], g["received_late"], g["refused"]
    reasons, gateways = g["reasons"], g["gateways"]
    if g["loaded"]:
        hourly = dict(
            con.execute(
                "SELECT hour(ts AT TIME ZONE 'UTC'), count(*) FROM telemetry WHERE day = ? "
                "GROUP BY 1",
                [day],
            ).fetchall()
        )
        section.charts.append(
            bar_chart(
                [f"{h:02d}" for h in range(24)],
                [hourly.get(h, 0) for h in range(24)],
                f"Readings loaded per hour, {day} (UTC)",
                "hour of the day (UTC); a red stub marks an hour without readings",
            )
        )
    if reasons:
        section.tables.append(
            Table(
                "Rows rejected by the files of the day, by reason",
                ("reason", "rows"),
                [(r, count(n)) for r, n in reasons],
                frozenset({1}),
            )
        )
    late = [
        (f["path"], f["gateway"] or "–", "after the day was closed", moment(f["ingested_at"]))
        for f in late_for_day
    ]
    late += [
        (
            f["path"],
            f["gateway"] or "–",
            "closed days: " + ", ".join(str(d) for d in f["closed_days"]),
            moment(f["ingested_at"]),
        )
        for f in received_late
    ]
    section.lines.append(
        f"Late files: {len(late)}; files refused (quarantined) that day: {len(refused)}."
    )
    if late:
        section.tables.append(
            Table("Late files", ("file", "gateway", "late for", "ingested"), late)
        )
    if refused:
        section.tables.append(
            Table(
                "Files refused that day",
                ("file", "gateway", "reason"),
                [(f["path"], f["gateway"] or "–", f["reason"] or "–") for f in refused],
            )
        )
    section.tables.append(
        Table(
            "Gateways",
            ("gateway", "machines", "readings", "last reading", "machines without readings"),
            [
                (
                    g["gateway"],
                    count(g["machines"]),
                    count(g["readings"]),
                    moment(g["last_reading"]),
                    ", ".join(g["quiet"] or []) or "–",
                )
                for g in gateways
            ],
            frozenset({1, 2}),
        )
    )
