"""``dt-platform report [--day D] [--send]``: build a day's report now (default: yesterday, the
newest complete UTC day), publish it to IPFS, attach it to the day whose anchor will cover it,
and with ``--send`` mail it to ``DT_REPORT_TO``. Exit 1 when IPFS or the mail server refuses,
3 when the warehouse is busy."""

from __future__ import annotations

import datetime as dt

import click

from dt_platform.config import load_settings
from dt_platform.report.mail import MailError, mail_settings
from dt_platform.report.publish import mail_report, produce_report
from dt_platform.trust.cli_errors import service_errors
from dt_platform.trust.ipfs import IpfsError, open_ipfs
from dt_platform.trust.snapshot import SnapshotError
from dt_platform.warehouse import Warehouse

__all__ = ["report"]


@click.command("report")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The UTC day to report on [default: yesterday].",
)
@click.option("--send", is_flag=True, help="Also mail it to DT_REPORT_TO through DT_SMTP_URL.")
def report(day: dt.datetime | None, send: bool) -> None:
    """Build the daily report of a day now: HTML and PDF, on IPFS, covered by an anchor."""
    settings = load_settings()
    now = dt.datetime.now(dt.UTC)
    the_day = day.date() if day else now.date() - dt.timedelta(days=1)
    mail = mail_settings(settings)
    if send and mail is None:
        raise click.UsageError("--send needs DT_SMTP_URL and DT_REPORT_TO")
    with service_errors(IpfsError, SnapshotError, MailError):
        with Warehouse(settings.warehouse_path).write() as con:
            run = produce_report(
                con,
                settings.twin_db_path,
                open_ipfs(settings),
                the_day,
                settings.reports_dir,
                now=now,
            )
        if send and mail is not None:
            mail_report(run, mail)
    click.echo(run.headline)
    for f in run.files:
        click.echo(f"{f.kind}: {f.path} ({f.size_bytes:,} bytes)\n  CID {f.cid}")
    if run.pdf_error:
        click.echo(f"no PDF: {run.pdf_error}", err=True)
    click.echo(f"covered by the anchor of {run.covering_day}")
    if send:
        click.echo(
            f"mailed to {', '.join(run.mailed_to)}"
            + (f"; refused: {', '.join(run.refused)}" if run.refused else "")
        )
