"""Build the report of a day from the warehouse and the twin store (both read only)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import duckdb

from dt_platform.report.anchor import anchor_section, track_record_section
from dt_platform.report.content import DailyReport
from dt_platform.report.fleet import fleet_section, risks_section
from dt_platform.report.quality import quality_section
from dt_platform.report.twin import alarms_section, decisions_section
from dt_platform.trust.snapshot import covering_day


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
    return DailyReport(
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
