"""Verify a day three ways: warehouse vs chain, snapshot vs chain, warehouse vs snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from dt_platform.trust.audit.anchors import anchor_key, get_anchor, to_hex
from dt_platform.trust.audit.diff import diff_records
from dt_platform.trust.audit.errors import NotAnchored
from dt_platform.trust.audit.fetch import load_snapshot
from dt_platform.trust.audit.report import Problem, VerificationReport
from dt_platform.trust.chain import Anchor, AuditChain
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.snapshot import (
    DayRecords,
    SnapshotSource,
    collect_records,
    format_timestamp,
)


def verify_partition(
    con: duckdb.DuckDBPyConnection,
    ipfs: IpfsStore,
    chain: AuditChain,
    day: dt.date,
    *,
    version: int | None = None,
    sources: Sequence[SnapshotSource] | None = None,
) -> VerificationReport:
    """Check ``day`` three ways: warehouse vs chain, snapshot vs chain, warehouse vs snapshot.

    Recomputes the records from DuckDB and their root; reads the latest (or ``version``) anchor;
    fetches the snapshot by the anchored CID and checks its manifest, file hashes and that its
    records rebuild the anchored root; on any mismatch names the differing records (source, key,
    fields with warehouse and snapshot values). Raises :class:`ChainUnavailable` when the chain
    cannot be asked at all; everything else is reported, not raised.
    """
    key = anchor_key(day)
    report = VerificationReport(partition=day.isoformat(), anchor_key=key)
    warehouse = collect_records(con, day, sources)
    report.warehouse_record_count = warehouse.record_count
    if warehouse.record_count:
        report.warehouse_root = to_hex(warehouse.root)
    try:
        anchor = get_anchor(chain, key, version)
    except NotAnchored as exc:
        report.problems.append(Problem("not_anchored", str(exc)))
        return report
    if anchor is None:
        report.problems.append(
            Problem("not_anchored", f"partition {key} has never been anchored on this chain")
        )
        return report
    _note_anchor(report, anchor)
    if report.warehouse_root != report.anchored_root:
        report.problems.append(
            Problem(
                "warehouse_mismatch",
                f"the warehouse's {warehouse.record_count} records have root "
                f"{report.warehouse_root}, version {anchor.version} anchors "
                f"{anchor.record_count} records with root {report.anchored_root}",
            )
        )
    snapshot, manifest = load_snapshot(ipfs, anchor, day, sources, report.problems)
    if manifest is not None:
        report.code_version = manifest.get("code_version")
    if snapshot is None:
        if report.warehouse_root != report.anchored_root:
            report.problems.append(
                Problem(
                    "records_unnamed",
                    "the snapshot could not be read, so the differing records cannot be named",
                )
            )
        return report
    _note_snapshot(report, anchor, snapshot)
    report.differences = diff_records(warehouse, snapshot)
    return report


def _note_anchor(report: VerificationReport, anchor: Anchor) -> None:
    report.version = anchor.version
    report.anchored_root = to_hex(anchor.root)
    report.anchored_cid = anchor.cid
    report.anchored_record_count = anchor.record_count
    report.anchored_block = anchor.block_number
    report.anchored_at = format_timestamp(anchor.time)
    report.publisher = anchor.publisher
    report.reason = anchor.reason or None


def _note_snapshot(report: VerificationReport, anchor: Anchor, snapshot: DayRecords) -> None:
    report.snapshot_record_count = snapshot.record_count
    if snapshot.record_count:
        report.snapshot_root = to_hex(snapshot.root)
    if report.snapshot_root != report.anchored_root:
        report.problems.append(
            Problem(
                "snapshot_mismatch",
                f"the snapshot at {anchor.cid} rebuilds root {report.snapshot_root} from "
                f"{snapshot.record_count} records, the chain anchors {report.anchored_root}: "
                "the published snapshot is not what was anchored",
            )
        )
