"""The one partitioning scheme: UTC days. Today's partition exists (end_offset=1) so the shadow
can show the running day; the schedule materializes yesterday's, which is complete."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

# The first day the platform keeps partitions for; older data still loads but is not partitioned.
PARTITIONS_START = os.environ.get("DT_PARTITIONS_START", "2026-01-01")

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)


def day_bounds(partition_key: str) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """The partition's day and its bounds ``[start, end)`` in UTC."""
    day = dt.date.fromisoformat(partition_key)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return day, start, start + dt.timedelta(days=1)
