"""The publish/anchor queue: build a day's snapshot into it, and finish what is pending."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb

from dt_platform.trust.audit.committed import committed_records
from dt_platform.trust.audit.errors import AuditError
from dt_platform.trust.audit.explain import explain_rebuild, unreadable
from dt_platform.trust.audit.publish import ChainConnection, ChainLike, advance
from dt_platform.trust.audit.results import AuditResult, result_of
from dt_platform.trust.audit.table import (
    AWAITING_REASON,
    PENDING_PUBLISH,
    PENDING_STATES,
    SUPERSEDED,
    UNCHANGED,
    Row,
    ensure_audit_table,
    insert_row,
    latest_committed,
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
)
from dt_platform.trust.snapshot import code_version as current_code_version


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _decide(
    con: duckdb.DuckDBPyConnection,
    snap: Snapshot,
    baseline: Row | None,
    reason: str | None,
    ipfs: IpfsStore,
) -> tuple[str, str | None, str | None]:
    """``(status, reason, detail)`` of a new build: a first version or an OPERATOR's reason go
    ahead; any other new version only when files explain it (:mod:`.explain`)."""
    if baseline is None or reason is not None:
        return PENDING_PUBLISH, reason, None
    try:
        previous = committed_records(baseline, ipfs)
    except AuditError as exc:
        why = unreadable(snap.day, _version_of(con, baseline), str(exc))
    else:
        why = explain_rebuild(
            con,
            snap.records,
            previous,
            previous_version=_version_of(con, baseline),
            previous_built_at=baseline.built_at,
        )
    if why.explained:
        return PENDING_PUBLISH, why.reason(), None
    return AWAITING_REASON, None, why.detail()


def _version_of(con: duckdb.DuckDBPyConnection, row: Row) -> int | None:
    """The version a committed row stands for (a re-anchor: the version the chain lost)."""
    if row.version is not None or row.requeued_from is None:
        return row.version
    lost = select_rows(con, "id = ?", [row.requeued_from])
    return _version_of(con, lost[0]) if lost else None


def _checked_reason(reason: str | None) -> str | None:
    if reason is not None and not reason.strip():
        raise AuditError(
            "a new version needs a reason that says why (e.g. the ticket of the correction); "
            "got a blank one"
        )
    return reason.strip() if reason is not None else None


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
    result is ``unchanged``. If they differ, the new version is anchored with ``reason`` — an
    OPERATOR's explicit reason — or, without one, only when late or corrected files explain
    the difference (the reason then names them, see :mod:`.explain`); otherwise the result is
    ``awaiting_reason`` with a ``detail`` saying why, and nothing is sent. Raises
    :class:`EmptySnapshot` for a day without records and :class:`AuditError` for a blank reason
    or when a service refuses (e.g. a missing role): the snapshot then stays pending with the
    error.
    """
    now = now or _now()
    reason = _checked_reason(reason)
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
        # Re-anchors restore what the chain lost: a rebuild never replaces them.
        replaceable = [
            r
            for r in select_rows(
                con,
                "partition = ? AND status IN (?, ?, ?)",
                [day, *PENDING_STATES, AWAITING_REASON],
            )
            if not r.is_reanchor
        ]
        baseline = latest_committed(con, day)
        if baseline is not None and baseline.root == snap.root_hex:
            for old in replaceable:
                update_row(con, old, status=SUPERSEDED, error=None)
            version = _version_of(con, baseline)
            return result_of(
                baseline,
                status=UNCHANGED,
                detail=f"records equal anchored version {version}: nothing to publish",
            )
        final = day_dir / snap.manifest_sha256[:16]
        _move_into_place(tmp, final)
        row = _enqueue(con, snap, final, replaceable, baseline, reason, ipfs, now)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if row.status == AWAITING_REASON:
        return result_of(row)
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
    replaceable: list[Row],
    baseline: Row | None,
    reason: str | None,
    ipfs: IpfsStore,
    now: dt.datetime,
) -> Row:
    """The row to take forward: an open build of the same content, else a new row.

    Every other open build of the day is superseded: only the newest content gets anchored.
    """
    same = next((r for r in replaceable if r.manifest_sha256 == snap.manifest_sha256), None)
    for old in replaceable:
        if same is None or old.id != same.id:
            update_row(con, old, status=SUPERSEDED, error=None)
    if same is not None and same.status != AWAITING_REASON and reason in (None, same.reason):
        return same  # already on its way, for a reason given before
    status, reason, detail = _decide(con, snap, baseline, reason, ipfs)
    if same is not None:
        if same.status == AWAITING_REASON and status != AWAITING_REASON:
            update_row(con, same, status=status)
        update_row(con, same, reason=reason, detail=detail)
        return same
    return insert_row(
        con,
        partition=snap.day,
        root=snap.root_hex,
        record_count=snap.record_count,
        snapshot_dir=str(final),
        manifest_sha256=snap.manifest_sha256,
        status=status,
        built_at=now,
        reason=reason,
        detail=detail,
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
    error until the cause is fixed. Builds ``awaiting_reason`` are not touched: they wait for
    an OPERATOR (:func:`audit_partition` with a ``reason``).
    """
    now = now or _now()
    ensure_audit_table(con)
    where = "status IN (?, ?)" + (" AND partition = ?" if day else "")
    rows = select_rows(con, where, [*PENDING_STATES, day] if day else list(PENDING_STATES))
    # Re-anchors first: a version the chain lost goes back before anything built after it.
    rows.sort(key=lambda r: (not r.is_reanchor, r.id))
    client = ChainConnection(chain)
    return [advance(con, row, ipfs, client, now, strict=False) for row in rows]
