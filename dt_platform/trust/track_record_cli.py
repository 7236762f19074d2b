"""``dt-platform track-record``: the published track record of every model version, and with
``--verify`` the check that it is what the anchored records give.

Wire into the main CLI with ``main.add_command(track_record)``. Exit codes as ``verify``: 0 all
agree, 1 a mismatch (or nothing published), 3 the chain could not be reached.
"""

from __future__ import annotations

import datetime as dt
import math

import click
import duckdb
import polars as pl

from dt_platform.config import load_settings
from dt_platform.phm.track_record_table import published_summary
from dt_platform.trust.audit import AuditError
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.cli_errors import EXIT_MISMATCH, service_errors
from dt_platform.trust.ipfs import IpfsError, open_ipfs
from dt_platform.trust.snapshot import SnapshotError
from dt_platform.trust.track_record_verify import verify_track_record
from dt_platform.warehouse import Warehouse

__all__ = ["track_record"]

COLUMNS = (
    ("model_version", "model", "{}"),
    ("machine_type", "type", "{}"),
    ("lead_band", "lead h", "{}"),
    ("lives", "lives", "{:,}"),
    ("predictions", "scored", "{:,}"),
    ("coverage_50", "cov50", "{:.0%}"),
    ("coverage_80", "cov80", "{:.0%}"),
    ("coverage_90", "cov90", "{:.0%}"),
    ("rmse_h", "rmse h", "{:,.1f}"),
    ("bias_h", "bias h", "{:+,.1f}"),
    ("censored_predictions", "censored", "{:,}"),
    ("warned", "warned", "{:,}"),
    ("failures", "failures", "{:,}"),
    ("mean_lead_h", "lead h", "{:,.1f}"),
    ("false_alarm_share", "false al.", "{:.0%}"),
)


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def render_summary(summary: pl.DataFrame) -> str:
    """The summary as a plain text table (model versions shortened to 12 characters)."""
    rows = [[title for _, title, _ in COLUMNS]]
    for row in summary.iter_rows(named=True):
        cells = [_cell(row[c], fmt) for c, _, fmt in COLUMNS]
        cells[0] = cells[0][:12]
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


@click.command(name="track-record")
@click.option("--model-version", default=None, help="Only this model version ('none': physics).")
@click.option("--type", "machine_type", default=None, help="Only this machine type.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The summary published on this day or the last one before it (default: the newest).",
)
@click.option(
    "--verify",
    "check",
    is_flag=True,
    help="Recompute the summary from the anchored records (snapshots fetched by their anchored "
    "CID, each record proved against the anchored root) and compare; exit 1 on a mismatch.",
)
def track_record(
    model_version: str | None, machine_type: str | None, as_of: dt.datetime | None, check: bool
) -> None:
    """How every model version's past predictions turned out: RUL error and interval coverage
    by lead time, alert lead times and false alarms, per machine type, over every component life
    the maintenance log has closed."""
    settings = load_settings()
    day = as_of.date() if as_of else None
    with service_errors(AuditError, IpfsError, SnapshotError, duckdb.Error):
        with Warehouse(settings.warehouse_path).read() as con:
            if check:
                result = verify_track_record(
                    con,
                    open_ipfs(settings),
                    AuditChain.connect(settings),
                    as_of=day,
                    model_version=model_version,
                    machine_type=machine_type,
                )
                summary = result.published
            else:
                summary = published_summary(con, day)
    if model_version is not None:
        summary = summary.filter(pl.col("model_version") == model_version)
    if machine_type is not None:
        summary = summary.filter(pl.col("machine_type") == machine_type)
    if summary.is_empty():
        click.echo("No track record matches: no component life has closed yet (or none of it).")
    else:
        click.echo(f"Track record published {summary['day'][0]}:")
        click.echo(render_summary(summary))
    if check:
        click.echo(result.render())
        if not result.ok:
            raise SystemExit(EXIT_MISMATCH)
