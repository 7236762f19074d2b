"""Anchors reconciled with the chain: every version the warehouse says is anchored, read back.

Anchoring is not fire-and-forget: a chain can roll back (a reorg, ``evm_revert``) or be reset
(a fresh dev chain with the contracts deployed again), and the warehouse would still say
"anchored". :func:`reconcile_anchors` reads each day's versions from the chain and, for every
``anchored`` row:

* the chain holds the same root and CID with at least ``confirmations`` blocks on top (the
  anchor's own block counts) — **confirmed**;
* it holds them, less deep — **unconfirmed**: reported, nothing done (it may still be rolled back,
  the next reconciliation looks again);
* it does not hold them (or holds other records under that version) — **missing** / **replaced**:
  the row becomes ``lost`` (kept, with why) and a re-anchor row with the same snapshot is queued
  (``pending_publish``, so IPFS gets the folder again too), ``requeued_from`` pointing back. The
  pending-anchor machinery then anchors it exactly once: a rebuild never supersedes it, it goes
  before anything built later, and the chain is asked first, so a version that is back sends
  nothing. If an older version is re-anchored while the newest still stands, the newest is queued
  again after it, so the chain's latest version stays the warehouse's.

The report also lists chain versions this warehouse has no row for, and the days waiting for an
OPERATOR's reason or still pending.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dt_platform.trust.audit.anchors import anchor_key
from dt_platform.trust.audit.results import AuditResult, result_of
from dt_platform.trust.audit.table import (
    ANCHORED,
    AWAITING_REASON,
    LOST,
    PENDING_ANCHOR,
    PENDING_PUBLISH,
    PENDING_STATES,
    Row,
    ensure_audit_table,
    insert_row,
    select_rows,
    update_row,
)
from dt_platform.trust.chain import Anchor, AuditChain
from dt_platform.trust.snapshot import SnapshotError, check_snapshot_dir

CONFIRMED = "confirmed"
UNCONFIRMED = "unconfirmed"
MISSING = "missing"
REPLACED = "replaced"


@dataclass(frozen=True)
class AnchorGap:
    """One anchored version that is not (yet) safely on chain, and why."""

    partition: str
    version: int | None
    kind: str
    """``unconfirmed``, ``missing`` or ``replaced``."""
    detail: str
    row_id: int
    requeued_as: int | None = None
    """The id of the re-anchor row queued for it (``missing``/``replaced``)."""

    def describe(self) -> str:
        queued = f" → re-queued as row {self.requeued_as}" if self.requeued_as else ""
        return f"{self.partition} version {self.version}: {self.kind}: {self.detail}{queued}"


@dataclass
class Reconciliation:
    """What :func:`reconcile_anchors` found (and re-queued)."""

    chain_id: int
    head_block: int
    confirmations: int
    checked: int = 0
    confirmed: int = 0
    gaps: list[AnchorGap] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Chain versions of the checked days that no anchored row of this warehouse stands for."""
    waiting: list[AuditResult] = field(default_factory=list)
    """Builds waiting for an OPERATOR's reason."""
    pending: list[AuditResult] = field(default_factory=list)

    @property
    def missing(self) -> list[AnchorGap]:
        return [g for g in self.gaps if g.kind in (MISSING, REPLACED)]

    @property
    def unconfirmed(self) -> list[AnchorGap]:
        return [g for g in self.gaps if g.kind == UNCONFIRMED]

    @property
    def ok(self) -> bool:
        """Nothing the warehouse called anchored was missing from the chain."""
        return not self.missing

    def requeued_days(self) -> list[str]:
        return sorted({g.partition for g in self.missing})

    def waiting_days(self) -> list[str]:
        return sorted({w.partition for w in self.waiting})

    def render(self) -> str:
        state = "OK" if self.ok else f"{len(self.missing)} ANCHOR(S) MISSING, re-queued"
        lines = [
            f"anchors on chain {self.chain_id} at block {self.head_block}: {state} — "
            f"{self.checked} checked, {self.confirmed} confirmed (≥ {self.confirmations} "
            f"blocks), {len(self.unconfirmed)} unconfirmed, {len(self.missing)} missing",
        ]
        lines += [f"  ! {g.describe()}" for g in self.missing]
        lines += [f"  ~ {g.describe()}" for g in self.unconfirmed]
        lines += [f"  ? on chain, unknown here: {u}" for u in self.unknown]
        lines += [f"  … waiting for a reason: {w.partition}: {w.detail}" for w in self.waiting]
        lines += [f"  … pending: {p.partition} ({p.status}) {p.error or ''}" for p in self.pending]
        return "\n".join(line.rstrip() for line in lines)

    def metadata(self) -> dict[str, Any]:
        """Plain values for Dagster metadata."""
        return {
            "chain_id": self.chain_id,
            "head_block": self.head_block,
            "confirmations": self.confirmations,
            "checked": self.checked,
            "confirmed": self.confirmed,
            "unconfirmed": len(self.unconfirmed),
            "missing": len(self.missing),
            "requeued_days": self.requeued_days(),
            "waiting_for_reason": self.waiting_days(),
            "pending": sorted({p.partition for p in self.pending}),
            "unknown_on_chain": len(self.unknown),
        }


def _held(row: Row, versions: list[Anchor]) -> Anchor | None:
    """The chain version holding ``row``'s root and CID (its own version number first)."""
    root = bytes.fromhex(row.root.removeprefix("0x"))
    same = [a for a in versions if a.root == root and a.cid == row.cid]
    own = [a for a in same if a.version == row.version]
    return (own or same or [None])[0]


def _why_lost(row: Row, versions: list[Anchor], chain_id: int) -> tuple[str, str]:
    where = f"tx {row.tx_hash or '?'}, block {row.block_number}"
    if row.version is not None and row.version <= len(versions):
        other = versions[row.version - 1]
        return REPLACED, (
            f"chain {chain_id} holds other records as version {row.version} (root "
            f"0x{other.root.hex()[:8]}…, CID {other.cid}) than this build anchored ({where})"
        )
    return MISSING, (
        f"chain {chain_id} holds {len(versions)} version(s) of {row.partition}, not this one "
        f"({where}): the chain was rolled back or reset"
    )


def _requeue(con: duckdb.DuckDBPyConnection, row: Row, detail: str, now: dt.datetime) -> Row:
    """A re-anchor row for ``row``'s snapshot (published again when its folder is intact)."""
    try:
        check_snapshot_dir(row.snapshot_dir)
        status = PENDING_PUBLISH
    except (SnapshotError, OSError):
        status = PENDING_ANCHOR if row.cid else PENDING_PUBLISH
    return insert_row(
        con,
        partition=row.partition,
        root=row.root,
        record_count=row.record_count,
        snapshot_dir=row.snapshot_dir,
        manifest_sha256=row.manifest_sha256,
        cid=row.cid,
        status=status,
        built_at=row.built_at,
        reason=row.reason,
        requeued_from=row.id,
        detail=f"{detail} (queued by the anchor reconciliation at "
        f"{now.isoformat(timespec='seconds')})",
    )


def _reconcile_day(
    con: duckdb.DuckDBPyConnection,
    rows: list[Row],
    versions: list[Anchor],
    report: Reconciliation,
    now: dt.datetime,
) -> None:
    matched: set[int] = set()
    lost: list[Row] = []
    for row in sorted(rows, key=lambda r: (r.version or 0, r.id)):
        report.checked += 1
        held = _held(row, versions)
        if held is None:
            kind, why = _why_lost(row, versions, report.chain_id)
            update_row(con, row, status=LOST, detail=why)
            queued = _requeue(con, row, f"re-anchor of version {row.version}: {why}", now)
            report.gaps.append(AnchorGap(str(row.partition), row.version, kind, why, row.id,
                                         queued.id))  # fmt: skip
            lost.append(row)
            continue
        matched.add(held.version)
        if (held.version, held.block_number) != (row.version, row.block_number):
            update_row(con, row, version=held.version, block_number=held.block_number)
        depth = report.head_block - held.block_number + 1
        if depth >= report.confirmations:
            report.confirmed += 1
        else:
            report.gaps.append(AnchorGap(str(row.partition), row.version, UNCONFIRMED,
                                         f"{depth} of {report.confirmations} blocks", row.id))  # fmt: skip
    _restore_latest(con, rows, lost, now)
    report.unknown += [
        f"{a.partition} version {a.version} (block {a.block_number}, reason {a.reason!r})"
        for a in versions
        if a.version not in matched
    ]


def _restore_latest(
    con: duckdb.DuckDBPyConnection, rows: list[Row], lost: list[Row], now: dt.datetime
) -> None:
    """Queue the newest version again when older ones are re-anchored and it still stands."""
    newest = max(rows, key=lambda r: (r.version or 0, r.id))
    if not lost or newest.id in {r.id for r in lost}:
        return
    versions = ", ".join(str(r.version) for r in lost)
    _requeue(
        con,
        newest,
        f"re-anchor of version {newest.version} as the latest again, after version(s) "
        f"{versions} the chain lost",
        now,
    )


def reconcile_anchors(
    con: duckdb.DuckDBPyConnection,
    chain: AuditChain,
    *,
    confirmations: int,
    day: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Reconciliation:
    """Read every anchored version (of ``day``, or of all days) back from the chain; re-queue
    what it does not hold, report what it holds too shallowly (see the module docstring).

    ``con`` must be writable. Raises :class:`ChainUnavailable` when the chain cannot be read;
    everything is read before anything is written, so then nothing is changed.
    """
    now = now or dt.datetime.now(dt.UTC)
    ensure_audit_table(con)
    report = Reconciliation(chain.chain_id, chain.block_number(), confirmations)
    where, params = "status = ?", [ANCHORED]
    if day is not None:
        where, params = where + " AND partition = ?", [ANCHORED, day]
    by_day: dict[dt.date, list[Row]] = defaultdict(list)
    for row in select_rows(con, where, params):
        by_day[row.partition].append(row)
    on_chain = {d: chain.anchor_versions(anchor_key(d)) for d in sorted(by_day)}
    for partition, versions in on_chain.items():
        _reconcile_day(con, by_day[partition], versions, report, now)
    report.waiting = [result_of(r) for r in select_rows(con, "status = ?", [AWAITING_REASON])]
    report.pending = [
        result_of(r) for r in select_rows(con, "status IN (?, ?)", list(PENDING_STATES))
    ]
    return report
