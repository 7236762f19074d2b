"""Server-side sessions (SQLite under DT_HOME): the handoff to the cookie, hashed tokens,
expiry, revocation, a restart, and the bounds per address and per client."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest

from app.auth import SignedIn
from app.sessions import SessionLimit, SessionStore, sessions_path
from tests.app.clock import START, Clock

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return sessions_path(tmp_path / "home")


def signed(address: str = ALICE, hours: float = 8) -> SignedIn:
    return SignedIn(address, 1, START, START + dt.timedelta(hours=hours))


def test_a_session_reaches_the_browser_only_through_its_one_time_code(path, clock) -> None:
    store = SessionStore(path, clock)
    opened = store.open(signed(), "10.0.0.1")
    assert store.live(opened.session_id) == signed()
    assert store.redeem(opened.handoff, "10.0.0.2") is None  # another client cannot use it
    redeemed = store.redeem(opened.handoff, "10.0.0.1")
    assert redeemed is not None and len(redeemed.token) >= 40
    assert redeemed.expires_at == signed().expires_at
    assert store.redeem(opened.handoff, "10.0.0.1") is None  # once
    assert store.restore(redeemed.token) == (opened.session_id, signed())
    assert store.restore("not-a-token") is None and store.restore(None) is None
    assert store.restore("") is None


def test_a_handoff_code_lasts_a_minute(path, clock) -> None:
    store = SessionStore(path, clock)
    opened = store.open(signed(), "local")
    clock.advance(seconds=61)
    assert store.redeem(opened.handoff, "local") is None
    assert store.live(opened.session_id) is not None  # the session itself goes on


def test_tokens_and_codes_are_stored_hashed_and_the_file_is_private(path, clock) -> None:
    store = SessionStore(path, clock)
    opened = store.open(signed(), "local")
    token = store.redeem(opened.handoff, "local").token
    raw = path.read_bytes() + b"".join(p.read_bytes() for p in path.parent.glob("*-wal"))
    assert token.encode() not in raw and opened.handoff.encode() not in raw
    with sqlite3.connect(path) as con:
        (stored,) = con.execute("SELECT token_hash FROM sessions").fetchone()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_sessions_survive_a_restart_and_end_when_revoked_or_expired(path, clock) -> None:
    store = SessionStore(path, clock)
    first = store.open(signed(hours=1), "local")
    token = store.redeem(first.handoff, "local").token
    second = store.open(signed(BOB), "local")
    store.close()

    restarted = SessionStore(path, clock)  # a new dashboard process on the same DT_HOME
    assert restarted.restore(token) == (first.session_id, signed(hours=1))
    restarted.revoke(second.session_id)
    assert restarted.live(second.session_id) is None
    clock.advance(hours=1)
    assert restarted.restore(token) is None and restarted.live(first.session_id) is None
    assert restarted.count() == 0


def test_revoking_by_token_ends_the_session(path, clock) -> None:
    store = SessionStore(path, clock)
    opened = store.open(signed(), "local")
    token = store.redeem(opened.handoff, "local").token
    store.revoke_token(token)
    assert store.restore(token) is None and store.live(opened.session_id) is None
    store.revoke_token(None)  # nothing to end: no error


def test_an_address_keeps_its_newest_sessions(path, clock) -> None:
    store = SessionStore(path, clock, per_address=3)
    bob = store.open(signed(BOB), "10.0.0.9")
    opened = []
    for _ in range(5):
        opened.append(store.open(signed(), "10.0.0.1"))
        clock.advance(seconds=1)
    assert [store.live(o.session_id) is not None for o in opened] == [False] * 2 + [True] * 3
    assert store.live(bob.session_id) is not None  # another address is never touched


def test_a_client_at_its_bound_is_refused_and_evicts_nobody(path, clock) -> None:
    store = SessionStore(path, clock, per_client=3)
    real = store.open(signed(BOB), "10.0.0.9")
    for i in range(3):
        store.open(signed("0x" + f"{i:040x}"), "10.6.6.6")
    with pytest.raises(SessionLimit, match="already open from your network"):
        store.open(signed(ALICE), "10.6.6.6")
    assert store.live(real.session_id) is not None
    assert store.count(client="10.6.6.6") == 3
    assert store.open(signed(ALICE), "10.0.0.1")  # other clients still sign in


def test_a_full_store_refuses_new_sessions_and_keeps_the_old(path, clock) -> None:
    store = SessionStore(path, clock, max_sessions=2)
    kept = [store.open(signed(ALICE), "10.0.0.1"), store.open(signed(BOB), "10.0.0.2")]
    with pytest.raises(SessionLimit, match="try again later"):
        store.open(signed("0x" + "c3" * 20), "10.0.0.3")
    assert all(store.live(o.session_id) for o in kept)
    clock.advance(hours=9)  # the old ones expire and make room
    assert store.open(signed("0x" + "c3" * 20, hours=20), "10.0.0.3")


def test_sign_out_everywhere_ends_every_session_of_the_address_only(path, clock) -> None:
    store = SessionStore(path, clock)
    here, there = store.open(signed(), "10.0.0.1"), store.open(signed(), "10.0.0.2")
    token = store.redeem(there.handoff, "10.0.0.2").token
    bob = store.open(signed(BOB), "10.0.0.1")
    other = SessionStore(path, clock)  # another dashboard process on the same file
    assert other.revoke_address(ALICE) == 2
    assert store.live(here.session_id) is None and store.live(there.session_id) is None
    assert store.restore(token) is None  # the other browser's cookie restores nothing
    assert store.live(bob.session_id) == signed(BOB)
    assert store.count(address=ALICE) == 0 and store.revoke_address(ALICE) == 0
    assert store.revoke_address("") == 0
