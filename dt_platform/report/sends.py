"""Which version of a day's report reached whom, and when: ``sent.jsonl`` in the day's folder,
one JSON line per successful mailing, appended and flushed to disk (``fsync``) before the
mailing counts as done. ``report.json`` is rewritten by every rebuild; this log is not.

Mail follows it (:func:`plan_mailing`): a recipient whose newest copy says the same
(``content_sha256``: the HTML apart from its build time and covering day) gets nothing again;
a recipient whose newest copy says something else gets a *correction* that names the version it
replaces; a recipient not in the log gets the report, in a message of its own when others get
a correction in the same run (it never had what is corrected). A failed mailing is not recorded,
so the next run tries again. Mailings of one day hold a lock on the log, so two runs at once (a retry
beside a manual send) cannot both send.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dt_platform.report.content import moment
from dt_platform.report.mail import MailError

SENDS = "sent.jsonl"
MAX_LOG_BYTES = 1024 * 1024
CORRECTED = "Corrected: "


class SendsLogError(MailError):
    """The sends log cannot be read: whether the report was sent is unknown, so it is not."""


@dataclass(frozen=True)
class Send:
    """One successful mailing: the HTML's ``sha256`` as sent, what it says (``content_sha256``),
    the recipients the server accepted, and, for a correction, the HTML it replaced."""

    at: str
    sha256: str
    content_sha256: str
    to: tuple[str, ...]
    replaces: str | None = None

    @property
    def when(self) -> str:
        return moment(dt.datetime.fromisoformat(self.at))


@dataclass(frozen=True)
class Mailing:
    """What to send now: ``to``, who already has this version (``already``: address to the
    mailing that brought it), and the earlier version a correction replaces; of ``to``, those
    whose newest copy is an earlier version (``stale``, in the order of ``to``) get the
    correction, which replaces the newest of their copies."""

    to: tuple[str, ...]
    already: dict[str, Send]
    replaces: Send | None
    stale: tuple[str, ...] = ()

    @property
    def correction(self) -> bool:
        return self.replaces is not None

    def messages(self) -> list[tuple[tuple[str, ...], Send | None]]:
        """One message per group, as ``(recipients, the version it replaces or None)``: the
        correction to the stale copies first, then the report to everyone else in ``to``."""
        rest = tuple(r for r in self.to if r not in self.stale)
        groups = [(self.stale, self.replaces)] if self.stale else []
        return groups + ([(rest, None)] if rest else [])

    def correction_note(self) -> str | None:
        if self.replaces is None:
            return None
        return (
            f"This is a corrected report: it replaces the version sent at {self.replaces.when} "
            f"(HTML sha256 {self.replaces.sha256[:12]}…)."
        )


def _parse(line: str) -> Send | None:
    try:
        raw = json.loads(line)
        return Send(
            at=str(raw["at"]),
            sha256=str(raw["sha256"]),
            content_sha256=str(raw["content_sha256"]),
            to=tuple(str(a) for a in raw["to"]),
            replaces=raw.get("replaces"),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a line torn by a crash while appending: that mailing was never confirmed


def read_sends(folder: Path) -> list[Send]:
    """The day's mailings, oldest first (none when the log does not exist)."""
    path = Path(folder) / SENDS
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_LOG_BYTES + 1)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SendsLogError(f"cannot read {path}: {exc}") from exc
    if len(data) > MAX_LOG_BYTES:
        raise SendsLogError(f"{path} is larger than {MAX_LOG_BYTES:,} bytes; not a sends log")
    found = (_parse(line) for line in data.decode("utf-8", "replace").splitlines())
    return [s for s in found if s is not None]


def record_send(folder: Path, send: Send) -> None:
    """Append ``send`` to the day's log and flush it to disk."""
    path = Path(folder) / SENDS
    line = json.dumps(asdict(send), sort_keys=True) + "\n"
    new = not path.exists()
    torn = not new and path.stat().st_size > 0 and not _ends_with_newline(path)
    with open(path, "ab") as fh:
        if torn:  # close a line torn by an earlier crash
            fh.write(b"\n")
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    if new:  # the file's name in its folder must survive a power cut too
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


@contextlib.contextmanager
def sends_lock(folder: Path) -> Iterator[None]:
    """Hold the day's mailing lock (waits for another run's mailing to finish)."""
    with open(Path(folder) / f".{SENDS}.lock", "ab") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def plan_mailing(
    history: Iterable[Send], content_sha256: str, recipients: Iterable[str], *, resend: bool = False
) -> Mailing:
    """Who gets the report whose content is ``content_sha256`` (see the module doc); ``resend``
    sends to every recipient anyway."""
    newest: dict[str, Send] = {}
    for send in history:
        for address in send.to:
            newest[address.lower()] = send
    recipients = tuple(dict.fromkeys(recipients))
    had = {r: newest[r.lower()] for r in recipients if r.lower() in newest}
    already = {r: s for r, s in had.items() if s.content_sha256 == content_sha256}
    to = recipients if resend else tuple(r for r in recipients if r not in already)
    stale = [r for r in to if r in had and r not in already]
    replaces = max((had[r] for r in stale), key=lambda s: s.at) if stale else None
    return Mailing(to, already, replaces, tuple(stale))


def already_sent_text(already: dict[str, str]) -> str:
    """``already sent to a, b at <time>; c at <time>`` from address → ISO time."""
    by_time: dict[str, list[str]] = {}
    for address, at in already.items():
        by_time.setdefault(at, []).append(address)
    parts = [
        f"{', '.join(addresses)} at {moment(dt.datetime.fromisoformat(at))}"
        for at, addresses in sorted(by_time.items())
    ]
    return "already sent to " + "; ".join(parts)


def mail_history(folder: Path) -> list[dict[str, Any]]:
    """The day's mailings for display, oldest first: time, recipients, whether a correction."""
    try:
        sends = read_sends(folder)
    except SendsLogError:
        return []
    return [
        {"at": s.when, "to": list(s.to), "sha256": s.sha256, "correction": s.replaces is not None}
        for s in sends
    ]


def describe_mail(history: list[dict[str, Any]], last_attempt: str) -> str:
    """One line for a table: ``sent to a, b at T; correction to a, b at T2``, then the last
    attempt's error if it failed; the last attempt's outcome when nothing was ever sent."""
    sent = "; ".join(
        f"{'correction' if h['correction'] else 'sent'} to {', '.join(h['to'])} at {h['at']}"
        for h in history
    )
    if not sent:
        return last_attempt
    failed = last_attempt.startswith("failed")
    return sent + (f"; last attempt {last_attempt}" if failed else "")
