"""Alarms of the twin: the day's maintenance alerts become alarms with a lifecycle, and a sensor
keeps the twin's own alarms (drift, offline) current and sends the webhook notifications.

The alarms live in the twin store (SQLite, ``DT_HOME/twin.sqlite``), not in DuckDB: maintainers
acknowledge them from the CLI or the dashboard while the pipeline runs. The ``alarms`` asset
syncs the ``rul_risk`` alarms with one day's alerts and the maintenance log's repairs; a re-run
of a day older than the last synced one changes nothing (see
:func:`dt_platform.twin.alarms.sync_alarms`).
"""

import datetime as dt
from contextlib import closing

import dagster as dg

from assets.common import markdown_table
from assets.partitions import daily_partitions, day_bounds
from assets.resources import TwinStoreResource, WarehouseResource, WebhooksResource
from dt_platform.twin import alarm_sources
from dt_platform.twin.alarms import open_alarms, open_counts, sync_alarms
from dt_platform.twin.state import all_states, open_state
from dt_platform.twin.webhooks import deliver_due, outbox

GROUP = "twin"
SENSOR_BUDGET_S = 40.0
"""Stop claiming notifications after this long, well inside a sensor evaluation's timeout."""


@dg.asset(
    group_name=GROUP,
    kinds={"sqlite", "python"},
    partitions_def=daily_partitions,
    deps=["maintenance_alerts", "maintenance_log"],
    description="One alarm per machine at risk (open → acknowledged → cleared | resolved by a "
    "repair), synced with the day's maintenance alerts; notifications queued for the webhooks.",
)
def alarms(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    twin_store: TwinStoreResource,
    webhooks: WebhooksResource,
) -> dg.MaterializeResult:
    day, _start, end = day_bounds(context.partition_key)
    with warehouse.read() as con:
        conditions = alarm_sources.day_alert_conditions(con, day)
        repairs = alarm_sources.logged_repairs(con, until=end)
    with closing(twin_store.connect()) as con:
        result = sync_alarms(
            con, conditions, repairs, end, kinds=["rul_risk"], webhook_urls=webhooks.targets
        )
        counts = open_counts(con)
        active = open_alarms(con)
    if result.stale:
        context.log.info(
            f"{day} is older than the last alarm sync ({result.last_sync:%Y-%m-%d %H:%M}): the "
            "alarms were left as they are"
        )
    return dg.MaterializeResult(
        metadata={
            "open_critical": dg.MetadataValue.int(counts["critical"]),
            "open_warning": dg.MetadataValue.int(counts["warning"]),
            "conditions": dg.MetadataValue.int(len(conditions)),
            "opened": dg.MetadataValue.int(len(result.opened)),
            "escalated": dg.MetadataValue.int(len(result.escalated)),
            "cleared": dg.MetadataValue.int(len(result.cleared)),
            "resolved": dg.MetadataValue.int(len(result.resolved)),
            "notifications_queued": dg.MetadataValue.int(result.notifications),
            "stale": result.stale,
            "open_alarms": markdown_table(
                ["id", "machine", "kind", "severity", "state", "since"],
                [
                    (a.alarm_id, a.machine_id, a.kind, a.severity, a.state, f"{a.since:%F %H:%M}")
                    for a in active[:30]
                ],
                total=len(active),
            ),
        }
    )


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: sync the drift and offline alarms with the twin state, then send "
    "the webhook notifications that are due.",
)
def alarm_notifications_sensor(
    context: dg.SensorEvaluationContext,
    twin_store: TwinStoreResource,
    webhooks: WebhooksResource,
) -> dg.SkipReason:
    now = dt.datetime.now(dt.UTC)
    targets = webhooks.targets
    with closing(twin_store.connect()) as con:
        conditions = alarm_sources.twin_conditions(all_states(open_state(con)), now)
        synced = sync_alarms(
            con, conditions, [], now, kinds=["drift", "offline"], webhook_urls=targets
        )
        if not webhooks.secret:
            waiting = len(outbox(con, "pending"))
            if waiting:
                context.log.warning(
                    f"{waiting} notifications wait: set DT_WEBHOOK_SECRET to send them"
                )
            return dg.SkipReason(f"{synced.changed} twin alarm changes; webhooks not configured")
        report = deliver_due(con, now, secret=webhooks.secret, budget_s=SENSOR_BUDGET_S)
    for attempt in report.attempts:
        if attempt.outcome == "dead":
            context.log.warning(f"webhook {attempt.outbox_id} given up: {attempt.error}")
    return dg.SkipReason(
        f"{synced.changed} twin alarm changes; webhooks: {report.count('delivered')} delivered, "
        f"{report.count('retry')} to retry, {report.count('dead')} given up"
    )
