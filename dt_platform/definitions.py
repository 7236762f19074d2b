"""The Dagster code location: one Definitions built from the asset domains in ``assets/``."""

from __future__ import annotations

import dagster as dg

from assets import automation, ingestion
from assets.resources import platform_resource

defs = dg.Definitions(
    assets=[
        ingestion.machine_registry,
        ingestion.raw_dumps,
        ingestion.maintenance_log,
        ingestion.telemetry,
    ],
    jobs=[ingestion.ingest_job, automation.daily_job],
    schedules=[automation.daily_schedule],
    sensors=[ingestion.landing_sensor, automation.late_data_sensor],
    resources={"platform": platform_resource()},
)
