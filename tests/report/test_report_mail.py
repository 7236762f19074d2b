"""The report by e-mail through a real local SMTP server: the HTML as the body, the PDF
attached, both the bytes that were written and published."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import pytest

from dt_platform.config import load_settings
from dt_platform.report import MailError, mail_report, mail_settings, produce_report
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.warehouse import Warehouse
from tests.report.report_fixtures import DAY, END, build_twin_store, build_warehouse
from tests.report.smtp_server import PASSWORD, USER, smtp_server

pytestmark = [
    pytest.mark.integration,
    # the test server takes a password without TLS: on loopback only, as the client allows
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("report_mail")
    with Warehouse(home / "warehouse.duckdb").write() as con:
        build_warehouse(con)
        build_twin_store(home / "twin.sqlite")
        run = produce_report(
            con, home / "twin.sqlite", EmbeddedIpfs(home / "ipfs"), DAY, home / "reports",
            now=END + dt.timedelta(hours=1),
        )  # fmt: skip
    return home, run


def _settings(home: Path, port: int, password: str = PASSWORD):
    return load_settings(
        home,
        environ={
            "DT_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "DT_SMTP_USER": USER,
            "DT_SMTP_PASSWORD": password,
            "DT_REPORT_FROM": "twin@plant.example.org",
            "DT_REPORT_TO": "manager@plant.example.org, quality@plant.example.org",
        },
    )


def test_the_report_arrives_with_the_html_body_and_the_pdf_attached(produced) -> None:
    home, run = produced
    assert run.pdf_error is None, run.pdf_error
    with smtp_server() as inbox:
        mail = mail_settings(_settings(home, inbox.port))
        assert mail is not None and PASSWORD not in repr(mail)
        mail_report(run, mail)
    assert len(inbox.messages) == 1
    sender, recipients, raw = inbox.messages[0]
    assert sender == "twin@plant.example.org"
    assert recipients == ["manager@plant.example.org", "quality@plant.example.org"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"].strip() == run.headline and str(DAY) in message["Subject"]
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")  # SMTP sends CRLF
    assert html == Path(run.file("html").path).read_text(encoding="utf-8")
    assert "text/plain" in {p.get_content_type() for p in message.walk()}
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"dt-platform-report-{DAY}.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF-") and pdf == Path(run.file("pdf").path).read_bytes()
    assert run.mail == "sent" and run.mailed_to == list(mail.recipients)
    assert '"mail": "sent"' in (Path(run.folder) / "report.json").read_text()


def test_a_refused_login_or_a_missing_server_is_an_error_with_its_reason(produced) -> None:
    home, run = produced  # maybe mailed already by the test above: resend, so it tries
    with smtp_server() as inbox:
        with pytest.raises(MailError, match=r"could not send the report through 127\.0\.0\.1"):
            mail_report(
                run, mail_settings(_settings(home, inbox.port, password="wrong")), resend=True
            )
        assert inbox.messages == []
        port = inbox.port
    with pytest.raises(MailError, match=rf"127\.0\.0\.1:{port}"):
        mail_report(run, mail_settings(_settings(home, port)), resend=True)
    assert "failed" in (Path(run.folder) / "report.json").read_text()


def test_no_mail_without_server_and_recipients(tmp_path: Path) -> None:
    assert mail_settings(load_settings(tmp_path, environ={})) is None
    only_server = load_settings(tmp_path, environ={"DT_SMTP_URL": "smtps://mail.example.org"})
    assert mail_settings(only_server) is None
