"""Send the report by e-mail: the HTML as the body (with a plain-text part for mail readers
without HTML), the PDF attached, over SMTP (``DT_SMTP_URL``).

``smtps://host[:465]`` speaks TLS from the first byte; ``smtp://host[:25]`` upgrades with
STARTTLS whenever the server offers it, and refuses to send a password over a connection that
stayed in clear text unless the server is on this machine (loopback)."""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from dt_platform.config import Settings

MAX_MESSAGE_BYTES = 20 * 1024 * 1024
TIMEOUT_S = 30.0


class MailError(RuntimeError):
    """The report could not be sent, and why."""


@dataclass(frozen=True)
class MailSettings:
    url: str
    user: str | None
    password: str | None
    sender: str
    recipients: tuple[str, ...]

    def __repr__(self) -> str:  # never the password
        return f"MailSettings({self.url!r}, user={self.user!r}, to={list(self.recipients)})"


def recipients_of(text: str | None) -> tuple[str, ...]:
    return tuple(a.strip() for a in (text or "").split(",") if a.strip())


def mail_settings(settings: Settings) -> MailSettings | None:
    """The mail set-up, or ``None`` when no server or no recipient is configured."""
    recipients = recipients_of(settings.report_to)
    if not settings.smtp_url or not recipients:
        return None
    return MailSettings(
        settings.smtp_url,
        settings.smtp_user,
        settings.smtp_password,
        settings.report_from,
        recipients,
    )


def report_message(
    sender: str,
    recipients: Sequence[str],
    subject: str,
    html: str,
    pdf: bytes | None,
    pdf_name: str,
    plain: str,
) -> EmailMessage:
    """multipart/mixed: (text/plain | text/html) alternatives, then the PDF, if any."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(plain)
    message.add_alternative(html, subtype="html")
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    size = len(message.as_bytes())
    if size > MAX_MESSAGE_BYTES:
        raise MailError(f"the message is {size:,} bytes, more than {MAX_MESSAGE_BYTES:,}")
    return message


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send_message(
    mail: MailSettings, message: EmailMessage, *, timeout_s: float = TIMEOUT_S
) -> list[str]:
    """Deliver ``message``; returns the recipients the server refused (the others got it).
    Raises :class:`MailError` with the reason when nobody got it."""
    url = urllib.parse.urlsplit(mail.url)
    host = url.hostname or ""
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    context = ssl.create_default_context()
    try:
        if secure:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout_s, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout_s)
        with client:
            client.ehlo()
            if not secure and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                secure = True
            if mail.user:
                if not secure and not _loopback(host):
                    raise MailError(
                        f"{host}:{port} offers no STARTTLS: the password would travel in clear "
                        "text; use smtps:// or a server that offers STARTTLS"
                    )
                client.login(mail.user, mail.password or "")
            refused = client.send_message(message, mail.sender, list(mail.recipients))
    except MailError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"could not send the report through {host}:{port}: {exc}") from exc
    return sorted(refused)
