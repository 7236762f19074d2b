"""Sign-In with Ethereum (EIP-4361) for the dashboard: challenges, nonces and verification.

The server issues a challenge (an EIP-4361 message with a fresh nonce, our domain and URI, the
chain it reads roles from, and a short expiry); the user signs it with ``personal_sign`` (a
browser wallet, or ``dt-platform wallet sign-in`` with a local key); :meth:`SignIn.verify`
accepts the signature once: the nonce must be one we issued for that address and not yet used,
the domain, URI and chain must be ours, the message must be, line for line, the one we issued,
it must not have expired, and the signature must recover to the message's address. Parsing and
signature recovery are the ``siwe`` library's. Challenges are bounded per client and per address
(:class:`NonceStore`); verified sign-ins become sessions in :mod:`app.sessions`.

Nothing here touches Streamlit, so it is unit-tested directly.
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from eth_utils import is_address, to_checksum_address

from app.limits import LOCAL, RateLimit
from dt_platform.trust.dev_accounts import is_dev_address

with warnings.catch_warnings():
    # abnf (siwe's grammar parser) warns about its own grammar at import; nothing we can act on
    warnings.simplefilter("ignore")
    import siwe

__all__ = ["Challenge", "Issued", "NonceStore", "SignIn", "SignInError", "SignedIn"]

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


@dataclass(frozen=True)
class Issued:
    """A challenge this server issued: the exact message, for whom and from which client."""

    nonce: str
    address: str
    client: str
    message: str
    expires_at: dt.datetime


class NonceStore:
    """Nonces this server issued, each usable once and only until it expires (thread-safe).

    It lives in the dashboard server's memory: a restart forgets outstanding challenges, which
    only means a user asks for a new one. Anyone may ask for a challenge for any address, so
    the bounds are built so that a flood costs the flooding client only:

    - a client may ask ``burst`` challenges at once, then one every ``every`` (refused beyond);
    - a client holds at most ``per_client`` outstanding challenges, and at most
      ``per_address`` for one address: a new one replaces that client's own oldest, never
      another client's;
    - the whole store holds at most ``max_outstanding``: when full, the challenge that goes is
      the oldest of the client holding the most, so a client with one pending challenge keeps
      it as long as any other client holds more (only a flood from more distinct clients than
      the bound can reach it).

    There is deliberately no bound on one address's challenges across clients: anyone can ask
    for an address's challenges, so such a bound would let a few clients lock that address out.
    """

    def __init__(
        self,
        clock: Clock = _utc_now,
        *,
        per_client: int = 8,
        per_address: int = 3,
        max_outstanding: int = 20_000,
        burst: int = 10,
        every: dt.timedelta = dt.timedelta(seconds=6),
    ) -> None:
        self._clock = clock
        self._issued: dict[str, Issued] = {}  # insertion order is age
        self._by_client: dict[str, list[str]] = {}
        self._by_pair: dict[tuple[str, str], list[str]] = {}  # (client, address)
        self._lock = threading.Lock()
        self._rate = RateLimit(burst, every, clock)
        self.per_client, self.per_address, self.max_outstanding = (
            per_client,
            per_address,
            max_outstanding,
        )

    def issue(
        self,
        address: str,
        ttl: dt.timedelta,
        *,
        client: str = LOCAL,
        render: Callable[[str, dt.datetime], str] | None = None,
    ) -> Issued:
        """A fresh nonce for ``address``, asked by ``client``; ``render(nonce, expires)`` builds
        the message that must come back signed (kept to compare with what is signed)."""
        if not self._rate.allow(client):
            raise SignInError(
                "too many sign-in requests from your network: wait a minute and try again"
            )
        now = self._clock()
        with self._lock:
            self._purge(now)
            for_address = self._by_pair.get((client, address), [])
            if len(for_address) >= self.per_address:
                self._drop(for_address[0])
            mine = self._by_client.get(client, [])
            if len(mine) >= self.per_client:
                self._drop(mine[0])
            if len(self._issued) >= self.max_outstanding:
                owner = max(self._by_client, key=lambda c: len(self._by_client[c]) + (c == client))
                self._drop(self._by_client[owner][0])
            nonce = siwe.generate_nonce()
            while nonce in self._issued:
                nonce = siwe.generate_nonce()
            expires = now + ttl
            message = render(nonce, expires) if render else ""
            issued = Issued(nonce, address, client, message, expires)
            self._issued[nonce] = issued
            self._by_client.setdefault(client, []).append(nonce)
            self._by_pair.setdefault((client, address), []).append(nonce)
            return issued

    def peek(self, nonce: str) -> Issued | None:
        """The live nonce's record, without using it up."""
        with self._lock:
            issued = self._issued.get(nonce)
            return issued if issued and self._clock() < issued.expires_at else None

    def consume(self, nonce: str) -> bool:
        """Use the nonce up; ``False`` if it is unknown, expired or already used."""
        now = self._clock()
        with self._lock:
            issued = self._issued.get(nonce)
            if issued is None:
                return False
            self._drop(nonce)
            return now < issued.expires_at

    def outstanding(self, *, client: str | None = None, address: str | None = None) -> int:
        """How many challenges are pending (for one client or address, or in all)."""
        with self._lock:
            if client is not None:
                return len(self._by_client.get(client, []))
            if address is not None:
                return sum(i.address == address for i in self._issued.values())
            return len(self._issued)

    def _drop(self, nonce: str) -> None:
        issued = self._issued.pop(nonce)
        pair = (issued.client, issued.address)
        for index, key in ((self._by_client, issued.client), (self._by_pair, pair)):
            held = index[key]
            held.remove(nonce)
            if not held:
                del index[key]

    def _purge(self, now: dt.datetime) -> None:
        # oldest first; with one TTL per store the expired ones are a prefix (peek and consume
        # check the expiry themselves, so a longer-lived one in front only delays the sweep)
        while self._issued:
            nonce, issued = next(iter(self._issued.items()))
            if issued.expires_at > now:
                break
            self._drop(nonce)


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

    def challenge(self, address: str, *, client: str = LOCAL) -> Challenge:
        """A fresh EIP-4361 message for ``address`` to sign, asked by ``client``
        (:func:`app.limits.client_key`), whose requests are rate-limited."""
        if not is_address(address.strip()):
            raise SignInError(
                f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)"
            )
        account = to_checksum_address(address.strip())
        self._refuse_dev_account(account)

        def render(nonce: str, expires: dt.datetime) -> str:
            return siwe.SiweMessage(
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
            ).prepare_message()

        issued = self.nonces.issue(account, self.challenge_ttl, client=client, render=render)
        return Challenge(account, issued.nonce, issued.message, issued.expires_at)

    def verify(self, message: str, signature: str) -> SignedIn:
        """Accept a signed challenge once, or raise :class:`SignInError` saying why not."""
        signature = signature.strip()
        if not signature.startswith("0x"):
            signature = "0x" + signature
        message = message.strip().replace("\r\n", "\n")
        try:
            parsed = siwe.SiweMessage.from_message(message)
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
        _same_message(message, issued.message)
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


def _same_message(signed: str, issued: str) -> None:
    """The message must be the challenge as issued, every line of it (``siwe`` re-serialises
    what it parsed, so a signature over an edited expiry, statement or resource list would
    otherwise verify)."""
    ours = issued.strip().split("\n")
    theirs = signed.split("\n")
    if theirs == ours:
        return
    for number, (mine, other) in enumerate(zip(ours, theirs, strict=False), start=1):
        if mine != other:
            raise SignInError(
                f"the message differs from the challenge this dashboard issued (line {number}: "
                f"{other[:80]!r} instead of {mine[:80]!r}); sign the message exactly as shown"
            )
    raise SignInError(
        "the message differs from the challenge this dashboard issued (lines added or "
        "missing); sign the message exactly as shown"
    )
