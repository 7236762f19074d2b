"""The Dagster code location (``workspace.yaml`` loads ``assets.definitions``): the asset domains
of this package, their jobs, schedule and sensors, and one resource per system they touch."""

from __future__ import annotations

import warnings

import dagster as dg

from assets import (
    alarms,
    audit,
    automation,
    commands,
    decisions,
    ingestion,
    maturity,
    models,
    prognostics,
    report,
    track_record,
)
from assets.resources import platform_resources
from dt_platform.config import Settings, load_settings

# Dagster 1.13 re-creates every job-targeting sensor while resolving Definitions and passes its
# own `owners=None` on, which warns that the (unused) beta parameter may change. Silence exactly
# that message; every other warning stays.
warnings.filterwarnings(
    "ignore",
    message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta",
    category=dg.BetaWarning,
)


def build_definitions(settings: Settings) -> dg.Definitions:
    """The code location for one platform configuration (the demo and tests pass their own)."""
    return dg.Definitions(
        assets=[
            ingestion.machine_registry,
            ingestion.raw_dumps,
            ingestion.maintenance_log,
            ingestion.telemetry,
            *prognostics.PROGNOSTICS_ASSETS,
            commands.command_events,
            audit.audit_snapshot,
            alarms.alarms,
            decisions.decisions,
            maturity.twin_maturity,
            track_record.track_record,
            report.daily_report,
        ],
        asset_checks=[audit.anchors_on_chain],
        jobs=[
            ingestion.ingest_job,
            automation.daily_job,
            automation.live_job,
            models.prognostics_models_job,
            audit.anchor_pending_job,
            audit.reconcile_anchors_job,
            report.daily_report_job,
        ],
        schedules=[automation.daily_schedule, automation.live_schedule],
        sensors=[
            ingestion.landing_sensor,
            automation.late_data_sensor,
            audit.pending_anchors_sensor,
            audit.anchor_reconciliation_sensor,
            alarms.alarm_notifications_sensor,
            report.daily_report_sensor,
        ],
        resources=platform_resources(settings),
    )


defs = build_definitions(load_settings())
