"""``dt-platform report [--day D] [--send | --resend]``: build a day's report now (default:
yesterday, the newest complete UTC day), publish it to IPFS, attach it to the day whose anchor
will cover it, and with ``--send`` mail it to the recipients of ``DT_REPORT_TO`` who do not have
this version yet (a changed report as a correction); ``--resend`` mails everyone again. Exit 1
when IPFS or the mail server refuses, 3 when the warehouse is busy."""

from __future__ import annotations

import datetime as dt

import click

from dt_platform.config import load_settings
from dt_platform.report.mail import MailError, mail_settings
from dt_platform.report.publish import ReportRun, mail_report, produce_report
from dt_platform.report.sends import already_sent_text
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
@click.option(
    "--send",
    is_flag=True,
    help="Also mail it through DT_SMTP_URL to the DT_REPORT_TO recipients who do not have this "
    "version yet (a changed report goes out as a correction).",
)
@click.option(
    "--resend",
    is_flag=True,
    help="Mail it to every DT_REPORT_TO recipient again, even those who already have it "
    "(implies --send).",
)
def report(day: dt.datetime | None, send: bool, resend: bool) -> None:
    """Build the daily report of a day now: HTML and PDF, on IPFS, covered by an anchor."""
    settings = load_settings()
    now = dt.datetime.now(dt.UTC)
    the_day = day.date() if day else now.date() - dt.timedelta(days=1)
    mail = mail_settings(settings)
    send = send or resend
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
            mail_report(run, mail, resend=resend)
    click.echo(run.headline)
    for f in run.files:
        click.echo(f"{f.kind}: {f.path} ({f.size_bytes:,} bytes)\n  CID {f.cid}")
    if run.pdf_error:
        click.echo(f"no PDF: {run.pdf_error}", err=True)
    if run.unchanged:
        click.echo(f"unchanged since the build of {run.generated_at}: its files are kept")
    click.echo(f"covered by the anchor of {run.covering_day}")
    if send:
        click.echo(mail_outcome(run))


def mail_outcome(run: ReportRun) -> str:
    """What mailing did: sent to whom (as a correction?), refused, skipped as already sent."""
    lines = []
    if run.corrected_to:
        lines.append(f"sent a correction to {', '.join(run.corrected_to)}")
        lines += [f"  {run.correction}"] if run.correction else []
    if run.report_to:
        lines.append(f"sent the report to {', '.join(run.report_to)}")
    if run.refused:
        lines.append(f"refused: {', '.join(run.refused)}")
    if run.already_sent:
        lines.append(f"skipped, {already_sent_text(run.already_sent)} (--resend sends again)")
    return "\n".join(lines)
