"""``dt-platform audit …``: what an OPERATOR does with the anchor queue.

* ``anchor --partition DAY --reason TEXT`` — rebuild the day's snapshot and anchor it as a new
  version with that reason: for a rebuild no late or corrected file explains, which the pipeline
  leaves ``awaiting_reason``. Signs with ``DT_CHAIN_KEY`` (on the local dev chain, the OPERATOR
  dev key).
* ``reconcile [--partition DAY]`` — read every anchored version back from the chain and re-queue
  what the chain no longer holds (what the Dagster sensor runs periodically).
* ``retry`` — finish every pending snapshot now (what the pending-anchor sensor triggers).

Exit codes as the other trust commands: 0 done, 1 refused or a gap found, 3 a service is
unreachable (retry later).
"""

from __future__ import annotations

import datetime as dt

import click

from dt_platform.config import load_settings
from dt_platform.trust.audit import (
    AWAITING_REASON,
    AuditError,
    AuditResult,
    audit_history,
    audit_partition,
    process_pending,
    reconcile_anchors,
)
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.cli_errors import EXIT_MISMATCH, EXIT_UNAVAILABLE, service_errors
from dt_platform.trust.ipfs import IpfsError, open_ipfs
from dt_platform.trust.snapshot import SnapshotError
from dt_platform.warehouse import Warehouse

__all__ = ["audit"]

_REFUSALS = (AuditError, IpfsError, SnapshotError)


def _describe(result: AuditResult) -> str:
    parts = [f"{result.partition}: {result.status}"]
    if result.version is not None:
        parts.append(f"version {result.version}")
    parts += [f"root {result.root}", f"{result.record_count} records"]
    if result.cid:
        parts.append(f"CID {result.cid}")
    if result.tx_hash:
        parts.append(f"tx {result.tx_hash}")
    lines = [", ".join(parts)]
    for label, text in (("reason", result.reason), ("error", result.error)):
        if text:
            lines.append(f"  {label}: {text}")
    if result.detail:
        lines.append(f"  {result.detail}")
    return "\n".join(lines)


@click.group()
def audit() -> None:
    """Operate the anchor queue: anchor a day with a reason, reconcile with the chain, retry."""


@audit.command()
@click.option(
    "--partition",
    "partition",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day (UTC), e.g. 2026-11-20.",
)
@click.option(
    "--reason",
    required=True,
    help="Why this day gets a new version (stored on chain with it), e.g. the ticket.",
)
def anchor(partition: dt.datetime, reason: str) -> None:
    """Anchor a day's current records as a new version, with an OPERATOR's reason.

    Rebuilds the snapshot from the warehouse now (what was waiting is shown first) and anchors
    it; a day whose records equal its anchored version is left alone.
    """
    from dt_platform.phm.tables import model_versions_of_day

    day = partition.date()
    settings = load_settings()
    with service_errors(*_REFUSALS), Warehouse(settings.warehouse_path).write() as con:
        for waiting in audit_history(con, day):
            if waiting.status == AWAITING_REASON:
                click.echo(f"waiting: {waiting.detail}")
        result = audit_partition(
            con,
            open_ipfs(settings),
            lambda: AuditChain.connect(settings),
            day,
            snapshots_dir=settings.snapshots_dir,
            model_version=model_versions_of_day(con, day),
            reason=reason,
        )
    click.echo(_describe(result))
    if result.pending:
        raise SystemExit(EXIT_UNAVAILABLE)


@audit.command()
@click.option(
    "--partition",
    "partition",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only this day (default: every anchored day).",
)
@click.option(
    "--confirmations",
    type=click.IntRange(min=1, max=10_000),
    default=None,
    help="Blocks an anchor needs to count as confirmed (default: DT_ANCHOR_CONFIRMATIONS).",
)
def reconcile(partition: dt.datetime | None, confirmations: int | None) -> None:
    """Read every anchored version back from the chain; re-queue what it no longer holds.

    Exits 1 when an anchor was missing (it is queued again: `dt-platform audit retry` or the
    pending-anchor sensor anchors it), 0 otherwise; shallow anchors are listed as unconfirmed.
    """
    settings = load_settings()
    with service_errors(*_REFUSALS):
        chain = AuditChain.connect(settings, read_only=True)
        with Warehouse(settings.warehouse_path).write() as con:
            report = reconcile_anchors(
                con,
                chain,
                confirmations=confirmations or settings.anchor_confirmations,
                day=partition.date() if partition else None,
            )
    click.echo(report.render())
    if not report.ok:
        raise SystemExit(EXIT_MISMATCH)


@audit.command()
def retry() -> None:
    """Publish and anchor every pending snapshot now (builds awaiting a reason stay waiting)."""
    settings = load_settings()
    with service_errors(*_REFUSALS), Warehouse(settings.warehouse_path).write() as con:
        results = process_pending(con, open_ipfs(settings), lambda: AuditChain.connect(settings))
    for result in results:
        click.echo(_describe(result))
    if not results:
        click.echo("nothing pending")
    if any(r.pending for r in results):
        raise SystemExit(EXIT_UNAVAILABLE)
