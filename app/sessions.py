"""Signed-in sessions, kept server-side in SQLite under ``$DT_HOME/dashboard/`` so that they
survive a dashboard restart, end when they expire and end at once when revoked (sign-out).

A session is opened when a sign-in verifies, and is named by a random id that never leaves
the server. The browser's cookie token is made only when the browser redeems the session's
one-time *handoff* code at the dashboard's own HTTP route (:mod:`app.web`), whose answer sets
the token as an ``HttpOnly`` cookie: so no page script ever sees the token, and the Streamlit
session (a websocket) never carries it. A handoff code lasts a minute, works once and only for
the client that signed in. Tokens and codes are stored as SHA-256 hashes: a copy of the
database opens no session.

Bounds, so that a flood of throwaway keys cannot push real users out: an address keeps at most
``per_address`` live sessions (a new sign-in ends that address's oldest, and only the key's
holder can sign in as the address); a client may hold at most ``per_client`` live sessions and
the store ``max_sessions`` in all, beyond which new sign-ins are refused, never someone else's
session ended.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.auth import SignedIn, SignInError

__all__ = ["HANDOFF_TTL", "Opened", "Redeemed", "SessionLimit", "SessionStore", "sessions_path"]

HANDOFF_TTL = dt.timedelta(seconds=60)

Clock = Callable[[], dt.datetime]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT UNIQUE,
    handoff_hash TEXT UNIQUE,
    handoff_expires REAL,
    address TEXT NOT NULL,
    chain_id INTEGER NOT NULL,
    client TEXT NOT NULL,
    signed_in_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_address ON sessions (address, signed_in_at);
CREATE INDEX IF NOT EXISTS sessions_by_client ON sessions (client);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
"""


def sessions_path(home: Path) -> Path:
    """Where the dashboard keeps its sessions for the state directory ``home`` (``DT_HOME``)."""
    return home / "dashboard" / "sessions.sqlite"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _moment(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


class SessionLimit(SignInError):
    """A sign-in verified, but its session would pass a bound: it is refused, nothing is evicted."""


@dataclass(frozen=True)
class Opened:
    """A new session: its server-side id, and the one-time code the browser redeems for its cookie."""

    session_id: str
    handoff: str


@dataclass(frozen=True)
class Redeemed:
    """The cookie token a handoff code was exchanged for, and until when the session lasts."""

    token: str
    expires_at: dt.datetime


class SessionStore:
    """The dashboard's sessions in one SQLite file (thread-safe; several stores, in one process
    or several, may share the file)."""

    def __init__(
        self,
        path: Path,
        clock: Clock = _utc_now,
        *,
        per_address: int = 10,
        per_client: int = 50,
        max_sessions: int = 100_000,
        handoff_ttl: dt.timedelta = HANDOFF_TTL,
    ) -> None:
        self.path = path
        self._clock = clock
        self.per_address, self.per_client, self.max_sessions = per_address, per_client, max_sessions
        self.handoff_ttl = handoff_ttl
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():  # the hashes are not secrets, but nobody else needs to read them
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._con = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._con.execute("PRAGMA journal_mode=WAL")
            # with WAL, NORMAL survives a crash of the process; a power cut may lose the last
            # sign-ins (users sign in again), which do not wait for an fsync each. Revocations
            # are written with FULL (see _tx): a lost sign-out would revive a token.
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if durable:
                self._con.execute("PRAGMA synchronous=FULL")
            try:
                self._con.execute("BEGIN IMMEDIATE")
                try:
                    yield self._con
                except BaseException:
                    self._con.execute("ROLLBACK")
                    raise
                self._con.execute("COMMIT")
            finally:
                if durable:
                    self._con.execute("PRAGMA synchronous=NORMAL")

    def open(self, signed: SignedIn, client: str) -> Opened:
        """Open a session for a verified sign-in from ``client``, or raise :class:`SessionLimit`."""
        now = self._clock().timestamp()
        session_id, handoff = secrets.token_urlsafe(18), secrets.token_urlsafe(32)
        with self._tx() as con:
            con.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            (held,) = con.execute(
                "SELECT count(*) FROM sessions WHERE client = ?", (client,)
            ).fetchone()
            if held >= self.per_client:
                raise SessionLimit(
                    f"{held} sessions are already open from your network, the most the "
                    "dashboard allows: sign out of one, or wait until one ends"
                )
            (total,) = con.execute("SELECT count(*) FROM sessions").fetchone()
            if total >= self.max_sessions:
                raise SessionLimit("the dashboard holds all the sessions it may: try again later")
            own = [
                row[0]
                for row in con.execute(
                    "SELECT id FROM sessions WHERE address = ? ORDER BY signed_in_at, rowid",
                    (signed.address,),
                )
            ]
            for old in own[: max(0, len(own) - self.per_address + 1)]:
                con.execute("DELETE FROM sessions WHERE id = ?", (old,))
            con.execute(
                "INSERT INTO sessions (id, handoff_hash, handoff_expires, address, chain_id, "
                "client, signed_in_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    _hash(handoff),
                    now + self.handoff_ttl.total_seconds(),
                    signed.address,
                    signed.chain_id,
                    client,
                    signed.signed_in_at.timestamp(),
                    signed.expires_at.timestamp(),
                ),
            )
        return Opened(session_id, handoff)

    def redeem(self, handoff: str, client: str) -> Redeemed | None:
        """Exchange a handoff code for the session's cookie token: once, within its minute, and
        only for the client that signed in; ``None`` otherwise."""
        if not handoff:
            return None
        now = self._clock().timestamp()
        token = secrets.token_urlsafe(32)
        with self._tx() as con:
            row = con.execute(
                "SELECT id, client, handoff_expires, expires_at FROM sessions "
                "WHERE handoff_hash = ?",
                (_hash(handoff),),
            ).fetchone()
            if row is None or row[1] != client or row[2] <= now or row[3] <= now:
                return None
            con.execute(
                "UPDATE sessions SET token_hash = ?, handoff_hash = NULL, handoff_expires = NULL "
                "WHERE id = ?",
                (_hash(token), row[0]),
            )
        return Redeemed(token, _moment(row[3]))

    def _signed(self, where: str, value: str) -> tuple[str, SignedIn] | None:
        with self._lock:
            row = self._con.execute(
                "SELECT id, address, chain_id, signed_in_at, expires_at FROM sessions "
                f"WHERE {where} = ? AND expires_at > ?",
                (value, self._clock().timestamp()),
            ).fetchone()
        if row is None:
            return None
        return row[0], SignedIn(row[1], row[2], _moment(row[3]), _moment(row[4]))

    def restore(self, token: str | None) -> tuple[str, SignedIn] | None:
        """The live session a cookie token names (its id and sign-in), or ``None``."""
        if not isinstance(token, str) or not token:
            return None
        return self._signed("token_hash", _hash(token))

    def live(self, session_id: str | None) -> SignedIn | None:
        """The session's sign-in while it is neither expired nor revoked."""
        found = self._signed("id", session_id) if session_id else None
        return found[1] if found else None

    def revoke(self, session_id: str | None) -> None:
        """End a session (sign-out): its token restores nothing from now on."""
        with self._tx(durable=True) as con:
            con.execute("DELETE FROM sessions WHERE id = ?", (session_id or "",))

    def revoke_address(self, address: str) -> int:
        """End every session of ``address`` (sign-out everywhere: other browsers and tabs
        included); returns how many were live."""
        if not isinstance(address, str) or not address:
            return 0
        now = self._clock().timestamp()
        with self._tx(durable=True) as con:
            (live,) = con.execute(
                "SELECT count(*) FROM sessions WHERE address = ? AND expires_at > ?",
                (address, now),
            ).fetchone()
            con.execute("DELETE FROM sessions WHERE address = ?", (address,))
        return int(live)

    def revoke_token(self, token: str | None) -> None:
        """End the session a cookie token names, if any."""
        if isinstance(token, str) and token:
            with self._tx(durable=True) as con:
                con.execute("DELETE FROM sessions WHERE token_hash = ?", (_hash(token),))

    def count(self, *, client: str | None = None, address: str | None = None) -> int:
        """Live sessions, of one client or address, or in all."""
        clauses, args = ["expires_at > ?"], [self._clock().timestamp()]
        for column, value in (("client", client), ("address", address)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        with self._lock:
            query = "SELECT count(*) FROM sessions WHERE " + " AND ".join(clauses)
            return self._con.execute(query, args).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._con.close()
