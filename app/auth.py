"""Sign-In with Ethereum (EIP-4361) for the dashboard: challenges, nonces and verification.

The server issues a challenge (an EIP-4361 message with a fresh nonce, our domain and URI, the
chain it reads roles from, and a short expiry); the user signs it with ``personal_sign`` (a
browser wallet, or ``dt-platform wallet sign-in`` with a local key); :meth:`SignIn.verify`
accepts the signature once: the nonce must be one we issued for that address and not yet used,
the domain, URI and chain must be ours, the message must not have expired, and the signature must
recover to the message's address. Parsing and signature recovery are the ``siwe`` library's.

Nothing here touches Streamlit, so it is unit-tested directly.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from eth_utils import is_address, to_checksum_address

from dt_platform.trust.dev_accounts import is_dev_address

with warnings.catch_warnings():
    # abnf (siwe's grammar parser) warns about its own grammar at import; nothing we can act on
    warnings.simplefilter("ignore")
    import siwe

__all__ = ["Challenge", "NonceStore", "SessionStore", "SignIn", "SignInError", "SignedIn"]

STATEMENT = "Sign in to the dt-platform dashboard. This costs no gas and grants no approvals."
CHALLENGE_TTL = dt.timedelta(minutes=5)
SESSION_TTL = dt.timedelta(hours=8)

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SignInError(Exception):
    """A sign-in attempt was refused; the message says why in words a user can act on."""


@dataclass(frozen=True)
class Challenge:
    """What the user is asked to sign."""

    address: str
    nonce: str
    message: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class SignedIn:
    """A verified sign-in. Roles are *not* part of it: pages read them from the chain each time."""

    address: str
    chain_id: int
    signed_in_at: dt.datetime
    expires_at: dt.datetime

    def is_valid(self, now: dt.datetime) -> bool:
        return now < self.expires_at


@dataclass
class _Issued:
    address: str
    expires_at: dt.datetime


class NonceStore:
    """Nonces this server issued, each usable once and only until it expires (thread-safe).

    It lives in the dashboard server's memory: a restart forgets outstanding challenges, which
    only means a user asks for a new one.
    """

    def __init__(self, clock: Clock = _utc_now, *, max_outstanding: int = 10_000) -> None:
        self._clock = clock
        self._issued: dict[str, _Issued] = {}
        self._lock = threading.Lock()
        self._max = max_outstanding

    def issue(self, address: str, ttl: dt.timedelta) -> tuple[str, dt.datetime]:
        now = self._clock()
        with self._lock:
            self._purge(now)
            if len(self._issued) >= self._max:
                raise SignInError("too many sign-ins are in progress; try again in a few minutes")
            nonce = siwe.generate_nonce()
            while nonce in self._issued:
                nonce = siwe.generate_nonce()
            expires = now + ttl
            self._issued[nonce] = _Issued(address, expires)
            return nonce, expires

    def peek(self, nonce: str) -> _Issued | None:
        """The live nonce's record, without using it up."""
        with self._lock:
            issued = self._issued.get(nonce)
            return issued if issued and self._clock() < issued.expires_at else None

    def consume(self, nonce: str) -> bool:
        """Use the nonce up; ``False`` if it is unknown, expired or already used."""
        now = self._clock()
        with self._lock:
            issued = self._issued.pop(nonce, None)
            return issued is not None and now < issued.expires_at

    def _purge(self, now: dt.datetime) -> None:
        for nonce in [n for n, i in self._issued.items() if i.expires_at <= now]:
            del self._issued[nonce]


class SessionStore:
    """Verified sign-ins by an opaque random token, so a browser that reloads the page (a new
    Streamlit session) stays signed in through a cookie holding only the token (thread-safe).

    The token names a :class:`SignedIn` kept here, in the server's memory, until it expires or
    is closed; it carries no roles (pages read those from the chain on every run).
    """

    def __init__(self, clock: Clock = _utc_now, *, max_sessions: int = 10_000) -> None:
        self._clock = clock
        self._sessions: dict[str, SignedIn] = {}
        self._lock = threading.Lock()
        self._max = max_sessions

    def open(self, signed: SignedIn) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            for old in [t for t, s in self._sessions.items() if not s.is_valid(now)]:
                del self._sessions[old]
            if len(self._sessions) >= self._max:  # drop the session closest to its end
                del self._sessions[min(self._sessions, key=lambda t: self._sessions[t].expires_at)]
            self._sessions[token] = signed
        return token

    def get(self, token: str | None) -> SignedIn | None:
        if not token:
            return None
        with self._lock:
            signed = self._sessions.get(token)
            if signed is not None and not signed.is_valid(self._clock()):
                del self._sessions[token]
                return None
            return signed

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)


class SignIn:
    """The dashboard's side of EIP-4361, for one domain/URI and one chain."""

    def __init__(
        self,
        uri: str,
        chain_id: int,
        nonces: NonceStore | None = None,
        *,
        allow_dev_accounts: bool = False,
        clock: Clock = _utc_now,
        challenge_ttl: dt.timedelta = CHALLENGE_TTL,
        session_ttl: dt.timedelta = SESSION_TTL,
    ) -> None:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"dashboard URL {uri!r} must look like http(s)://host[:port]")
        self.uri = uri.rstrip("/")
        self.scheme = parts.scheme
        self.domain = parts.netloc
        self.chain_id = chain_id
        self.allow_dev_accounts = allow_dev_accounts
        """anvil's public dev accounts may sign in only on the local dev chain: anyone has their keys."""
        self.nonces = nonces or NonceStore(clock)
        self._clock = clock
        self.challenge_ttl = challenge_ttl
        self.session_ttl = session_ttl

    def challenge(self, address: str) -> Challenge:
        """A fresh EIP-4361 message for ``address`` to sign."""
        if not is_address(address.strip()):
            raise SignInError(
                f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)"
            )
        account = to_checksum_address(address.strip())
        self._refuse_dev_account(account)
        nonce, expires = self.nonces.issue(account, self.challenge_ttl)
        message = siwe.SiweMessage(
            scheme=self.scheme,
            domain=self.domain,
            address=account,
            statement=STATEMENT,
            uri=self.uri,
            version="1",
            chain_id=self.chain_id,
            nonce=nonce,
            issued_at=_iso(self._clock()),
            expiration_time=_iso(expires),
        )
        return Challenge(account, nonce, message.prepare_message(), expires)

    def verify(self, message: str, signature: str) -> SignedIn:
        """Accept a signed challenge once, or raise :class:`SignInError` saying why not."""
        signature = signature.strip()
        if not signature.startswith("0x"):
            signature = "0x" + signature
        try:
            parsed = siwe.SiweMessage.from_message(message.strip().replace("\r\n", "\n"))
        except Exception as exc:  # the grammar and pydantic raise many kinds; all mean "malformed"
            raise SignInError(f"this is not a valid EIP-4361 sign-in message ({exc})") from None
        issued = self.nonces.peek(parsed.nonce)
        if issued is None:
            raise SignInError(
                "this sign-in message was not issued by this dashboard, has expired or was "
                "already used: ask for a new one"
            )
        self._refuse_dev_account(parsed.address)
        if issued.address != parsed.address:
            raise SignInError("the message was issued for another address")
        if parsed.domain != self.domain or (parsed.scheme or self.scheme) != self.scheme:
            raise SignInError(
                f"the message is for {parsed.scheme or self.scheme}://{parsed.domain}, not for "
                f"{self.scheme}://{self.domain}"
            )
        if parsed.uri.rstrip("/") != self.uri:
            raise SignInError(f"the message is for {parsed.uri}, not for {self.uri}")
        if parsed.chain_id != self.chain_id:
            raise SignInError(
                f"the message is for chain {parsed.chain_id}; this dashboard reads roles on "
                f"chain {self.chain_id}"
            )
        now = self._clock()
        try:
            parsed.verify(signature, domain=self.domain, nonce=parsed.nonce, timestamp=now)
        except siwe.ExpiredMessage:
            raise SignInError("the sign-in message has expired: ask for a new one") from None
        except siwe.NotYetValidMessage:
            raise SignInError("the sign-in message is not valid yet") from None
        except siwe.VerificationError:
            raise SignInError(
                f"the signature does not belong to {parsed.address}: sign the message exactly as "
                "shown, with that account's key"
            ) from None
        if not self.nonces.consume(parsed.nonce):
            raise SignInError("this sign-in message was already used: ask for a new one")
        return SignedIn(parsed.address, parsed.chain_id, now, now + self.session_ttl)

    def _refuse_dev_account(self, address: str) -> None:
        if not self.allow_dev_accounts and is_dev_address(address):
            raise SignInError(
                f"{address} is one of anvil's public dev accounts, whose key anyone has; it can "
                f"sign in only on the local dev chain, not on chain {self.chain_id}"
            )
