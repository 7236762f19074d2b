"""The one partitioning scheme: UTC days. Today's partition exists (end_offset=1) so the shadow
can show the running day; the schedule materializes yesterday's, which is complete."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from dt_platform.config import load_settings

# The first day the platform keeps partitions for (DT_PARTITIONS_START); older data still loads
# but is not partitioned.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=load_settings().partitions_start.isoformat(), timezone="UTC", end_offset=1
)


def day_bounds(partition_key: str) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """The partition's day and its bounds ``[start, end)`` in UTC."""
    day = dt.date.fromisoformat(partition_key)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return day, start, start + dt.timedelta(days=1)
