"""Trust: each day's records become a snapshot on IPFS anchored on Ethereum, and a check proves
the warehouse still matches the chain. If IPFS or the chain is down the snapshot waits on disk
and the pending-anchor sensor finishes it later; nothing is lost and nothing is anchored twice.
A rebuilt day no late or corrected file explains waits for an OPERATOR's reason
(`dt-platform audit anchor`), shown in the asset's metadata and checks. The reconciliation sensor
reads every anchored version back from the chain and re-queues what a rollback or reset lost."""

import datetime as dt

import dagster as dg

from assets.common import WRITER_POOL
from assets.partitions import daily_partitions
from assets.resources import ChainResource, ContentStoreResource, WarehouseResource
from dt_platform.phm.tables import model_versions_of_day
from dt_platform.trust.audit import (
    AWAITING_REASON,
    audit_history,
    audit_partition,
    process_pending,
    reconcile_anchors,
    verify_versions,
)
from dt_platform.trust.chain import ChainError, ChainUnavailable
from dt_platform.trust.ipfs import IpfsUnavailable
from dt_platform.trust.snapshot import EmptySnapshot
from dt_platform.warehouse import WarehouseBusy, table_names

GROUP = "trust"


@dg.asset(
    group_name=GROUP,
    kinds={"ipfs", "ethereum", "parquet"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=[
        "telemetry",
        "rul_predictions",
        "maintenance_alerts",
        "decisions",
        "command_events",
        "twin_maturity",
        "track_record",
    ],
    description="The day's records as a deterministic snapshot on IPFS, its Merkle root anchored on chain.",
    check_specs=[
        dg.AssetCheckSpec(
            "anchor_matches_warehouse",
            asset="audit_snapshot",
            description="Recompute the day's records from DuckDB, compare with the anchored root, "
            "fetch the snapshot from IPFS and check it too.",
        )
    ],
)
def audit_snapshot(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    content_store: ContentStoreResource,
    chain: ChainResource,
):
    day = dt.date.fromisoformat(context.partition_key)
    with warehouse.read() as con:
        model_version = model_versions_of_day(con, day)
    ipfs = content_store.open()
    with warehouse.write() as con:
        try:
            result = audit_partition(
                con,
                ipfs,
                chain.connect,
                day,
                snapshots_dir=content_store.staging_dir,
                model_version=model_version,
            )
        except EmptySnapshot as exc:
            yield dg.MaterializeResult(metadata={"status": "empty", "detail": str(exc)})
            yield dg.AssetCheckResult(
                check_name="anchor_matches_warehouse",
                passed=True,
                metadata={"detail": "no records on this day: nothing to anchor"},
            )
            return
        metadata = result.metadata()
        waiting = _waiting_days(con)
        if waiting:
            metadata["waiting_for_reason"] = waiting
        context.log.info(f"audit {day}: {metadata}")
        yield dg.MaterializeResult(metadata={k: v for k, v in metadata.items() if v is not None})
        if result.status.startswith("pending"):
            yield dg.AssetCheckResult(
                check_name="anchor_matches_warehouse",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "detail": f"{result.status}: {result.error}; the pending-anchor sensor retries"
                },
            )
            return
        try:
            report = verify_versions(con, ipfs, chain.connect(), day)
        except (ChainUnavailable, IpfsUnavailable) as exc:
            yield dg.AssetCheckResult(
                check_name="anchor_matches_warehouse",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"detail": f"cannot verify now: {exc}"},
            )
            return
    metadata = {
        "report": dg.MetadataValue.md("```\n" + report.render(20) + "\n```"),
        "differences": dg.MetadataValue.int(len(report.latest.differences)),
        "versions": dg.MetadataValue.int(len(report.versions)),
    }
    if result.status == AWAITING_REASON:
        metadata["waiting_for_reason"] = dg.MetadataValue.text(result.detail or "")
    yield dg.AssetCheckResult(
        check_name="anchor_matches_warehouse",
        passed=report.ok and result.status != AWAITING_REASON,
        metadata=metadata,
    )


def _waiting_days(con) -> list[str]:
    """Days whose newest build waits for an OPERATOR's reason."""
    return sorted({r.partition for r in audit_history(con) if r.status == AWAITING_REASON})


@dg.op(
    out={}, description="Publish and anchor every snapshot left pending by an IPFS or chain outage."
)
def anchor_pending_snapshots(
    context: dg.OpExecutionContext,
    warehouse: WarehouseResource,
    content_store: ContentStoreResource,
    chain: ChainResource,
):
    with warehouse.write() as con:
        results = process_pending(con, content_store.open(), chain.connect)
    for result in results:
        context.log.info(f"{result.partition}: {result.status} {result.error or ''}")
        if result.status == "anchored":
            yield dg.AssetMaterialization(
                asset_key="audit_snapshot",
                partition=str(result.partition),
                metadata={k: v for k, v in result.metadata().items() if v is not None},
            )
    still = [str(r.partition) for r in results if r.status.startswith("pending")]
    if still:
        context.log.warning(f"still pending (will retry): {still}")


@dg.job(description="Finish snapshots left pending by an outage.")
def anchor_pending_job():
    anchor_pending_snapshots()


@dg.sensor(
    job=anchor_pending_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries pending snapshots every 10 minutes while any are waiting.",
)
def pending_anchors_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    try:
        with warehouse.read(timeout_s=5) as con:
            tables = table_names(con)
            if "audit_snapshots" not in tables:
                return dg.SkipReason("no snapshot built yet")
            pending = con.execute(
                "SELECT count(*), min(partition) FROM audit_snapshots WHERE status LIKE 'pending%'"
            ).fetchone()
    except WarehouseBusy:
        return dg.SkipReason("the warehouse is busy; trying again next tick")
    if not pending[0]:
        return dg.SkipReason("nothing pending")
    bucket = int(dt.datetime.now(dt.UTC).timestamp() // 600)
    return dg.RunRequest(run_key=f"pending-{bucket}", tags={"dt/pending": str(pending[0])})


@dg.asset_check(
    asset=audit_snapshot,
    description="Read every version the warehouse says is anchored back from the chain: "
    "re-queue what a rollback or reset lost, report anchors not yet confirmed and days waiting "
    "for an OPERATOR's reason.",
)
def anchors_on_chain(warehouse: WarehouseResource, chain: ChainResource) -> dg.AssetCheckResult:
    try:
        client = chain.connect()
        with warehouse.write() as con:
            report = reconcile_anchors(con, client, confirmations=chain.confirmations)
    except ChainUnavailable as exc:  # an outage: the next tick tries again
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"detail": f"cannot reconcile now: {exc}"},
        )
    except ChainError as exc:  # e.g. the contracts are gone with a reset chain
        return dg.AssetCheckResult(passed=False, metadata={"detail": f"cannot reconcile: {exc}"})
    metadata: dict = {k: v for k, v in report.metadata().items()}
    metadata["report"] = dg.MetadataValue.md("```\n" + report.render() + "\n```")
    if not report.ok:  # anchors the warehouse relied on are gone: re-queued, but say it loudly
        return dg.AssetCheckResult(passed=False, metadata=metadata)
    return dg.AssetCheckResult(
        passed=not report.waiting,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


reconcile_anchors_job = dg.define_asset_job(
    "reconcile_anchors_job",
    selection=dg.AssetSelection.checks(anchors_on_chain),
    description="Reconcile the anchors with the chain (re-queue what it lost).",
)


@dg.sensor(
    job=reconcile_anchors_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reconciles the anchors with the chain every 30 minutes while any exist.",
)
def anchor_reconciliation_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    try:
        with warehouse.read(timeout_s=5) as con:
            if "audit_snapshots" not in table_names(con):
                return dg.SkipReason("no snapshot built yet")
            (anchored,) = con.execute(
                "SELECT count(*) FROM audit_snapshots WHERE status = 'anchored'"
            ).fetchone()
    except WarehouseBusy:
        return dg.SkipReason("the warehouse is busy; trying again next tick")
    if not anchored:
        return dg.SkipReason("nothing anchored yet")
    bucket = int(dt.datetime.now(dt.UTC).timestamp() // 1800)
    return dg.RunRequest(run_key=f"reconcile-{bucket}", tags={"dt/anchored": str(anchored)})
