"""Trust: each day's records become a snapshot on IPFS anchored on Ethereum, and a check proves
the warehouse still matches the chain. If IPFS or the chain is down the snapshot waits on disk
and the pending-anchor sensor finishes it later; nothing is lost and nothing is anchored twice."""

import datetime as dt

import dagster as dg

from assets.common import WRITER_POOL
from assets.partitions import daily_partitions
from assets.resources import ChainResource, ContentStoreResource, WarehouseResource
from dt_platform.phm.tables import model_versions_of_day
from dt_platform.trust.audit import (
    audit_partition,
    process_pending,
    verify_partition,
)
from dt_platform.trust.chain import ChainUnavailable
from dt_platform.trust.ipfs import IpfsUnavailable
from dt_platform.trust.snapshot import EmptySnapshot
from dt_platform.warehouse import WarehouseBusy, table_names

GROUP = "trust"


@dg.asset(
    group_name=GROUP,
    kinds={"ipfs", "ethereum", "parquet"},
    pool=WRITER_POOL,
    partitions_def=daily_partitions,
    deps=["telemetry", "rul_predictions", "maintenance_alerts"],
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
            report = verify_partition(con, ipfs, chain.connect(), day)
        except (ChainUnavailable, IpfsUnavailable) as exc:
            yield dg.AssetCheckResult(
                check_name="anchor_matches_warehouse",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"detail": f"cannot verify now: {exc}"},
            )
            return
    yield dg.AssetCheckResult(
        check_name="anchor_matches_warehouse",
        passed=report.ok,
        metadata={
            "report": dg.MetadataValue.md("```\n" + report.render(20) + "\n```"),
            "differences": dg.MetadataValue.int(len(report.differences)),
        },
    )


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
