"""Build the report of a day from the warehouse and the twin store (both read only)."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import duckdb

from dt_platform.report.anchor import anchor_section, track_record_section
from dt_platform.report.content import DailyReport
from dt_platform.report.fleet import fleet_section, risks_section
from dt_platform.report.html import render_html
from dt_platform.report.quality import quality_section
from dt_platform.report.twin import alarms_section, decisions_section
from dt_platform.trust.snapshot import covering_day

UNSTAMPED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def build_report(
    con: duckdb.DuckDBPyConnection,
    twin: sqlite3.Connection | None,
    day: dt.date,
    *,
    now: dt.datetime,
    covering: dt.date | None = None,
) -> DailyReport:
    """The report of ``day``. ``twin`` is the twin store (``None`` when there is none yet);
    ``covering`` the day whose anchor will cover the report (default: the next day). Every
    section says what the day lacks instead of failing."""
    covering = covering or covering_day(day)
    report = DailyReport(
        day=day,
        generated_at=now,
        covering_day=covering,
        sections=[
            fleet_section(con, day),
            risks_section(con, day),
            alarms_section(twin, day),
            decisions_section(con, twin, day),
            quality_section(con, day),
            anchor_section(con, day, covering),
            track_record_section(con, day),
        ],
    )
    # What the report says, apart from when it was built and which later anchor covers it (a
    # rebuild moves both): the same HTML rendered with both fixed, so mail can tell a rebuild
    # of the same day from a correction.
    fixed = DailyReport(
        day,
        UNSTAMPED,
        day,
        [anchor_section(con, day, day) if s.key == "anchor" else s for s in report.sections],
    )
    report.content_sha256 = hashlib.sha256(render_html(fixed).encode("utf-8")).hexdigest()
    return report
