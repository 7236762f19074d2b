"""The publish/anchor queue: build a day's snapshot into it, and finish what is pending."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb

from dt_platform.trust.audit.publish import ChainConnection, ChainLike, advance
from dt_platform.trust.audit.results import AuditResult, result_of
from dt_platform.trust.audit.table import (
    PENDING_PUBLISH,
    PENDING_STATES,
    SUPERSEDED,
    UNCHANGED,
    Row,
    ensure_audit_table,
    insert_row,
    latest_anchored,
    select_rows,
    update_row,
)
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.snapshot import (
    Snapshot,
    SnapshotError,
    SnapshotSource,
    build_snapshot,
    check_snapshot_dir,
    format_timestamp,
)
from dt_platform.trust.snapshot import code_version as current_code_version
from dt_platform.warehouse import table_names


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _late_files(con: duckdb.DuckDBPyConnection, day: dt.date, since: dt.datetime) -> int:
    if "file_ledger" not in table_names(con):
        return 0
    return int(
        con.execute(
            "SELECT count(*) FROM file_ledger WHERE status = 'loaded' "
            "AND list_contains(days, ?) AND ingested_at > ?",
            [day, since],
        ).fetchone()[0]
    )


def _rebuild_reason(
    con: duckdb.DuckDBPyConnection, day: dt.date, anchored: Row, root: str, records: int
) -> str:
    """Why a rebuilt day needs a new version, from what the warehouse knows."""
    late = _late_files(con, day, anchored.built_at)
    if late:
        return (
            f"late data: {late} file(s) for {day} arrived after version {anchored.version} was "
            f"built ({format_timestamp(anchored.built_at)})"
        )
    return (
        f"rebuilt: {records} records (root {root[:10]}…) differ from version {anchored.version} "
        f"({anchored.record_count} records, root {anchored.root[:10]}…)"
    )


def audit_partition(
    con: duckdb.DuckDBPyConnection,
    ipfs: IpfsStore,
    chain: ChainLike,
    day: dt.date,
    *,
    snapshots_dir: str | os.PathLike[str],
    code_version: str | None = None,
    model_version: str | None = None,
    reason: str | None = None,
    sources: Sequence[SnapshotSource] | None = None,
    now: dt.datetime | None = None,
) -> AuditResult:
    """Build ``day``'s snapshot, publish it (CIDv1, pinned) and anchor it (OPERATOR key).

    ``con`` must be writable (the state table lives in the warehouse). If IPFS or the chain is
    unreachable the result is ``pending_publish``/``pending_anchor`` with ``retryable=True`` and
    :func:`process_pending` finishes it later. If the records equal the anchored version the
    result is ``unchanged``; if they differ, the new anchor is a new version with ``reason`` (or
    one derived from late files in ``file_ledger``). Raises :class:`EmptySnapshot` for a day
    without records and :class:`AuditError` when a service refuses (e.g. a missing role): the
    snapshot then stays pending with the error.
    """
    now = now or _now()
    ensure_audit_table(con)
    day_dir = Path(snapshots_dir).resolve() / day.isoformat()
    day_dir.mkdir(parents=True, exist_ok=True)
    # A hidden name: never published by mistake, and never taken for a finished snapshot.
    tmp = day_dir / f".build-{uuid.uuid4().hex}"
    try:
        snap = build_snapshot(
            con,
            day,
            tmp,
            code_version=code_version or current_code_version(),
            model_version=model_version,
            sources=sources,
        )
        pending = select_rows(con, "partition = ? AND status IN (?, ?)", [day, *PENDING_STATES])
        anchored = latest_anchored(con, day)
        if anchored is not None and anchored.root == snap.root_hex:
            for old in pending:
                update_row(con, old, status=SUPERSEDED, error=None)
            return result_of(
                anchored,
                status=UNCHANGED,
                detail=f"records equal anchored version {anchored.version}: nothing to publish",
            )
        final = day_dir / snap.manifest_sha256[:16]
        _move_into_place(tmp, final)
        row = _enqueue(con, snap, final, pending, anchored, reason, now)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return advance(con, row, ipfs, ChainConnection(chain), now, strict=True)


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename the built folder to its content-named place, unless an intact copy is there."""
    if final.exists():
        try:
            check_snapshot_dir(final)
        except SnapshotError:
            shutil.rmtree(final)  # a damaged copy of this very content: replace it
    if not final.exists():
        os.replace(tmp, final)


def _enqueue(
    con: duckdb.DuckDBPyConnection,
    snap: Snapshot,
    final: Path,
    pending: list[Row],
    anchored: Row | None,
    reason: str | None,
    now: dt.datetime,
) -> Row:
    """The row to take forward: a pending build of the same content, else a new row.

    Every other pending build of the day is superseded: only the newest content gets anchored.
    """
    day = snap.day
    same = [r for r in pending if r.manifest_sha256 == snap.manifest_sha256]
    for old in pending:
        if not same or old.id != same[0].id:
            update_row(con, old, status=SUPERSEDED, error=None)
    if same:
        return same[0]
    if reason is None and anchored is not None:
        reason = _rebuild_reason(con, day, anchored, snap.root_hex, snap.record_count)
    return insert_row(
        con,
        partition=day,
        root=snap.root_hex,
        record_count=snap.record_count,
        snapshot_dir=str(final),
        manifest_sha256=snap.manifest_sha256,
        status=PENDING_PUBLISH,
        built_at=now,
        reason=reason,
    )


def process_pending(
    con: duckdb.DuckDBPyConnection,
    ipfs: IpfsStore,
    chain: ChainLike,
    *,
    day: dt.date | None = None,
    now: dt.datetime | None = None,
) -> list[AuditResult]:
    """Finish every pending snapshot (of ``day``, or of all days), oldest first.

    Never raises for one bad snapshot: each result carries its ``error`` and whether it is
    ``retryable``; rows refused for good (e.g. the key lacks OPERATOR) stay pending with the
    error until the cause is fixed.
    """
    now = now or _now()
    ensure_audit_table(con)
    where = "status IN (?, ?)" + (" AND partition = ?" if day else "")
    rows = select_rows(con, where, [*PENDING_STATES, day] if day else list(PENDING_STATES))
    client = ChainConnection(chain)
    return [advance(con, row, ipfs, client, now, strict=False) for row in rows]
