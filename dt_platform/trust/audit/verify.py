"""Verify a day three ways: warehouse vs chain, snapshot vs chain, warehouse vs snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

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
    fields with warehouse and snapshot values). Sources the version predates (e.g. code that
    added one since) are left out of the comparison and named in ``notes``. Raises
    :class:`ChainUnavailable` when the chain cannot be asked at all; everything else is
    reported, not raised. :func:`~dt_platform.trust.audit.history.verify_versions` checks
    every version.
    """
    key = anchor_key(day)
    warehouse = collect_records(con, day, sources)
    try:
        anchor = get_anchor(chain, key, version)
    except NotAnchored as exc:
        report = VerificationReport(partition=day.isoformat(), anchor_key=key)
        _note_warehouse(report, warehouse)
        report.problems.append(Problem("not_anchored", str(exc)))
        return report
    if anchor is None:
        report = VerificationReport(partition=day.isoformat(), anchor_key=key)
        _note_warehouse(report, warehouse)
        report.problems.append(
            Problem("not_anchored", f"partition {key} has never been anchored on this chain")
        )
        return report
    return check_version(ipfs, anchor, day, warehouse, sources)[0]


def check_version(
    ipfs: IpfsStore,
    anchor: Anchor,
    day: dt.date,
    warehouse: DayRecords | None,
    sources: Sequence[SnapshotSource] | None = None,
) -> tuple[VerificationReport, DayRecords | None]:
    """One anchored version: its snapshot against its anchor and, unless ``warehouse`` is
    ``None``, the warehouse's records against both. Returns the report and the snapshot's
    records (``None`` when they cannot be read)."""
    report = VerificationReport(partition=day.isoformat(), anchor_key=anchor_key(day))
    _note_anchor(report, anchor)
    fetched: list[Problem] = []
    snapshot, manifest = load_snapshot(ipfs, anchor, day, sources, fetched)
    if manifest is not None:
        report.code_version = manifest.get("code_version")
    if warehouse is not None:
        warehouse = _covered(report, warehouse, manifest)
        _note_warehouse(report, warehouse)
        if report.warehouse_root != report.anchored_root:
            report.problems.append(
                Problem(
                    "warehouse_mismatch",
                    f"the warehouse's {warehouse.record_count} records have root "
                    f"{report.warehouse_root}, version {anchor.version} anchors "
                    f"{anchor.record_count} records with root {report.anchored_root}",
                )
            )
    report.problems += fetched
    if snapshot is None:
        if warehouse is not None and report.warehouse_root != report.anchored_root:
            report.problems.append(
                Problem(
                    "records_unnamed",
                    "the snapshot could not be read, so the differing records cannot be named",
                )
            )
        return report, None
    _note_snapshot(report, anchor, snapshot)
    if warehouse is not None:
        report.differences = diff_records(warehouse, snapshot)
    return report, snapshot


def _covered(
    report: VerificationReport, warehouse: DayRecords, manifest: dict[str, Any] | None
) -> DayRecords:
    """The warehouse's records of the sources the version knew (kept or skipped)."""
    if manifest is None:
        return warehouse
    known = set(manifest.get("sources") or {}) | set(manifest.get("skipped_sources") or {})
    newer = [s for s in warehouse.sources if s.name not in known]
    for s in newer:
        report.notes.append(
            f"version {report.version} predates source {s.name!r}: the warehouse's {s.rows} "
            f"{s.name} record(s) are not covered by it"
        )
    if not newer:
        return warehouse
    kept = [s for s in warehouse.sources if s.name in known]
    return DayRecords(warehouse.day, kept, warehouse.skipped)


def _note_warehouse(report: VerificationReport, warehouse: DayRecords) -> None:
    report.warehouse_record_count = warehouse.record_count
    report.warehouse_root = to_hex(warehouse.root) if warehouse.record_count else None


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
