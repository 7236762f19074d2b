"""The one partitioning scheme: UTC days. Today's partition exists (end_offset=1) so the shadow
can show the running day; the schedule materializes yesterday's, which is complete."""

from __future__ import annotations

import os

import dagster as dg

# The first day the platform keeps partitions for; older data still loads but is not partitioned.
PARTITIONS_START = os.environ.get("DT_PARTITIONS_START", "2026-01-01")

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)
