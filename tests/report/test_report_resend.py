"""A report is mailed once per version and recipient, through a real local SMTP server: a
rebuild of an unchanged day sends nothing, a new recipient gets only their copy, a day rebuilt
with different figures goes to everyone as a correction, ``--resend`` sends again on purpose,
and a failed mailing is not recorded (the next run tries again)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.cli import main
from dt_platform.config import load_settings
from dt_platform.report import MailError, list_reports, mail_report, mail_settings, produce_report
from dt_platform.report.cli import mail_outcome
from dt_platform.report.content import moment
from dt_platform.report.publish import ReportRun
from dt_platform.report.sends import SENDS, Send, plan_mailing, read_sends, record_send
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.snapshot import attached_documents
from dt_platform.warehouse import Warehouse
from tests.report.report_fixtures import (
    DAY,
    END,
    build_twin_store,
    build_warehouse,
    reject_late_rows,
)
from tests.report.smtp_server import PASSWORD, USER, smtp_server

pytestmark = [
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
MANAGER, QUALITY, PLANT = (f"{n}@plant.example.org" for n in ("manager", "quality", "plant"))
FIRST = END + dt.timedelta(hours=1)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        build_warehouse(con)
    build_twin_store(tmp_path / "twin.sqlite")
    return tmp_path


def produce(home: Path, now: dt.datetime) -> ReportRun:
    with Warehouse(home / "warehouse.duckdb").write() as con:
        return produce_report(
            con, home / "twin.sqlite", EmbeddedIpfs(home / "ipfs"), DAY, home / "reports", now=now
        )


def late_file_rejected(home: Path) -> None:
    with Warehouse(home / "warehouse.duckdb").write() as con:
        reject_late_rows(con)


def env(port: int, to: tuple[str, ...], password: str = PASSWORD) -> dict[str, str]:
    return {
        "DT_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "DT_SMTP_USER": USER,
        "DT_SMTP_PASSWORD": password,
        "DT_REPORT_FROM": "twin@plant.example.org",
        "DT_REPORT_TO": ", ".join(to),
    }


def mail(home: Path, port: int, *to: str, password: str = PASSWORD):
    return mail_settings(load_settings(home, environ=env(port, to, password)))


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.integration
def test_a_rebuilt_unchanged_report_is_not_mailed_again(home: Path) -> None:
    first = produce(home, FIRST)
    with smtp_server() as inbox:
        mail_report(first, mail(home, inbox.port, MANAGER, QUALITY), now=FIRST)
        # a re-run later the same morning, same figures: the files mailed are kept
        again = produce(home, FIRST + dt.timedelta(hours=2))
        assert again.unchanged and again.files == first.files
        assert again.content_sha256 == first.content_sha256
        mail_report(again, mail(home, inbox.port, MANAGER, QUALITY))
    assert len(inbox.messages) == 1
    assert again.mail == "already sent" and again.mailed_to == []
    assert again.already_sent == {MANAGER: FIRST.isoformat(), QUALITY: FIRST.isoformat()}
    (send,) = read_sends(Path(first.folder))
    assert send.sha256 == first.file("html").sha256 and set(send.to) == {MANAGER, QUALITY}
    manifest = json.loads((Path(again.folder) / "report.json").read_text())
    assert manifest["mail"] == "already sent" and manifest["already_sent"][MANAGER] == send.at
    # what the covering day's anchor will prove is what the recipients have
    with Warehouse(home / "warehouse.duckdb").write() as con:
        attached = {d["name"]: d["sha256"] for d in attached_documents(con, first.covering_day)}
    (pdf,) = parsed(inbox.messages[0][2]).iter_attachments()
    assert attached == {
        f"daily_report/{DAY}.html": send.sha256,
        f"daily_report/{DAY}.pdf": hashlib.sha256(pdf.get_content()).hexdigest(),
    }


@pytest.mark.integration
def test_a_new_recipient_gets_only_their_copy(home: Path) -> None:
    run = produce(home, FIRST)
    with smtp_server() as inbox:
        mail_report(run, mail(home, inbox.port, MANAGER))
        mail_report(run, mail(home, inbox.port, MANAGER, PLANT))
    assert [m[1] for m in inbox.messages] == [[MANAGER], [PLANT]]
    second = parsed(inbox.messages[1][2])
    assert second["To"] == PLANT and second["Subject"].strip() == run.headline
    assert run.mailed_to == [PLANT] and list(run.already_sent) == [MANAGER]


@pytest.mark.integration
def test_a_day_rebuilt_with_late_data_goes_to_everyone_as_a_correction(home: Path) -> None:
    first = produce(home, FIRST)
    with smtp_server() as inbox:
        mail_report(first, mail(home, inbox.port, MANAGER, QUALITY), now=FIRST)
        late_file_rejected(home)
        later = FIRST + dt.timedelta(hours=4)
        corrected = produce(home, later)
        assert corrected.content_sha256 != first.content_sha256
        mail_report(corrected, mail(home, inbox.port, MANAGER, QUALITY), now=later)
        mail_report(corrected, mail(home, inbox.port, MANAGER, QUALITY))  # and only once
    assert len(inbox.messages) == 2
    _, recipients, raw = inbox.messages[1]
    message = parsed(raw)
    assert recipients == [MANAGER, QUALITY]
    assert message["Subject"].strip() == "Corrected: " + corrected.headline
    plain = message.get_body(("plain",)).get_content()
    assert f"replaces the version sent at {moment(FIRST)}" in plain
    assert first.file("html").sha256[:12] in plain
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert html == Path(corrected.file("html").path).read_text(encoding="utf-8")
    sends = read_sends(Path(first.folder))
    assert [s.replaces for s in sends] == [None, first.file("html").sha256]
    # the Reports page's line says who got what when
    (listed,) = list_reports(home / "reports")
    assert listed["mailed"] == (
        f"sent to {MANAGER}, {QUALITY} at {moment(FIRST)}; "
        f"correction to {MANAGER}, {QUALITY} at {moment(later)}"
    )


@pytest.mark.integration
def test_a_recipient_added_with_a_correction_gets_the_report_not_the_correction(
    home: Path,
) -> None:
    first = produce(home, FIRST)
    with smtp_server() as inbox:
        mail_report(first, mail(home, inbox.port, MANAGER), now=FIRST)
        late_file_rejected(home)
        later = FIRST + dt.timedelta(hours=4)
        corrected = produce(home, later)
        mail_report(corrected, mail(home, inbox.port, MANAGER, PLANT), now=later)
    assert [m[1] for m in inbox.messages] == [[MANAGER], [MANAGER], [PLANT]]
    correction, report = (parsed(raw) for _, _, raw in inbox.messages[1:])
    assert correction["Subject"].strip() == "Corrected: " + corrected.headline
    assert report["Subject"].strip() == corrected.headline
    assert "replaces" not in report.get_body(("plain",)).get_content()
    assert corrected.corrected_to == [MANAGER] and corrected.mailed_to == [MANAGER, PLANT]
    sends = read_sends(Path(first.folder))
    assert [(s.to, s.replaces) for s in sends] == [
        ((MANAGER,), None),
        ((MANAGER,), first.file("html").sha256),
        ((PLANT,), None),
    ]
    outcome = mail_outcome(corrected)
    assert f"sent a correction to {MANAGER}" in outcome
    assert f"sent the report to {PLANT}" in outcome


@pytest.mark.integration
def test_resend_sends_again_to_everyone(home: Path) -> None:
    run = produce(home, FIRST)
    with smtp_server() as inbox:
        mail_report(run, mail(home, inbox.port, MANAGER, QUALITY))
        mail_report(run, mail(home, inbox.port, MANAGER, QUALITY), resend=True)
    assert [m[1] for m in inbox.messages] == [[MANAGER, QUALITY]] * 2
    assert not parsed(inbox.messages[1][2])["Subject"].startswith("Corrected")
    assert len(read_sends(Path(run.folder))) == 2


@pytest.mark.integration
def test_a_failed_mailing_is_not_recorded_and_the_next_run_sends(home: Path) -> None:
    run = produce(home, FIRST)
    with smtp_server() as inbox:
        with pytest.raises(MailError, match="could not send"):
            mail_report(run, mail(home, inbox.port, MANAGER, password="wrong"))
        assert run.mail.startswith("failed") and read_sends(Path(run.folder)) == []
        (listed,) = list_reports(home / "reports")
        assert listed["mailed"].startswith("failed: could not send")
        mail_report(run, mail(home, inbox.port, MANAGER))
    assert [m[1] for m in inbox.messages] == [[MANAGER]]
    assert run.mail == "sent" and [s.to for s in read_sends(Path(run.folder))] == [(MANAGER,)]


@pytest.mark.integration
def test_the_cli_sends_once_and_resends_on_request(home: Path) -> None:
    runner = CliRunner()
    day = ["report", "--day", DAY.isoformat()]
    with smtp_server() as inbox:
        environ = {"DT_HOME": str(home), **env(inbox.port, (MANAGER,))}
        sent = runner.invoke(main, [*day, "--send"], env=environ)
        skipped = runner.invoke(main, [*day, "--send"], env=environ)
        resent = runner.invoke(main, [*day, "--resend"], env=environ)
    for result in (sent, skipped, resent):
        assert result.exit_code == 0, result.output
    assert f"sent the report to {MANAGER}" in sent.output
    assert f"skipped, already sent to {MANAGER} at" in skipped.output
    assert "sent the report" not in skipped.output
    assert f"sent the report to {MANAGER}" in resent.output
    assert [m[1] for m in inbox.messages] == [[MANAGER], [MANAGER]]
    help_text = runner.invoke(main, ["report", "--help"]).output
    assert "--resend" in help_text and "already have it" in help_text


def _send(at: str, content: str, *to: str) -> Send:
    return Send(at, "html-" + content, content, to)


def test_the_plan_follows_each_recipients_newest_copy() -> None:
    history = [_send("2025-03-02T06:00:00+00:00", "a", MANAGER, QUALITY)]
    assert plan_mailing(history, "a", [MANAGER, QUALITY]).to == ()
    assert plan_mailing(history, "a", [MANAGER.upper()]).to == ()  # addresses are case-blind
    assert plan_mailing(history, "a", [MANAGER], resend=True).to == (MANAGER,)
    new = plan_mailing(history, "a", [MANAGER, PLANT])
    assert new.to == (PLANT,) and not new.correction
    history.append(_send("2025-03-02T09:00:00+00:00", "b", MANAGER))
    # quality still has version a, manager has b: a rebuild saying b again reaches quality only,
    # as a correction of the version quality has
    plan = plan_mailing(history, "b", [MANAGER, QUALITY, PLANT])
    assert plan.to == (QUALITY, PLANT) and plan.replaces == history[0]
    assert "2025-03-02 06:00 UTC" in plan.correction_note()
    assert plan.messages() == [((QUALITY,), history[0]), ((PLANT,), None)]
    # the figures went back to version a: manager's newest copy (b) is replaced
    back = plan_mailing(history, "a", [MANAGER, QUALITY])
    assert back.to == (MANAGER,) and back.replaces == history[1]


def test_the_log_survives_a_torn_line(tmp_path: Path) -> None:
    record_send(tmp_path, _send("2025-03-02T06:00:00+00:00", "a", MANAGER))
    with open(tmp_path / SENDS, "ab") as fh:
        fh.write(b'{"at": "2025-03-02T07:')  # a crash while appending
    record_send(tmp_path, _send("2025-03-02T08:00:00+00:00", "b", QUALITY))
    assert [s.content_sha256 for s in read_sends(tmp_path)] == ["a", "b"]
