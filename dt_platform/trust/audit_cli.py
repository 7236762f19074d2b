"""``dt-platform verify`` and ``dt-platform prove``: check a day, or one record, against the chain.

Wire into the main CLI with ``main.add_command(verify)`` and ``main.add_command(prove)``. Both
read the warehouse read-only, IPFS through ``open_ipfs`` and the chain through
``AuditChain.connect`` (no key needed). Exit codes: 0 everything matches / the contract accepts
the proof, 1 a mismatch, a refused proof or bad input, 3 the chain could not be reached (retry).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
import duckdb

from dt_platform.config import load_settings
from dt_platform.trust.audit import (
    AuditError,
    RecordSpecError,
    parse_record_spec,
    prove_record,
    verify_partition,
    verify_versions,
)
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.cli_errors import EXIT_MISMATCH, service_errors
from dt_platform.trust.ipfs import IpfsError, open_ipfs
from dt_platform.trust.snapshot import SnapshotError
from dt_platform.warehouse import Warehouse

__all__ = ["prove", "verify"]


def _day(value: dt.datetime) -> dt.date:
    return value.date()


def _record_spec(spec: str) -> tuple[str, dict[str, str]]:
    try:
        return parse_record_spec(spec)
    except RecordSpecError as exc:
        raise click.BadParameter(str(exc)) from exc


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


_PARTITION = click.option(
    "--partition",
    "partition",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day (UTC), e.g. 2026-11-20.",
)
_VERSION = click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    default=None,
    help="Anchored version to check against (default: the latest).",
)
_VERIFY_VERSION = click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    default=None,
    help="Check only this anchored version (default: every version, the latest also against "
    "the warehouse, and what changed between them).",
)


@click.command()
@_PARTITION
@_VERIFY_VERSION
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Differing records listed in the text report.",
)
def verify(partition: dt.datetime, version: int | None, as_json: bool, limit: int) -> None:
    """Recompute a day's records from the warehouse and check them against the chain and IPFS.

    Checks every anchored version of the day: each snapshot against its anchor, the latest also
    against the warehouse, and lists the records that changed from one version to the next.
    Exits 0 when all agree; otherwise 1 and lists the offending records (source, key, field:
    warehouse vs snapshot value).
    """
    settings = load_settings()
    with service_errors(AuditError, IpfsError, SnapshotError, duckdb.Error):
        chain = AuditChain.connect(settings)
        with Warehouse(settings.warehouse_path).read() as con:
            ipfs = open_ipfs(settings)
            if version is None:
                report = verify_versions(con, ipfs, chain, _day(partition))
            else:
                report = verify_partition(con, ipfs, chain, _day(partition), version=version)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(report.render(limit=limit))
    if not report.ok:
        raise SystemExit(EXIT_MISMATCH)


@click.command()
@_PARTITION
@click.option(
    "--record",
    "record",
    required=True,
    help="SOURCE:key=value,… e.g. telemetry_digest:machine_id=SMT-01,sensor=vacuum_kpa,"
    "hour=2026-11-20T13:00:00Z",
)
@_VERSION
def prove(partition: dt.datetime, record: str, version: int | None) -> None:
    """Print the Merkle proof of one record as JSON and whether the contract accepts it.

    Exits 0 when the contract's verifyRecord view accepts the proof, 1 otherwise.
    """
    source, key = _record_spec(record)
    settings = load_settings()
    with service_errors(AuditError, IpfsError, SnapshotError, duckdb.Error):
        chain = AuditChain.connect(settings)
        with Warehouse(settings.warehouse_path).read() as con:
            proof = prove_record(
                con, open_ipfs(settings), chain, _day(partition), source, key, version=version
            )
    _echo_json(proof.to_dict())
    if not proof.verified_on_chain:
        raise SystemExit(EXIT_MISMATCH)
