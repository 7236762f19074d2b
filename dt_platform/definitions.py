"""The Dagster code location: one Definitions built from the asset domains in ``assets/``."""

from __future__ import annotations

import warnings

import dagster as dg

from assets import audit, automation, ingestion, prognostics
from assets.resources import PlatformResource, platform_resource

# Dagster 1.13 re-creates every job-targeting sensor while resolving Definitions and passes its
# own `owners=None` on, which warns that the (unused) beta parameter may change. Silence exactly
# that message; every other warning stays.
warnings.filterwarnings(
    "ignore",
    message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta",
    category=dg.BetaWarning,
)


def build_definitions(platform: PlatformResource) -> dg.Definitions:
    """The code location for one platform configuration (the demo and tests pass their own)."""
    return dg.Definitions(
        assets=[
            ingestion.machine_registry,
            ingestion.raw_dumps,
            ingestion.maintenance_log,
            ingestion.telemetry,
            *prognostics.PROGNOSTICS_ASSETS,
            audit.audit_snapshot,
        ],
        jobs=[
            ingestion.ingest_job,
            automation.daily_job,
            prognostics.prognostics_models_job,
            audit.anchor_pending_job,
        ],
        schedules=[automation.daily_schedule],
        sensors=[
            ingestion.landing_sensor,
            automation.late_data_sensor,
            audit.pending_anchors_sensor,
        ],
        resources={"platform": platform},
    )


defs = build_definitions(platform_resource())
