"""Alarm notifications by webhook: an outbox in the twin store and a deliverer with retries.

Every alarm event queues one outbox row per configured URL (``DT_WEBHOOK_URLS``) in the same
transaction as the event (:func:`enqueue`). :func:`deliver_due` POSTs the rows that are due:

- the body is the row's JSON bytes, fixed when it was queued (the same bytes on every attempt);
- ``X-DT-Signature: sha256=<hex>`` is the HMAC-SHA256 of exactly those bytes with
  ``DT_WEBHOOK_SECRET`` (the secret is never stored; nothing is sent unsigned);
- ``X-DT-Idempotency-Key`` is the event's ``event_key``: the same on every retry, so a receiver
  that saw it already answers 2xx and does nothing;
- ``X-DT-Timestamp`` is the attempt's time (Unix seconds), ``X-DT-Event`` e.g. ``alarm.opened``,
  ``X-DT-Delivery-Attempt`` counts from 1.

A 2xx marks the row delivered. A timeout, a connection error, 408, 429 or 5xx is retried after
an exponential backoff with jitter (:class:`RetryPolicy`; ``Retry-After`` is honoured up to the
cap); any other status (4xx, an unfollowed 3xx) is final. After ``max_attempts`` the row is
``dead`` with its last error kept. ``next_attempt_at`` is stored, so a restart resumes the
schedule; a row is claimed (its attempt counted, its next attempt pushed past the timeout)
before it is sent, so two deliverers never send it at once, and a crash mid-send means one more
delivery later, never none: delivery is *at least once*, hence the idempotency key. Events of one
alarm may arrive out of order after retries; ``event.sequence`` orders them.

A delivered row is deleted :data:`DELIVERED_KEEP_DAYS` after its delivery, so the outbox does not
grow with every alarm the line ever raised; the alarm's events stay in the alarm store, and an
event is queued once, with the event itself, so an old key is never queued again. A ``dead`` row
stays until someone looks at it: it is the record of a notification that never arrived.

**Verifying on the receiving side** (:func:`verify_webhook` does exactly this)::

    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-DT-Signature"])

over the raw request body as received (before any JSON parsing or re-encoding); reject the
request when it does not match, then skip it if its ``X-DT-Idempotency-Key`` was seen before.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any

from dt_platform.twin.alarm_store import Alarm, AlarmEvent, iso, parse_iso
from dt_platform.twin.db import ensure, transaction
from dt_platform.twin.webhook_http import HttpPost, HttpResponse, urllib_post

DDL = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    outbox_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key       TEXT NOT NULL,     -- X-DT-Idempotency-Key
    event_type      TEXT NOT NULL,     -- X-DT-Event, e.g. alarm.opened
    url             TEXT NOT NULL,
    body            BLOB NOT NULL,     -- the exact bytes sent and signed
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_attempt_at TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TEXT,
    UNIQUE (event_key, url)
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (status, next_attempt_at);
"""

DELIVERED_KEEP_DAYS = 30
"""How long a delivered row is kept (its body, status and attempts) for someone to look at."""
MAX_URL_CHARS = 2_048
MAX_ERROR_CHARS = 1_000
RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "dt-platform-webhooks/1"


class WebhookError(ValueError):
    """A webhook configuration that cannot be used, and why."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a notification is tried.

    Attempt n (1-based) that fails is retried after a delay drawn uniformly from
    [d/2, d] with d = min(``cap_s``, ``base_s`` · 2^(n−1)) ("equal jitter"): receivers that
    failed together do not come back together, and while d doubles, delay n+1 >= d(n+1)/2 =
    d(n) >= delay n: the schedule never shrinks; at the cap it stays within [cap/2, cap]. The
    defaults try 8 times within about 30 min to an hour.
    """

    max_attempts: int = 8
    base_s: float = 30.0
    cap_s: float = 3_600.0
    timeout_s: float = 10.0
    max_response_bytes: int = 65_536

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise WebhookError(f"max_attempts must be 1-100, got {self.max_attempts}")
        if not 0 < self.base_s <= self.cap_s:
            raise WebhookError(f"need 0 < base_s <= cap_s, got {self.base_s}, {self.cap_s}")
        if not 0 < self.timeout_s <= 300 or self.max_response_bytes < 0:
            raise WebhookError("timeout_s must be in (0, 300] s and max_response_bytes >= 0")

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        d = min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        return d / 2.0 + rng.uniform(0.0, d / 2.0)

    @property
    def lease_s(self) -> float:
        """How long a claimed row is hidden from other deliverers while it is being sent."""
        return self.timeout_s * 2.0 + 60.0


def webhook_targets(text: str | None) -> list[str]:
    """The URLs of ``DT_WEBHOOK_URLS`` (comma-separated; blanks ignored)."""
    urls = [u.strip() for u in (text or "").split(",") if u.strip()]
    for url in urls:
        if not url.startswith(("http://", "https://")) or len(url) > MAX_URL_CHARS:
            raise WebhookError(f"not an http(s) URL of at most {MAX_URL_CHARS} characters: {url}")
    return list(dict.fromkeys(urls))


def open_outbox(con: sqlite3.Connection) -> sqlite3.Connection:
    ensure(con, DDL)
    return con


def event_body(event: AlarmEvent, alarm: Alarm) -> bytes:
    """The notification of ``event``: compact, key-sorted JSON (UTF-8)."""
    payload = {
        "type": f"alarm.{event.type}",
        "event": {**event.to_dict(), "sequence": event.event_id},
        "alarm": alarm.to_dict(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return text.encode()


def enqueue(
    con: sqlite3.Connection, event: AlarmEvent, alarm: Alarm, urls: Sequence[str], now: datetime
) -> int:
    """Queue ``event`` for every URL (inside the caller's transaction); returns the rows added."""
    if not urls:
        return 0
    body = event_body(event, alarm)
    rows = [(event.event_key, f"alarm.{event.type}", url, body, iso(now), iso(now)) for url in urls]
    before = con.total_changes
    con.executemany(
        "INSERT OR IGNORE INTO webhook_outbox (event_key, event_type, url, body, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return con.total_changes - before


def sign(body: bytes, secret: str) -> str:
    """The ``X-DT-Signature`` value of ``body``: ``sha256=`` + hex HMAC-SHA256 with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_webhook(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``header`` (``X-DT-Signature``) signs the raw ``body`` with ``secret``; in
    constant time. For receivers: see the module doc."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    event_key: str
    event_type: str
    url: str
    body: bytes
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        int(row["outbox_id"]),
        row["event_key"],
        row["event_type"],
        row["url"],
        bytes(row["body"]),
        row["status"],
        int(row["attempts"]),
        parse_iso(row["next_attempt_at"]),
        row["last_status"],
        row["last_error"],
        parse_iso(row["delivered_at"]) if row["delivered_at"] else None,
    )


def outbox(con: sqlite3.Connection, status: str | None = None) -> list[OutboxItem]:
    open_outbox(con)
    sql, params = "SELECT * FROM webhook_outbox", ()
    if status is not None:
        sql, params = sql + " WHERE status = ?", (status,)
    return [_item(r) for r in con.execute(sql + " ORDER BY outbox_id", params)]


@dataclass
class Attempt:
    outbox_id: int
    attempt: int
    outcome: str
    """``delivered``, ``retry`` or ``dead``."""
    status: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass
class DeliveryReport:
    attempts: list[Attempt] = field(default_factory=list)
    pruned: int = 0
    """Delivered rows deleted after their retention."""

    def count(self, outcome: str) -> int:
        return sum(a.outcome == outcome for a in self.attempts)


def _claim(con: sqlite3.Connection, now: datetime, limit: int, lease_s: float) -> list[sqlite3.Row]:
    with transaction(con):
        rows = con.execute(
            "SELECT * FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, outbox_id LIMIT ?",
            (iso(now), limit),
        ).fetchall()
        con.executemany(
            "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?, "
            "last_attempt_at = ? WHERE outbox_id = ?",
            [(iso(now + timedelta(seconds=lease_s)), iso(now), r["outbox_id"]) for r in rows],
        )
    return rows


def _retry_after(resp: HttpResponse, now: datetime) -> float | None:
    value = {k.lower(): v for k, v in resp.headers.items()}.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return (email.utils.parsedate_to_datetime(value) - now).total_seconds()
    except (TypeError, ValueError):
        return None


def _send(
    row: sqlite3.Row, post: HttpPost, secret: str, now: datetime, policy: RetryPolicy
) -> tuple[HttpResponse | None, str | None]:
    body = bytes(row["body"])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-DT-Signature": sign(body, secret),
        "X-DT-Idempotency-Key": row["event_key"],
        "X-DT-Timestamp": str(int(now.timestamp())),
        "X-DT-Event": row["event_type"],
        "X-DT-Delivery-Attempt": str(int(row["attempts"]) + 1),
    }
    try:
        return post(row["url"], body, headers, policy.timeout_s, policy.max_response_bytes), None
    except (OSError, HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def _outcome(resp: HttpResponse | None, error: str | None, attempt: int, policy: RetryPolicy):
    if resp is not None and 200 <= resp.status < 300:
        return "delivered", None
    if resp is not None:
        text = resp.body[:200].decode("utf-8", "replace")
        error = f"HTTP {resp.status}: {text}" if text else f"HTTP {resp.status}"
        if 300 <= resp.status < 400:
            location = resp.headers.get("Location") or resp.headers.get("location")
            error = f"HTTP {resp.status} redirect to {location} not followed: configure that URL"
        retryable = resp.status >= 500 or resp.status in RETRY_STATUSES
        if not retryable:
            return "dead", error[:MAX_ERROR_CHARS]
    outcome = "retry" if attempt < policy.max_attempts else "dead"
    return outcome, (error or "no response")[:MAX_ERROR_CHARS]


def deliver_due(
    con: sqlite3.Connection,
    now: datetime,
    *,
    secret: str | None,
    http: HttpPost = urllib_post,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    limit: int = 100,
    budget_s: float | None = None,
    keep_delivered_days: float = DELIVERED_KEEP_DAYS,
) -> DeliveryReport:
    """Send every outbox row due at ``now`` (at most ``limit``; stop claiming more after
    ``budget_s`` seconds of sending) and record each outcome; then delete the rows delivered
    more than ``keep_delivered_days`` before ``now`` (``pruned``). See the module doc."""
    if not secret:
        raise WebhookError("DT_WEBHOOK_SECRET is not set: webhooks are never sent unsigned")
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    open_outbox(con)
    report = DeliveryReport()
    started = time.monotonic()
    for row in _claim(con, now, limit, policy.lease_s):
        if budget_s is not None and time.monotonic() - started > budget_s:
            _release(con, row, now)
            continue
        attempt = int(row["attempts"]) + 1
        resp, error = _send(row, http, secret, now, policy)
        outcome, error = _outcome(resp, error, attempt, policy)
        result = Attempt(int(row["outbox_id"]), attempt, outcome, resp and resp.status, error)
        if outcome == "retry":
            delay = policy.delay_s(attempt, rng)
            hint = _retry_after(resp, now) if resp is not None else None
            if hint is not None:
                delay = max(delay, min(hint, policy.cap_s))
            result.next_attempt_at = now + timedelta(seconds=delay)
        _finish(con, result, now)
        report.attempts.append(result)
    report.pruned = _prune_delivered(con, now - timedelta(days=keep_delivered_days))
    return report


def _prune_delivered(con: sqlite3.Connection, before: datetime) -> int:
    """Delete the rows delivered before ``before``; returns how many."""
    with transaction(con):
        cur = con.execute(
            "DELETE FROM webhook_outbox WHERE status = 'delivered' AND delivered_at < ?",
            (iso(before),),
        )
    return cur.rowcount


def _release(con: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> None:
    """Give back a claimed row that was not sent (out of time): due now, attempt not counted."""
    con.execute(
        "UPDATE webhook_outbox SET attempts = attempts - 1, next_attempt_at = ? "
        "WHERE outbox_id = ?",
        (iso(now), row["outbox_id"]),
    )


def _finish(con: sqlite3.Connection, a: Attempt, now: datetime) -> None:
    fields: dict[str, Any] = {"last_status": a.status, "last_error": a.error}
    if a.outcome == "delivered":
        fields |= {"status": "delivered", "delivered_at": iso(now)}
    elif a.outcome == "dead":
        fields |= {"status": "dead"}
    else:
        fields |= {"next_attempt_at": iso(a.next_attempt_at)}
    sets = ", ".join(f"{k} = ?" for k in fields)
    con.execute(
        f"UPDATE webhook_outbox SET {sets} WHERE outbox_id = ?", [*fields.values(), a.outbox_id]
    )
