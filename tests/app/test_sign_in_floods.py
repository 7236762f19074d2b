"""Sign-in floods (issue 11, front doors): thousands of anonymous challenges from one client and
from many, and many sign-ins of throwaway keys, against the real challenge and session stores
with real signatures. After each flood a real user still signs in, and keeps their session."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from app.auth import NonceStore, SignedIn, SignIn, SignInError
from app.sessions import SessionLimit, SessionStore, sessions_path
from tests.app.clock import Clock

URI = "http://localhost:8501"
REAL = "192.0.2.10"  # the real user's network (TEST-NET addresses: nothing is sent anywhere)
ATTACKER = "203.0.113.66"


def sign(account, message: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix(
        "0x"
    )


def sign_in(svc: SignIn, account, client: str) -> None:
    challenge = svc.challenge(account.address, client=client)
    assert svc.verify(challenge.message, sign(account, challenge.message)).address == (
        account.address
    )


def many_clients(n: int) -> list[str]:
    return [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(n)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_ten_thousand_challenges_from_one_client_lock_nobody_out(clock: Clock) -> None:
    svc = SignIn(URI, 1, NonceStore(clock), clock=clock)  # the dashboard's defaults
    real = Account.create()
    pending = svc.challenge(real.address, client=REAL)
    victims = [Account.create().address for _ in range(20)]
    refused, started = 0, time.monotonic()
    for i in range(10_000):
        try:
            svc.challenge(victims[i % 20], client=ATTACKER)
        except SignInError as exc:
            assert "too many sign-in requests from your network" in str(exc)
            refused += 1
        if i % 100 == 0:
            clock.advance(seconds=1)  # 100 s of flooding, within every challenge's 5 minutes
    assert refused > 9_900 and svc.nonces.outstanding(client=ATTACKER) <= 8
    assert time.monotonic() - started < 20
    # the pending challenge still signs in, and so does everyone else, and the victims' addresses
    assert svc.verify(pending.message, sign(real, pending.message)).address == real.address
    sign_in(svc, Account.create(), "192.0.2.11")
    sign_in(svc, real, "192.0.2.12")


def test_a_client_without_a_rate_limit_still_only_replaces_its_own_challenges(
    clock: Clock,
) -> None:
    # the rate limit off: the per-client and per-address bounds alone keep the flood to itself
    nonces = NonceStore(clock, burst=10**9, max_outstanding=1_000)
    svc = SignIn(URI, 1, nonces, clock=clock)
    real = Account.create()
    pending = svc.challenge(real.address, client=REAL)
    for i in range(10_000):
        # the attacker asks challenges for the real user's own address too
        svc.challenge(real.address if i % 2 else f"0x{i:040x}", client=ATTACKER)
    assert nonces.outstanding(client=ATTACKER) == 8 and nonces.outstanding() == 9
    assert svc.verify(pending.message, sign(real, pending.message)).address == real.address


def test_challenges_from_many_clients_spare_the_clients_with_one_pending(clock: Clock) -> None:
    nonces = NonceStore(clock, max_outstanding=1_000)
    svc = SignIn(URI, 1, nonces, clock=clock)
    real = Account.create()
    pending = svc.challenge(real.address, client=REAL)
    for client in many_clients(500):
        for _ in range(5):  # 2,500 challenges from 500 clients into a store of 1,000
            svc.challenge(real.address if client.endswith("7") else "0x" + "de" * 20, client=client)
    assert nonces.outstanding() == 1_000
    assert svc.verify(pending.message, sign(real, pending.message)).address == real.address
    sign_in(svc, Account.create(), "192.0.2.99")  # a newcomer gets a challenge too


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SessionStore:
    return SessionStore(sessions_path(tmp_path), clock)  # the dashboard's defaults


def test_throwaway_keys_from_one_client_evict_no_real_session(
    clock: Clock, store: SessionStore
) -> None:
    svc = SignIn(URI, 1, NonceStore(clock, burst=10**9), clock=clock)
    real = Account.create()
    challenge = svc.challenge(real.address, client=REAL)
    kept = store.open(svc.verify(challenge.message, sign(real, challenge.message)), REAL)
    token = store.redeem(kept.handoff, REAL).token
    opened = refused = 0
    for _ in range(150):
        key = Account.create()
        challenge = svc.challenge(key.address, client=ATTACKER)
        try:
            store.open(svc.verify(challenge.message, sign(key, challenge.message)), ATTACKER)
            opened += 1
        except SessionLimit:
            refused += 1
    assert (opened, refused) == (store.per_client, 150 - store.per_client)
    assert store.restore(token) == (kept.session_id, store.live(kept.session_id))
    newcomer = Account.create()
    challenge = svc.challenge(newcomer.address, client="192.0.2.77")
    assert store.open(
        svc.verify(challenge.message, sign(newcomer, challenge.message)), "192.0.2.77"
    )


def test_throwaway_sessions_from_many_clients_evict_no_real_session(
    clock: Clock, store: SessionStore
) -> None:
    real = Account.create()
    svc = SignIn(URI, 1, NonceStore(clock), clock=clock)
    challenge = svc.challenge(real.address, client=REAL)
    kept = store.open(svc.verify(challenge.message, sign(real, challenge.message)), REAL)
    token = store.redeem(kept.handoff, REAL).token
    for client in many_clients(50):  # 100 throwaway keys, signed for real, from 50 clients
        for _ in range(2):
            key = Account.create()
            challenge = svc.challenge(key.address, client=client)
            store.open(svc.verify(challenge.message, sign(key, challenge.message)), client)
    # and 8,000 more straight into the store (it checks no signatures; signing each would take
    # minutes): 160 clients, each at its bound
    for n, client in enumerate(many_clients(210)[50:]):
        for k in range(store.per_client):  # every client at its bound: 8,000 sessions
            address = "0x" + f"{n:020x}{k:020x}"
            store.open(SignedIn(address, 1, clock(), clock() + dt.timedelta(hours=8)), client)
    assert store.count() == 8_101
    assert store.restore(token) is not None and store.live(kept.session_id) is not None
    sign_in_again = svc.challenge(real.address, client=REAL)
    second = store.open(svc.verify(sign_in_again.message, sign(real, sign_in_again.message)), REAL)
    assert store.live(second.session_id) and store.live(kept.session_id)
