"""Take one pending row as far as the services allow: publish it to IPFS, then anchor it.

Each step records its outcome in the row before returning, so an outage leaves the row pending
with its error (``retryable``) and a refusal (e.g. a missing role) leaves it pending until the
cause is fixed; nothing is anchored twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
from web3.exceptions import TransactionNotFound

from dt_platform.trust.audit.anchors import anchor_key, to_hex
from dt_platform.trust.audit.errors import AuditError
from dt_platform.trust.audit.results import AuditResult, result_of
from dt_platform.trust.audit.table import (
    ANCHORED,
    AWAITING_REASON,
    PENDING_ANCHOR,
    PENDING_PUBLISH,
    PENDING_STATES,
    UNCHANGED,
    Row,
    update_row,
)
from dt_platform.trust.chain import AuditChain, ChainError, ChainUnavailable
from dt_platform.trust.chain.artifacts import error_decoder
from dt_platform.trust.ipfs import IpfsError, IpfsStore, IpfsUnavailable
from dt_platform.trust.snapshot import SnapshotError, check_snapshot_dir

ChainLike = AuditChain | Callable[[], AuditChain]
"""A connected client, or a zero-argument function that connects (so that an unreachable chain
at connection time leaves the snapshot pending instead of failing before it is even built)."""


class ChainConnection:
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


def _fail(
    con: duckdb.DuckDBPyConnection, row: Row, message: str, *, retryable: bool, strict: bool
) -> AuditResult:
    update_row(con, row, error=message)
    if strict and not retryable:
        raise AuditError(f"{row.partition}: {message} (the snapshot stays {row.status})")
    return result_of(row, retryable=retryable)


def advance(
    con: duckdb.DuckDBPyConnection,
    row: Row,
    ipfs: IpfsStore,
    chain: ChainConnection,
    now: dt.datetime,
    *,
    strict: bool,
) -> AuditResult:
    """Take one pending row as far as the services allow."""
    if row.status not in PENDING_STATES:
        return result_of(row)
    update_row(con, row, attempts=row.attempts + 1)
    if row.status == PENDING_PUBLISH:
        stopped = _publish(con, row, ipfs, now, strict=strict)
        if stopped is not None:
            return stopped
    return _anchor(con, row, chain, now, strict=strict)


def _publish(
    con: duckdb.DuckDBPyConnection, row: Row, ipfs: IpfsStore, now: dt.datetime, *, strict: bool
) -> AuditResult | None:
    """``pending_publish`` → ``pending_anchor``; returns a result only when the row stops here."""
    try:
        check_snapshot_dir(row.snapshot_dir)
        cid = ipfs.add_path(Path(row.snapshot_dir), cid_version=1, pin=True)
    except IpfsUnavailable as exc:
        return _fail(con, row, str(exc), retryable=True, strict=strict)
    except (IpfsError, SnapshotError, OSError) as exc:
        return _fail(con, row, f"cannot publish: {exc}", retryable=False, strict=strict)
    update_row(con, row, cid=cid, published_at=now, status=PENDING_ANCHOR, error=None)
    return None


def _await_reason(
    con: duckdb.DuckDBPyConnection, row: Row, latest_version: int, latest_root: str
) -> AuditResult:
    """A first build of a day the chain already holds other records for: a person decides."""
    detail = (
        f"the chain holds version {latest_version} of {row.partition} (root {latest_root[:10]}…) "
        "that this warehouse has no anchored build for; these records differ from it and no "
        "file explains them here. An OPERATOR anchors them with `dt-platform audit anchor "
        f'--partition {row.partition} --reason "…"`'
    )
    update_row(con, row, status=AWAITING_REASON, detail=detail, error=None)
    return result_of(row)


def _anchor(
    con: duckdb.DuckDBPyConnection,
    row: Row,
    chain: ChainConnection,
    now: dt.datetime,
    *,
    strict: bool,
) -> AuditResult:
    """``pending_anchor`` → ``anchored``, or ``unchanged`` when the chain already holds the records."""
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
            update_row(con, row, status=UNCHANGED, version=latest.version, error=None)
            return result_of(
                row,
                detail=f"records equal version {latest.version} on chain (CID {latest.cid}): "
                "nothing sent",
            )
        reason = row.reason or ""
        if latest is not None and not (latest.root == root and latest.cid == cid) and not reason:
            if not row.is_reanchor:
                return _await_reason(con, row, latest.version, to_hex(latest.root))
            head = (row.detail or "re-anchor of a lost version").split(":", 1)[0]
            reason = f"{head}, which the chain no longer holds"
            update_row(con, row, reason=reason)
        receipt = client.anchor(key, root, cid, row.record_count, reason)
    except ChainUnavailable as exc:
        if exc.tx_hash:
            update_row(con, row, tx_hash=exc.tx_hash)
        return _fail(con, row, str(exc), retryable=True, strict=strict)
    except ChainError as exc:
        return _fail(con, row, f"cannot anchor: {exc}", retryable=False, strict=strict)
    update_row(
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
    return result_of(row, already_anchored=receipt.already_anchored)
