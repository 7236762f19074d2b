"""Produce a day's report: build it, write ``DT_HOME/reports/<day>/report.html|pdf``, add both
to IPFS and attach them to the snapshot of the day whose anchor will cover them; then, if mail
is configured, send it. ``report.json`` beside the files records what was done (the dashboard
lists the reports from it); ``sent.jsonl`` which version reached whom (:mod:`.sends`), so a
re-run mails only recipients who lack this version, and a changed report as a correction.

Which day covers a report: the next day (:func:`~dt_platform.trust.snapshot.covering_day`),
since the report shows its own day's anchor. If that day's snapshot has already been built (a
report rebuilt late, or a demo that built today), attaching there would change records a
snapshot already holds, so the report goes to the first later day with no snapshot yet: an
anchored day never changes under its anchor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from dt_platform.fileio import atomic_write_bytes
from dt_platform.report.anchor import REPORT_DOCUMENT
from dt_platform.report.build import build_report
from dt_platform.report.content import DailyReport
from dt_platform.report.db import missing_tables
from dt_platform.report.html import render_html
from dt_platform.report.kept import earlier_build, still_covered
from dt_platform.report.mail import MailError, MailSettings, report_message, send_message
from dt_platform.report.pdf import PdfUnavailable, html_to_pdf
from dt_platform.report.sends import (
    CORRECTED,
    Send,
    describe_mail,
    mail_history,
    plan_mailing,
    read_sends,
    record_send,
    sends_lock,
)
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.snapshot import attach_document, covering_day
from dt_platform.trust.snapshot.documents import TABLE as DOCUMENTS
from dt_platform.twin import db as twin_db

MANIFEST = "report.json"
FILES = {"html": ("report.html", "text/html"), "pdf": ("report.pdf", "application/pdf")}
MAX_LISTED = 1000


@dataclass(frozen=True)
class ReportFile:
    kind: str
    name: str
    """The document's name in the covering day's snapshot (``daily_report/<day>.html``)."""
    path: str
    media_type: str
    sha256: str
    size_bytes: int
    cid: str


@dataclass
class ReportRun:
    """What producing one day's report did."""

    day: str
    folder: str
    covering_day: str
    generated_at: str
    headline: str
    content_sha256: str = ""
    files: list[ReportFile] = field(default_factory=list)
    pdf_error: str | None = None
    mailed_to: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    already_sent: dict[str, str] = field(default_factory=dict)
    """Recipients skipped because they have this version: address → when it was sent."""
    correction: str | None = None
    """The note of a correction sent in this run (to ``corrected_to``)."""
    corrected_to: list[str] = field(default_factory=list)
    mail: str = "not configured"
    unchanged: bool = False
    """The day says what the build of ``generated_at`` said, so its files were kept: the copies
    already mailed are the ones the covering day's anchor proves."""

    @property
    def report_to(self) -> list[str]:
        """The recipients this run mailed the report itself (not a correction)."""
        return [r for r in self.mailed_to if r not in self.corrected_to]

    def file(self, kind: str) -> ReportFile | None:
        return next((f for f in self.files if f.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write_manifest(self) -> None:
        data = json.dumps(self.to_dict(), indent=2, sort_keys=True).encode()
        atomic_write_bytes(Path(self.folder) / MANIFEST, data)


def next_unbuilt_day(con: duckdb.DuckDBPyConnection, day: dt.date) -> dt.date:
    """The first day after ``day`` whose snapshot has not been built (see the module doc)."""
    candidate = covering_day(day)
    if missing_tables(con, "audit_snapshots"):
        return candidate
    built = {
        d
        for (d,) in con.execute(
            "SELECT DISTINCT partition FROM audit_snapshots WHERE partition >= ?", [candidate]
        ).fetchall()
    }
    while candidate in built:
        candidate += dt.timedelta(days=1)
    return candidate


def open_twin_read_only(path: Path) -> sqlite3.Connection | None:
    """The twin store, read only, or ``None`` when there is none yet."""
    return twin_db.connect(path, read_only=True) if Path(path).exists() else None


def render(
    report: DailyReport, *, browser: str | None = None
) -> tuple[str, bytes | None, str | None]:
    """``(html, pdf, why there is no pdf)``."""
    html = render_html(report)
    return (html, *render_pdf(html, browser))


def render_pdf(html: str, browser: str | None) -> tuple[bytes | None, str | None]:
    """``(pdf, why there is no pdf)``."""
    try:
        return html_to_pdf(html, browser=browser), None
    except PdfUnavailable as exc:
        return None, str(exc)


def produce_report(
    con: duckdb.DuckDBPyConnection,
    twin_path: Path,
    ipfs: IpfsStore,
    day: dt.date,
    reports_dir: Path,
    *,
    now: dt.datetime,
    browser: str | None = None,
) -> ReportRun:
    """Build, write, publish and attach the report of ``day``. ``con`` must be the warehouse's
    writer (the attachment is written there). IPFS errors propagate: a report is attached only
    once it is published, and a re-run does everything again. A rebuild that says the same as
    the build in the folder keeps that build's files (:mod:`.kept`): ``unchanged`` is set."""
    unbuilt = next_unbuilt_day(con, day)
    twin = open_twin_read_only(twin_path)
    try:
        report = build_report(con, twin, day, now=now, covering=unbuilt)
    finally:
        if twin is not None:
            twin.close()
    folder = Path(reports_dir) / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    files = {kind: folder / filename for kind, (filename, _) in FILES.items()}
    kept = earlier_build(folder / MANIFEST, report.content_sha256, files)
    if kept is not None:
        html = kept.contents["html"]
        pdf, pdf_error = kept.contents.get("pdf"), None
        if pdf is None:
            pdf, pdf_error = render_pdf(html.decode("utf-8"), browser)
        if not still_covered(
            con, kept, unbuilt, with_pdf=pdf is not None and "pdf" not in kept.contents
        ):
            kept = None
    if kept is None:
        text, pdf, pdf_error = render(report, browser=browser)
        html = text.encode("utf-8")
    covering = kept.covering_day if kept else unbuilt
    run = ReportRun(
        day=day.isoformat(),
        folder=str(folder),
        covering_day=covering.isoformat(),
        generated_at=kept.generated_at if kept else now.isoformat(),
        headline=report.headline,
        content_sha256=report.content_sha256,
        pdf_error=pdf_error,
        unchanged=kept is not None,
    )
    attach = covering == unbuilt  # a built day's snapshot already holds the kept files
    for kind, data in {"html": html, "pdf": pdf}.items():
        path, media_type = files[kind], FILES[kind][1]
        name = REPORT_DOCUMENT.format(day=day, ext=kind)
        if data is None:  # no stale PDF of an earlier build, on disk or attached
            path.unlink(missing_ok=True)
            if attach and not missing_tables(con, DOCUMENTS):
                con.execute(f"DELETE FROM {DOCUMENTS} WHERE day = ? AND name = ?", [covering, name])
            continue
        atomic_write_bytes(path, data)
        cid = ipfs.add_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if attach:
            attach_document(
                con, covering, name, cid, sha256=digest, size_bytes=len(data), media_type=media_type
            )
        run.files.append(ReportFile(kind, name, str(path), media_type, digest, len(data), cid))
    run.write_manifest()
    return run


def plain_text(run: ReportRun, correction: str | None = None) -> str:
    lines = [correction, ""] if correction else []
    lines += [run.headline, "", "The report is this message's HTML part; its PDF is attached."]
    lines += [f"{f.kind.upper()}: IPFS CID {f.cid}, sha256 {f.sha256}" for f in run.files]
    lines.append(f"The anchor of {run.covering_day} covers both.")
    return "\n".join(lines) + "\n"


def mail_report(
    run: ReportRun, mail: MailSettings, *, resend: bool = False, now: dt.datetime | None = None
) -> ReportRun:
    """Send the written report to the recipients of ``mail.recipients`` who do not have this
    version yet (all of them with ``resend``): as a correction to those who have an earlier one,
    as the report to the others (one message each way); records the outcome in the manifest and
    each delivery in the sends log. Raises :class:`MailError` when a message reached nobody (it
    is not recorded, so the next run sends it; a message sent before it stays recorded)."""
    html = run.file("html")
    if html is None:
        raise MailError("the report has no HTML to send")
    body = Path(html.path).read_bytes()
    sha = hashlib.sha256(body).hexdigest()
    folder = Path(run.folder)
    with sends_lock(folder):
        plan = plan_mailing(
            read_sends(folder), run.content_sha256 or sha, mail.recipients, resend=resend
        )
        run.already_sent = {r: s.at for r, s in plan.already.items() if r not in plan.to}
        run.correction, run.corrected_to = None, []
        run.mailed_to, run.refused = [], []
        if not plan.to:
            run.mail = "already sent"
            run.write_manifest()
            return run
        pdf = run.file("pdf")
        attachment = Path(pdf.path).read_bytes() if pdf else None
        for to, replaces in plan.messages():
            note = plan.correction_note() if replaces else None
            message = report_message(
                mail.sender,
                to,
                (CORRECTED if replaces else "") + run.headline,
                body.decode("utf-8"),
                attachment,
                f"dt-platform-report-{run.day}.pdf",
                plain_text(run, note),
            )
            try:
                refused = send_message(replace(mail, recipients=to), message)
            except MailError as exc:
                run.mail = f"failed: {exc}"
                run.write_manifest()
                raise
            reached = [r for r in to if r not in refused]
            run.refused += refused
            run.mailed_to += reached
            if replaces is not None:
                run.correction, run.corrected_to = note, reached
            at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
            replaced = replaces.sha256 if replaces else None
            record_send(folder, Send(at, sha, run.content_sha256 or sha, tuple(reached), replaced))
        run.mail = "sent"
        run.write_manifest()
    return run


def list_reports(reports_dir: Path) -> list[dict[str, Any]]:
    """Every produced report (from its ``report.json``), newest day first, with its mailings
    (``mail_history``) and a line saying who got which version when (``mailed``); unreadable
    ones are skipped."""
    found = []
    folders = sorted(Path(reports_dir).glob("????-??-??"), reverse=True)[:MAX_LISTED]
    for folder in folders:
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("day") == folder.name:
            manifest["mail_history"] = mail_history(folder)
            manifest["mailed"] = describe_mail(
                manifest["mail_history"], str(manifest.get("mail", "–"))
            )
            found.append(manifest)
    return found


def report_file(reports_dir: Path, day: str, kind: str) -> Path | None:
    """The path of a report's file (fixed names inside the day's folder), if it exists."""
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return None
    if kind not in FILES:
        return None
    path = Path(reports_dir) / day / FILES[kind][0]
    return path if path.is_file() else None
