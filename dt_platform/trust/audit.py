"""Audit a day: build its snapshot, publish it to IPFS, anchor it on chain; verify; prove.

Partition key on chain
----------------------
A day is anchored under its plain ISO date, ``2026-11-20`` (:func:`anchor_key`): the same string
as the Dagster daily partition key and as ``manifest.json``'s ``partition``. One key per day
covers every source of the snapshot (telemetry digests, predictions, alerts, decisions).

Durable queue
-------------
Progress lives in the warehouse table ``audit_snapshots`` (one row per build that needs, or
needed, publishing). A row is written *before* each outside call, so a crash, an IPFS outage or an
unreachable chain leaves it pending with its error, and :func:`process_pending` finishes it later:

* ``pending_publish`` — built on disk, not on IPFS yet;
* ``pending_anchor`` — on IPFS (``cid`` known), not anchored yet;
* ``anchored`` — on chain (``version``, ``tx_hash``, ``gas_used``);
* ``unchanged`` — a rebuild whose records equal the anchored version: nothing sent;
* ``superseded`` — replaced by a newer build of the same day before it was anchored.

Retrying never anchors twice: :meth:`AuditChain.anchor` returns ``already_anchored`` when the
latest version holds the same root and CID (e.g. the receipt was lost). A rebuilt day whose root
differs from the anchored one becomes a new version with a reason ("late data: 3 file(s) ...");
the contract refuses a silent overwrite.

Verification and proofs are read-only: they need no OPERATOR key and write nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from web3.exceptions import TransactionNotFound

from dt_platform.config import Settings
from dt_platform.trust.chain import Anchor, AuditChain, ChainError, ChainUnavailable
from dt_platform.trust.chain.artifacts import error_decoder
from dt_platform.trust.ipfs import IpfsError, IpfsStore, IpfsUnavailable
from dt_platform.trust.merkle import verify_proof
from dt_platform.trust.snapshot import (
    LEAF_ENCODING,
    MANIFEST_NAME,
    SOURCES,
    DayRecords,
    EmptySnapshot,
    SnapshotError,
    SnapshotSource,
    SourceRecords,
    build_snapshot,
    check_snapshot_dir,
    collect_records,
    format_timestamp,
    key_text,
    parse_manifest,
    records_from_parquet,
    records_from_table,
)
from dt_platform.trust.snapshot import code_version as current_code_version
from dt_platform.warehouse import table_names

__all__ = [
    "ANCHORED",
    "PENDING_ANCHOR",
    "PENDING_PUBLISH",
    "SUPERSEDED",
    "UNCHANGED",
    "AuditError",
    "AuditResult",
    "EmptySnapshot",
    "FieldDiff",
    "NotAnchored",
    "Problem",
    "Proof",
    "RecordDiff",
    "RecordNotFound",
    "VerificationReport",
    "anchor_key",
    "audit_history",
    "audit_partition",
    "default_snapshots_dir",
    "diff_records",
    "ensure_audit_table",
    "process_pending",
    "prove_record",
    "verify_partition",
]

PENDING_PUBLISH = "pending_publish"
PENDING_ANCHOR = "pending_anchor"
ANCHORED = "anchored"
UNCHANGED = "unchanged"
SUPERSEDED = "superseded"
_PENDING = (PENDING_PUBLISH, PENDING_ANCHOR)

ChainLike = AuditChain | Callable[[], AuditChain]
"""A connected client, or a zero-argument function that connects (so that an unreachable chain
at connection time leaves the snapshot pending instead of failing before it is even built)."""


class AuditError(Exception):
    """Auditing cannot go on as asked; the message says what to do."""


class NotAnchored(AuditError):
    """The partition (or the asked version) has never been anchored."""


class RecordNotFound(AuditError):
    """No record of that source has that key in the partition."""


def anchor_key(day: dt.date) -> str:
    """The on-chain partition key of ``day``: its ISO date (``2026-11-20``)."""
    return day.isoformat()


def default_snapshots_dir(settings: Settings) -> Path:
    """Where snapshot folders are kept: ``DT_HOME/snapshots/<day>/<manifest hash>``."""
    return settings.home / "snapshots"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


# --- state table --------------------------------------------------------------------------------

_DDL = """CREATE TABLE IF NOT EXISTS audit_snapshots (
    id BIGINT PRIMARY KEY,
    partition DATE NOT NULL,
    version INTEGER,
    root VARCHAR NOT NULL,
    record_count BIGINT NOT NULL,
    snapshot_dir VARCHAR NOT NULL,
    manifest_sha256 VARCHAR NOT NULL,
    cid VARCHAR,
    tx_hash VARCHAR,
    block_number BIGINT,
    gas_used BIGINT,
    status VARCHAR NOT NULL,
    error VARCHAR,
    built_at TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ,
    anchored_at TIMESTAMPTZ,
    reason VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 0
)"""

_COLUMNS = (
    "id",
    "partition",
    "version",
    "root",
    "record_count",
    "snapshot_dir",
    "manifest_sha256",
    "cid",
    "tx_hash",
    "block_number",
    "gas_used",
    "status",
    "error",
    "built_at",
    "published_at",
    "anchored_at",
    "reason",
    "attempts",
)


def ensure_audit_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``audit_snapshots`` if it does not exist (needs a writable connection)."""
    con.execute(_DDL)


@dataclass
class _Row:
    id: int
    partition: dt.date
    version: int | None
    root: str
    record_count: int
    snapshot_dir: str
    manifest_sha256: str
    cid: str | None
    tx_hash: str | None
    block_number: int | None
    gas_used: int | None
    status: str
    error: str | None
    built_at: dt.datetime
    published_at: dt.datetime | None
    anchored_at: dt.datetime | None
    reason: str | None
    attempts: int


def _select(con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any] = ()) -> list[_Row]:
    sql = f"SELECT {', '.join(_COLUMNS)} FROM audit_snapshots WHERE {where} ORDER BY id"
    return [_Row(*r) for r in con.execute(sql, list(params)).fetchall()]


def _update(con: duckdb.DuckDBPyConnection, row: _Row, **values: Any) -> None:
    """Write ``values`` to the row (and to ``row``), one autocommitted statement."""
    assignments = ", ".join(f"{k} = ?" for k in values)
    con.execute(
        f"UPDATE audit_snapshots SET {assignments} WHERE id = ?", [*values.values(), row.id]
    )
    for k, v in values.items():
        setattr(row, k, v)


def _insert(con: duckdb.DuckDBPyConnection, **values: Any) -> _Row:
    (next_id,) = con.execute("SELECT coalesce(max(id), 0) + 1 FROM audit_snapshots").fetchone()
    values = {"id": next_id, "attempts": 0, **values}
    full = {c: values.get(c) for c in _COLUMNS}
    con.execute(
        f"INSERT INTO audit_snapshots ({', '.join(_COLUMNS)}) VALUES "
        f"({', '.join('?' for _ in _COLUMNS)})",
        list(full.values()),
    )
    return _select(con, "id = ?", [next_id])[0]


def _latest_anchored(con: duckdb.DuckDBPyConnection, day: dt.date) -> _Row | None:
    rows = _select(con, "partition = ? AND status = ?", [day, ANCHORED])
    return max(rows, key=lambda r: (r.version or 0, r.id)) if rows else None


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditResult:
    """Where one day's snapshot stands (what the Dagster asset reports as metadata)."""

    partition: str
    anchor_key: str
    status: str
    root: str
    record_count: int
    snapshot_dir: str
    cid: str | None = None
    version: int | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    gas_used: int | None = None
    reason: str | None = None
    error: str | None = None
    already_anchored: bool = False
    retryable: bool = False
    """Pending because a service was unreachable: :func:`process_pending` will finish it."""
    detail: str | None = None

    @property
    def pending(self) -> bool:
        return self.status in _PENDING

    def metadata(self) -> dict[str, Any]:
        """Plain values for ``MaterializeResult(metadata=...)`` (``None`` fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def _result(row: _Row, **overrides: Any) -> AuditResult:
    values: dict[str, Any] = {
        "partition": row.partition.isoformat(),
        "anchor_key": anchor_key(row.partition),
        "status": row.status,
        "root": row.root,
        "record_count": row.record_count,
        "snapshot_dir": row.snapshot_dir,
        "cid": row.cid,
        "version": row.version,
        "tx_hash": row.tx_hash,
        "block_number": row.block_number,
        "gas_used": row.gas_used,
        "reason": row.reason,
        "error": row.error,
    }
    values.update(overrides)
    return AuditResult(**values)


def audit_history(con: duckdb.DuckDBPyConnection, day: dt.date | None = None) -> list[AuditResult]:
    """Every recorded build (of ``day``, or of all days), oldest first (works read-only)."""
    if "audit_snapshots" not in table_names(con):
        return []
    rows = _select(con, "partition = ?", [day]) if day else _select(con, "TRUE")
    return [_result(r) for r in rows]


# --- publish and anchor -------------------------------------------------------------------------


class _Chain:
    """Connects at most once per call, and only when an anchor is actually due."""

    def __init__(self, chain: ChainLike) -> None:
        self._source = chain
        self._client = chain if isinstance(chain, AuditChain) else None
        self._failure: ChainError | None = None

    def get(self) -> AuditChain:
        if self._client is None:
            if self._failure is not None:
                raise self._failure
            try:
                self._client = self._source()  # type: ignore[operator]
            except ChainError as exc:
                self._failure = exc
                raise
        return self._client


def _in_flight(client: AuditChain, tx_hash: str) -> bool:
    """Whether an earlier anchor transaction (receipt timed out) is still waiting to be mined.

    Sending the same anchor again meanwhile would only revert with ``DuplicateAnchor`` once both
    are mined; a mined or dropped transaction lets the normal path decide (``already_anchored``
    or a fresh send).
    """
    with error_decoder().guard(f"look up transaction {tx_hash}", client.node.url):
        try:
            tx = client.node.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
    return tx.get("blockNumber") is None


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
    con: duckdb.DuckDBPyConnection, day: dt.date, anchored: _Row, root: str, records: int
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


def _fail(
    con: duckdb.DuckDBPyConnection, row: _Row, message: str, *, retryable: bool, strict: bool
) -> AuditResult:
    _update(con, row, error=message)
    if strict and not retryable:
        raise AuditError(f"{row.partition}: {message} (the snapshot stays {row.status})")
    return _result(row, retryable=retryable)


def _advance(
    con: duckdb.DuckDBPyConnection,
    row: _Row,
    ipfs: IpfsStore,
    chain: _Chain,
    now: dt.datetime,
    *,
    strict: bool,
) -> AuditResult:
    """Take one pending row as far as the services allow."""
    if row.status not in _PENDING:
        return _result(row)
    _update(con, row, attempts=row.attempts + 1)
    if row.status == PENDING_PUBLISH:
        try:
            check_snapshot_dir(row.snapshot_dir)
            cid = ipfs.add_path(Path(row.snapshot_dir), cid_version=1, pin=True)
        except IpfsUnavailable as exc:
            return _fail(con, row, str(exc), retryable=True, strict=strict)
        except (IpfsError, SnapshotError, OSError) as exc:
            return _fail(con, row, f"cannot publish: {exc}", retryable=False, strict=strict)
        _update(con, row, cid=cid, published_at=now, status=PENDING_ANCHOR, error=None)

    key = anchor_key(row.partition)
    root = bytes.fromhex(row.root.removeprefix("0x"))
    cid = row.cid
    if cid is None:  # only a hand-edited row gets here
        return _fail(con, row, "pending_anchor without a CID", retryable=False, strict=strict)
    try:
        client = chain.get()
        if row.tx_hash and _in_flight(client, row.tx_hash):
            return _fail(
                con,
                row,
                f"anchor transaction {row.tx_hash} is still waiting to be mined: not sending "
                "another one",
                retryable=True,
                strict=strict,
            )
        latest = client.latest_anchor(key)
        if latest is not None and latest.root == root and latest.cid != cid:
            # Same records under another CID (e.g. only the code version changed): anchoring it
            # would add a version that certifies nothing new.
            _update(con, row, status=UNCHANGED, version=latest.version, error=None)
            return _result(
                row,
                detail=f"records equal version {latest.version} on chain (CID {latest.cid}): "
                "nothing sent",
            )
        reason = row.reason or ""
        if latest is not None and not (latest.root == root and latest.cid == cid) and not reason:
            reason = (
                f"rebuilt: records differ from version {latest.version} on chain "
                f"(root {_hex(latest.root)[:10]}…)"
            )
            _update(con, row, reason=reason)
        receipt = client.anchor(key, root, cid, row.record_count, reason)
    except ChainUnavailable as exc:
        if exc.tx_hash:
            _update(con, row, tx_hash=exc.tx_hash)
        return _fail(con, row, str(exc), retryable=True, strict=strict)
    except ChainError as exc:
        return _fail(con, row, f"cannot anchor: {exc}", retryable=False, strict=strict)
    _update(
        con,
        row,
        status=ANCHORED,
        version=receipt.version,
        tx_hash=receipt.tx_hash,
        block_number=receipt.block_number,
        gas_used=receipt.gas_used,
        anchored_at=now,
        error=None,
    )
    return _result(row, already_anchored=receipt.already_anchored)


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
        pending = _select(con, "partition = ? AND status IN (?, ?)", [day, *_PENDING])
        anchored = _latest_anchored(con, day)
        if anchored is not None and anchored.root == snap.root_hex:
            for old in pending:
                _update(con, old, status=SUPERSEDED, error=None)
            return _result(
                anchored,
                status=UNCHANGED,
                detail=f"records equal anchored version {anchored.version}: nothing to publish",
            )
        final = day_dir / snap.manifest_sha256[:16]
        if final.exists():
            try:
                check_snapshot_dir(final)
            except SnapshotError:
                shutil.rmtree(final)  # a damaged copy of this very content: replace it
        if not final.exists():
            os.replace(tmp, final)
        same = [r for r in pending if r.manifest_sha256 == snap.manifest_sha256]
        for old in pending:
            if not same or old.id != same[0].id:
                _update(con, old, status=SUPERSEDED, error=None)
        if same:
            row = same[0]
        else:
            if reason is None and anchored is not None:
                reason = _rebuild_reason(con, day, anchored, snap.root_hex, snap.record_count)
            row = _insert(
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
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return _advance(con, row, ipfs, _Chain(chain), now, strict=True)


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
    rows = _select(con, where, [*_PENDING, day] if day else list(_PENDING))
    client = _Chain(chain)
    return [_advance(con, row, ipfs, client, now, strict=False) for row in rows]


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One reason a partition does not verify. ``code`` is stable, ``message`` is for people."""

    code: str
    message: str


@dataclass(frozen=True)
class FieldDiff:
    """One field of a record: its value in the warehouse and in the snapshot (as JSON values)."""

    field: str
    warehouse: Any
    snapshot: Any


@dataclass(frozen=True)
class RecordDiff:
    """A record that differs between the warehouse and the anchored snapshot.

    ``kind``: ``changed`` (same key, fields differ), ``added`` (only in the warehouse) or
    ``removed`` (only in the snapshot).
    """

    source: str
    key: dict[str, str]
    kind: str
    fields: tuple[FieldDiff, ...] = ()

    def describe(self) -> str:
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        head = f"{self.source} [{key}]"
        if self.kind == "added":
            return f"{head}: in the warehouse but not in the anchored snapshot"
        if self.kind == "removed":
            return f"{head}: in the anchored snapshot but missing from the warehouse"
        changes = "; ".join(
            f"{f.field}: warehouse {f.warehouse!r}, snapshot {f.snapshot!r}" for f in self.fields
        )
        return f"{head}: {changes}"


def _field_diffs(warehouse: bytes, snapshot: bytes) -> tuple[FieldDiff, ...]:
    a, b = json.loads(warehouse), json.loads(snapshot)
    missing = object()
    return tuple(
        FieldDiff(k, a.get(k), b.get(k))
        for k in sorted(set(a) | set(b))
        if a.get(k, missing) != b.get(k, missing)
    )


def _source_diff(
    name: str, warehouse: SourceRecords | None, snapshot: SourceRecords | None
) -> list[RecordDiff]:
    present = warehouse or snapshot
    if present is None:
        return []
    key_columns = present.key_columns
    w_index = warehouse.index() if warehouse else {}
    s_index = snapshot.index() if snapshot else {}
    diffs: list[RecordDiff] = []
    for key in sorted(set(w_index) | set(s_index)):
        w = Counter(warehouse.records[i] for i in w_index.get(key, [])) if warehouse else Counter()
        s = Counter(snapshot.records[i] for i in s_index.get(key, [])) if snapshot else Counter()
        if w == s:
            continue
        only_w, only_s = sorted((w - s).elements()), sorted((s - w).elements())
        key_dict = dict(zip(key_columns, key, strict=True))
        if len(only_w) == 1 and len(only_s) == 1:
            diffs.append(RecordDiff(name, key_dict, "changed", _field_diffs(only_w[0], only_s[0])))
            continue
        diffs += [RecordDiff(name, key_dict, "added") for _ in only_w]
        diffs += [RecordDiff(name, key_dict, "removed") for _ in only_s]
    return diffs


def diff_records(warehouse: DayRecords, snapshot: DayRecords) -> list[RecordDiff]:
    """Records that differ, named by source and key, with the differing fields."""
    names = sorted({s.name for s in warehouse.sources} | {s.name for s in snapshot.sources})
    diffs: list[RecordDiff] = []
    for name in names:
        w, s = warehouse.source(name), snapshot.source(name)
        if w is not None and s is not None and w.key_columns != s.key_columns:
            # Keys changed between code versions: compare the snapshot under today's key.
            s = _rekey(s, w.key_columns)
        diffs += _source_diff(name, w, s)
    return diffs


def _rekey(records: SourceRecords, key: tuple[str, ...]) -> SourceRecords:
    try:
        return records_from_table(records.name, key, records.table, records.tables)
    except SnapshotError:
        return records


@dataclass
class VerificationReport:
    """What :func:`verify_partition` found. ``ok`` only when nothing at all is wrong."""

    partition: str
    anchor_key: str
    version: int | None = None
    anchored_root: str | None = None
    anchored_cid: str | None = None
    anchored_record_count: int | None = None
    anchored_block: int | None = None
    anchored_at: str | None = None
    publisher: str | None = None
    reason: str | None = None
    warehouse_root: str | None = None
    warehouse_record_count: int = 0
    snapshot_root: str | None = None
    snapshot_record_count: int | None = None
    code_version: str | None = None
    problems: list[Problem] = field(default_factory=list)
    differences: list[RecordDiff] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.differences

    def problem_codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def render(self, limit: int = 50) -> str:
        """A text report for people (at most ``limit`` differing records listed)."""
        if self.version is None:
            head = f"partition {self.partition}: NOT ANCHORED"
        else:
            state = "OK" if self.ok else "MISMATCH"
            head = (
                f"partition {self.partition}: {state} — version {self.version}, root "
                f"{self.anchored_root}, {self.anchored_record_count} records, CID "
                f"{self.anchored_cid}"
            )
        lines = [head]
        if self.version is not None:
            lines.append(
                f"  warehouse: {self.warehouse_record_count} records, root {self.warehouse_root}"
            )
            lines.append(
                f"  snapshot:  {self.snapshot_record_count} records, root {self.snapshot_root}"
            )
        lines += [f"  ! {p.code}: {p.message}" for p in self.problems]
        shown = self.differences[:limit]
        if shown:
            lines.append(f"  {len(self.differences)} differing record(s):")
            lines += [f"    - {d.describe()}" for d in shown]
        if len(self.differences) > len(shown):
            lines.append(f"    … and {len(self.differences) - len(shown)} more (use --json)")
        return "\n".join(lines)


def _get_anchor(chain: AuditChain, key: str, version: int | None) -> Anchor | None:
    if version is None:
        return chain.latest_anchor(key)
    count = chain.version_count(key)
    if not 1 <= version <= count:
        raise NotAnchored(
            f"partition {key} has {count} anchored version(s): there is no version {version}"
        )
    return chain.get_anchor(key, version)


def _registry_key(name: str, sources: Sequence[SnapshotSource] | None) -> tuple[str, ...] | None:
    pool = {s.name: s for s in sources} if sources is not None else SOURCES
    return pool[name].key if name in pool else None


def _load_snapshot(
    ipfs: IpfsStore,
    anchor: Anchor,
    day: dt.date,
    sources: Sequence[SnapshotSource] | None,
    problems: list[Problem],
) -> tuple[DayRecords | None, dict[str, Any] | None]:
    """Fetch the snapshot an anchor names and check it against the anchor, noting problems."""
    cid = anchor.cid
    try:
        manifest = parse_manifest(ipfs.cat(f"{cid}/{MANIFEST_NAME}"))
    except IpfsError as exc:
        problems.append(
            Problem("snapshot_unavailable", f"snapshot {cid} cannot be retrieved from IPFS: {exc}")
        )
        return None, None
    except SnapshotError as exc:
        problems.append(Problem("manifest_invalid", f"snapshot {cid}: {exc}"))
        return None, None
    root_hex = _hex(anchor.root)
    expected = {
        "partition": day.isoformat(),
        "root": root_hex,
        "record_count": anchor.record_count,
    }
    for name, value in expected.items():
        if manifest.get(name) != value:
            problems.append(
                Problem(
                    "manifest_mismatch",
                    f"manifest {name} is {manifest.get(name)!r}, the anchor says {value!r}",
                )
            )
    if manifest.get("leaf_encoding") != LEAF_ENCODING:
        problems.append(
            Problem(
                "encoding_mismatch",
                f"the snapshot uses leaf encoding {manifest.get('leaf_encoding')!r}; this "
                f"verifier knows {LEAF_ENCODING!r}: use a matching dt-platform version",
            )
        )
        return None, manifest
    loaded: list[SourceRecords] = []
    for name in sorted(manifest["sources"]):
        entry = manifest["sources"][name]
        try:
            data = ipfs.cat(f"{cid}/{entry['file']}")
        except IpfsError as exc:
            problems.append(
                Problem("snapshot_unavailable", f"{cid}/{entry['file']} cannot be retrieved: {exc}")
            )
            return None, manifest
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            problems.append(
                Problem(
                    "file_tampered",
                    f"{entry['file']} does not match the SHA-256 recorded in the manifest",
                )
            )
        key = _registry_key(name, sources) or tuple(entry.get("key") or ())
        try:
            try:
                recs = records_from_parquet(name, key, data, entry.get("tables") or ())
            except SnapshotError:
                recs = records_from_parquet(name, tuple(entry["key"]), data)
        except (SnapshotError, KeyError, TypeError) as exc:
            problems.append(Problem("snapshot_unreadable", f"{entry['file']}: {exc}"))
            return None, manifest
        if recs.rows != entry.get("rows"):
            problems.append(
                Problem(
                    "manifest_mismatch",
                    f"{entry['file']} holds {recs.rows} rows, the manifest says {entry.get('rows')}",
                )
            )
        if recs.schema_hash != entry.get("schema_hash"):
            problems.append(
                Problem(
                    "manifest_mismatch",
                    f"{entry['file']} has schema {recs.schema_hash}, the manifest says "
                    f"{entry.get('schema_hash')}",
                )
            )
        loaded.append(recs)
    return DayRecords(day, loaded, dict(manifest.get("skipped_sources") or {})), manifest


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
        report.warehouse_root = _hex(warehouse.root)
    try:
        anchor = _get_anchor(chain, key, version)
    except NotAnchored as exc:
        report.problems.append(Problem("not_anchored", str(exc)))
        return report
    if anchor is None:
        report.problems.append(
            Problem("not_anchored", f"partition {key} has never been anchored on this chain")
        )
        return report
    report.version = anchor.version
    report.anchored_root = _hex(anchor.root)
    report.anchored_cid = anchor.cid
    report.anchored_record_count = anchor.record_count
    report.anchored_block = anchor.block_number
    report.anchored_at = format_timestamp(anchor.time)
    report.publisher = anchor.publisher
    report.reason = anchor.reason or None

    if report.warehouse_root != report.anchored_root:
        report.problems.append(
            Problem(
                "warehouse_mismatch",
                f"the warehouse's {warehouse.record_count} records have root "
                f"{report.warehouse_root}, version {anchor.version} anchors "
                f"{anchor.record_count} records with root {report.anchored_root}",
            )
        )
    snapshot, manifest = _load_snapshot(ipfs, anchor, day, sources, report.problems)
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
    report.snapshot_record_count = snapshot.record_count
    if snapshot.record_count:
        report.snapshot_root = _hex(snapshot.root)
    if report.snapshot_root != report.anchored_root:
        report.problems.append(
            Problem(
                "snapshot_mismatch",
                f"the snapshot at {anchor.cid} rebuilds root {report.snapshot_root} from "
                f"{snapshot.record_count} records, the chain anchors {report.anchored_root}: "
                "the published snapshot is not what was anchored",
            )
        )
    report.differences = diff_records(warehouse, snapshot)
    return report


# --- proofs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """A Merkle proof that one record is part of an anchored snapshot."""

    partition: str
    anchor_key: str
    version: int
    source: str
    key: dict[str, str]
    record: bytes
    leaf: bytes
    proof: list[bytes]
    root: bytes
    cid: str
    origin: str
    """Where the record and tree came from: ``warehouse`` (it matches the anchor) or
    ``snapshot`` (the warehouse changed since; the anchored snapshot from IPFS was used)."""
    matches_warehouse: bool
    verified_locally: bool
    verified_on_chain: bool | None
    """The contract view ``verifyRecord``'s answer (``None`` if not asked)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "anchor_key": self.anchor_key,
            "version": self.version,
            "source": self.source,
            "key": self.key,
            "record": self.record.decode("utf-8"),
            "record_hex": _hex(self.record),
            "leaf": _hex(self.leaf),
            "proof": [_hex(p) for p in self.proof],
            "root": _hex(self.root),
            "cid": self.cid,
            "origin": self.origin,
            "matches_warehouse": self.matches_warehouse,
            "verified_locally": self.verified_locally,
            "verified_on_chain": self.verified_on_chain,
        }


def _key_input(value: Any) -> str:
    """Normalise a key value given by a user (``2026-11-20T13:00Z`` → canonical timestamp)."""
    if not isinstance(value, str):
        return key_text(value)
    if "T" in value and ":" in value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return format_timestamp(parsed)
    return value


def _key_tuple(source: SourceRecords, key: Mapping[str, Any]) -> tuple[str, ...]:
    wanted, given = set(source.key_columns), set(key)
    if wanted != given:
        raise RecordNotFound(
            f"source {source.name!r} is keyed by {', '.join(source.key_columns)}; got "
            f"{', '.join(sorted(given)) or 'no key'}"
        )
    return tuple(_key_input(key[c]) for c in source.key_columns)


def prove_record(
    con: duckdb.DuckDBPyConnection,
    ipfs: IpfsStore,
    chain: AuditChain,
    day: dt.date,
    source: str,
    key: Mapping[str, Any],
    *,
    version: int | None = None,
    sources: Sequence[SnapshotSource] | None = None,
    check_on_chain: bool = True,
) -> Proof:
    """Proof that the record ``source``/``key`` of ``day`` is in the anchored snapshot.

    The tree is rebuilt from the warehouse when its root equals the anchor (no IPFS needed),
    otherwise from the anchored snapshot on IPFS, so the proof always leads to the anchored root;
    ``matches_warehouse`` says whether today's warehouse record is the anchored one. With
    ``check_on_chain`` the contract's ``verifyRecord`` view checks it too.
    """
    akey = anchor_key(day)
    anchor = _get_anchor(chain, akey, version)
    if anchor is None:
        raise NotAnchored(f"partition {akey} has never been anchored: nothing to prove against")
    warehouse = collect_records(con, day, sources)
    if warehouse.record_count and warehouse.root == anchor.root:
        day_records, origin = warehouse, "warehouse"
    else:
        problems: list[Problem] = []
        snapshot, _ = _load_snapshot(ipfs, anchor, day, sources, problems)
        if snapshot is None or not snapshot.record_count or snapshot.root != anchor.root:
            detail = "; ".join(p.message for p in problems) or "its records rebuild another root"
            raise AuditError(
                f"the warehouse no longer matches version {anchor.version} of {akey} and the "
                f"anchored snapshot {anchor.cid} cannot stand in: {detail}"
            )
        day_records, origin = snapshot, "snapshot"
    records = day_records.source(source)
    if records is None:
        present = ", ".join(s.name for s in day_records.sources)
        raise RecordNotFound(f"partition {akey} has no source {source!r} (it has: {present})")
    wanted = _key_tuple(records, key)
    positions = day_records.locate(source, wanted)
    if not positions:
        examples = "; ".join(
            ", ".join(f"{k}={v}" for k, v in records.key_dict(i).items())
            for i in range(min(3, records.rows))
        )
        raise RecordNotFound(
            f"no {source} record with "
            + ", ".join(f"{k}={v}" for k, v in zip(records.key_columns, wanted, strict=True))
            + f" in {akey} (version {anchor.version}); e.g. {examples}"
        )
    index = positions[0]
    tree = day_records.tree
    record = day_records.all_records()[index]
    leaf, path = tree.leaf(index), tree.proof(index)
    if origin == "warehouse":
        matches = True
    else:
        w_positions = warehouse.locate(source, wanted)
        matches = bool(w_positions) and warehouse.all_records()[w_positions[0]] == record
    on_chain = chain.verify_record(akey, anchor.version, record, path) if check_on_chain else None
    return Proof(
        partition=day.isoformat(),
        anchor_key=akey,
        version=anchor.version,
        source=source,
        key=dict(zip(records.key_columns, wanted, strict=True)),
        record=record,
        leaf=leaf,
        proof=path,
        root=anchor.root,
        cid=anchor.cid,
        origin=origin,
        matches_warehouse=matches,
        verified_locally=verify_proof(anchor.root, leaf, path),
        verified_on_chain=on_chain,
    )
