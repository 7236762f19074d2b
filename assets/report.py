"""The daily report for managers: each morning, once the previous day is complete and its
snapshot built, the report of that day as HTML and PDF under ``DT_HOME/reports/<day>/``,
published to IPFS, attached to the next day's snapshot (so that day's one anchor covers it; the
report shows its own day's anchor) and mailed to ``DT_REPORT_TO`` — to the recipients who do not
have this version yet, so a re-run, a retry or a backfill sends no copies, and a day rebuilt with
different figures goes out as a correction (``dt_platform.report.sends``).

When: a sensor, not a clock. The daily job builds yesterday from 00:30 UTC and its length grows
with the fleet, so a fixed hour would sometimes report on a day half built. ``daily_report_sensor``
requests yesterday's report as soon as yesterday's ``audit_snapshot`` has been materialized after
the day ended (the daily job's close, also when it only recorded a pending anchor), and at the
latest :data:`DEADLINE_H` hours after midnight, so a day whose run failed is still reported
(saying what is missing). One run per day (its run key).
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from assets.common import WRITER_POOL
from assets.partitions import daily_partitions
from assets.resources import (
    ContentStoreResource,
    MailResource,
    ReportsResource,
    TwinStoreResource,
    WarehouseResource,
)
from dt_platform.report import MailError, mail_report, produce_report
from dt_platform.report.sends import already_sent_text

GROUP = "reports"
DEADLINE_H = 6.0
"""Hours after midnight UTC after which yesterday is reported even without its snapshot."""


@dg.asset(
    group_name=GROUP,
    kinds={"html", "pdf", "ipfs"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["audit_snapshot"],
    description="The day's report for managers (HTML + PDF) on IPFS, covered by the next "
    "day's anchor, mailed to DT_REPORT_TO.",
    check_specs=[
        dg.AssetCheckSpec(
            "report_mailed",
            asset="daily_report",
            description="The report, this version of it, reached every configured recipient "
            "(now or by an earlier run; skipped when no mail server or recipient is configured).",
        )
    ],
)
def daily_report(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    twin_store: TwinStoreResource,
    content_store: ContentStoreResource,
    reports: ReportsResource,
    mail: MailResource,
):
    day = dt.date.fromisoformat(context.partition_key)
    with warehouse.write() as con:
        run = produce_report(
            con,
            Path(twin_store.path),
            content_store.open(),
            day,
            reports.reports_dir,
            now=dt.datetime.now(dt.UTC),
        )
    if run.pdf_error:
        context.log.warning(f"no PDF for {day}: {run.pdf_error}")
    recipients = mail.settings()
    mail_error = None
    if recipients is not None:
        try:
            mail_report(run, recipients)
        except MailError as exc:
            mail_error = str(exc)
            context.log.error(f"the report of {day} was not mailed: {exc}")
    metadata: dict = {
        "headline": run.headline,
        "covering_day": run.covering_day,
        "folder": dg.MetadataValue.path(run.folder),
        "mail": run.mail,
        "unchanged": run.unchanged,
    }
    for f in run.files:
        metadata[f"{f.kind}_path"] = dg.MetadataValue.path(f.path)
        metadata[f"{f.kind}_cid"] = f.cid
        metadata[f"{f.kind}_bytes"] = dg.MetadataValue.int(f.size_bytes)
    if run.pdf_error:
        metadata["pdf_error"] = run.pdf_error
    yield dg.MaterializeResult(metadata=metadata)
    if recipients is None:
        passed, detail = True, "no DT_SMTP_URL or DT_REPORT_TO: not mailed"
    elif mail_error:
        passed, detail = False, mail_error
    else:
        passed = not run.refused
        parts = [f"sent to {', '.join(run.report_to)}"] if run.report_to else []
        parts += [f"correction to {', '.join(run.corrected_to)}"] if run.corrected_to else []
        parts += [f"refused: {', '.join(run.refused)}"] if run.refused else []
        parts += [already_sent_text(run.already_sent)] if run.already_sent else []
        parts += [run.correction] if run.correction and run.corrected_to else []
        detail = "; ".join(parts)
    yield dg.AssetCheckResult(
        check_name="report_mailed", passed=passed, metadata={"detail": detail}
    )


daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=dg.AssetSelection.assets("daily_report"),
    description="The daily report of one day: build, publish, attach, mail.",
)


def report_due(day: dt.date, snapshot_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether ``day``'s report may run: its snapshot was materialized after the day ended, or
    the deadline has passed."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    closed = snapshot_at is not None and snapshot_at >= end
    return closed or now >= end + dt.timedelta(hours=DEADLINE_H)


@dg.sensor(
    job=daily_report_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Each morning: yesterday's report once its snapshot is built (at the latest "
    f"{DEADLINE_H:g} h after midnight UTC).",
)
def daily_report_sensor(context: dg.SensorEvaluationContext):
    now = dt.datetime.now(dt.UTC)
    day = now.date() - dt.timedelta(days=1)
    if day.isoformat() not in daily_partitions.get_partition_keys(current_time=now):
        return dg.SkipReason(f"{day} is before the first partition")
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("audit_snapshot"), asset_partitions=[day.isoformat()]
        ),
        limit=1,
    ).records
    at = dt.datetime.fromtimestamp(records[0].timestamp, dt.UTC) if records else None
    if not report_due(day, at, now):
        return dg.SkipReason(
            f"waiting for the snapshot of {day} (at the latest until {DEADLINE_H:g} h UTC)"
        )
    return dg.RunRequest(run_key=f"daily-report-{day}", partition_key=day.isoformat())
