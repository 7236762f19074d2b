"""What a snapshot build came to: :class:`AuditResult`, and the history of every build."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from dt_platform.trust.audit.anchors import anchor_key
from dt_platform.trust.audit.table import PENDING_STATES, Row, select_rows
from dt_platform.warehouse import table_names


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
        return self.status in PENDING_STATES

    def metadata(self) -> dict[str, Any]:
        """Plain values for ``MaterializeResult(metadata=...)`` (``None`` fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def result_of(row: Row, **overrides: Any) -> AuditResult:
    """The result a row stands for, with ``overrides`` (e.g. ``retryable``, ``detail``)."""
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
        "detail": row.detail,
    }
    values.update(overrides)
    return AuditResult(**values)


def audit_history(con: duckdb.DuckDBPyConnection, day: dt.date | None = None) -> list[AuditResult]:
    """Every recorded build (of ``day``, or of all days), oldest first (works read-only)."""
    if "audit_snapshots" not in table_names(con):
        return []
    rows = select_rows(con, "partition = ?", [day]) if day else select_rows(con, "TRUE")
    return [result_of(r) for r in rows]
