"""What runs by itself: the daily job over every day-partitioned asset, its schedule (yesterday,
once the day is complete), the sensor that re-runs past days touched by late or corrected files,
and the live job: every hour, today's partition from telemetry to alerts, so predictions follow
the live line (today is anchored once, when the daily schedule closes it)."""

import datetime as dt

import dagster as dg

from assets.partitions import daily_partitions

# Every asset partitioned by day, in data-flow order. Later domains append theirs here.
DAILY_ASSETS: list[str] = [
    "telemetry",
    # unpartitioned: refitted only when their retrain policy says so (assets/prognostics.py)
    "physics_model",
    "rul_model",
    "physics_state",
    "ml_features",
    "rul_predictions",
    "maintenance_alerts",
    "decisions",
    "alarms",
    "command_events",
    "twin_maturity",
    "track_record",
    "audit_snapshot",
]

# What the live line refreshes every hour for today: no model refit, no snapshot of a day that
# is not over.
LIVE_ASSETS: list[str] = [
    a for a in DAILY_ASSETS if a not in ("physics_model", "rul_model", "audit_snapshot")
]

# Checks that look across days run on their own schedule, not once per day's run.
CROSS_DAY_CHECKS = [dg.AssetCheckKey(dg.AssetKey("audit_snapshot"), "anchors_on_chain")]

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.assets(*DAILY_ASSETS) - dg.AssetSelection.checks(*CROSS_DAY_CHECKS),
    description="Everything of one UTC day: telemetry and all that is computed from it.",
)


@dg.schedule(
    job=daily_job,
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 00:30 UTC, materialize yesterday (now complete).",
)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time.astimezone(dt.UTC) - dt.timedelta(days=1)).date()
    return dg.RunRequest(run_key=f"daily-{day.isoformat()}", partition_key=day.isoformat())


live_job = dg.define_asset_job(
    "live_job",
    selection=dg.AssetSelection.assets(*LIVE_ASSETS) - dg.AssetSelection.checks(*CROSS_DAY_CHECKS),
    description="Today so far, from telemetry to alerts: predictions that follow the live line.",
)


@dg.schedule(
    job=live_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour at :05, rebuild today's partition up to the alerts from live data.",
)
def live_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    at = context.scheduled_execution_time.astimezone(dt.UTC)
    day = at.date().isoformat()
    return dg.RunRequest(run_key=f"live-{day}T{at:%H}", partition_key=day)


def _rebuilt_since(instance: dg.DagsterInstance, day: str, timestamp: float) -> bool:
    """Whether the day's telemetry was materialized after the data event (nothing to redo)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("telemetry"), asset_partitions=[day]), limit=1
    ).records
    return bool(records) and records[0].timestamp > timestamp


@dg.asset_sensor(
    asset_key=dg.AssetKey("raw_dumps"),
    job=daily_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Late data: re-materialize every day that newly loaded files touched.",
)
def late_data_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    touched = materialization.metadata.get("touched_days") if materialization else None
    days = touched.value if touched is not None else []
    now = dt.datetime.now(dt.UTC)
    valid = set(daily_partitions.get_partition_keys(current_time=now))
    # Today is still being written (the live line lands a file every minute): the hourly live
    # job follows it, and the daily schedule builds and anchors it once it is over.
    valid.discard(now.date().isoformat())
    requests = [
        dg.RunRequest(run_key=f"late-{asset_event.run_id}-{day}", partition_key=day)
        for day in days
        if day in valid and not _rebuilt_since(context.instance, day, asset_event.timestamp)
    ]
    skipped = [day for day in days if day not in valid]
    if skipped:
        context.log.info(
            f"days outside the partitions ({daily_partitions.start:%Y-%m-%d} on): {skipped}"
        )
    return requests or dg.SkipReason("the materialization touched no partitioned day")
