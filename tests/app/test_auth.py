"""Sign-In with Ethereum on the server side: every refusal path, with real signatures."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from app.auth import NonceStore, SignIn, SignInError
from dt_platform.trust.dev_accounts import dev_accounts
from tests.app.clock import START, Clock

URI = "http://localhost:8501"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def user():
    return Account.create()


def service(clock: Clock, *, chain_id: int = 1, uri: str = URI, **kw) -> SignIn:
    return SignIn(uri, chain_id, NonceStore(clock), clock=clock, **kw)


def sign(account, message: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix(
        "0x"
    )


def test_a_signed_challenge_signs_in_once(clock: Clock, user) -> None:
    svc = service(clock)
    challenge = svc.challenge(user.address.lower())  # any spelling of the address
    assert challenge.address == user.address
    assert "localhost:8501 wants you to sign in" in challenge.message
    assert f"Nonce: {challenge.nonce}" in challenge.message and "Chain ID: 1" in challenge.message
    signed = svc.verify(challenge.message, sign(user, challenge.message))
    assert signed.address == user.address and signed.chain_id == 1
    assert signed.expires_at == START + svc.session_ttl and signed.is_valid(START)
    assert not signed.is_valid(START + svc.session_ttl)
    with pytest.raises(SignInError, match="already used"):
        svc.verify(challenge.message, sign(user, challenge.message))  # replay


def test_signature_without_0x_prefix_and_crlf_message(clock: Clock, user) -> None:
    svc = service(clock)
    challenge = svc.challenge(user.address)
    signature = sign(user, challenge.message).removeprefix("0x")
    assert svc.verify(challenge.message.replace("\n", "\r\n"), signature).address == user.address


def test_another_key_cannot_sign_for_the_address(clock: Clock, user) -> None:
    svc = service(clock)
    challenge = svc.challenge(user.address)
    with pytest.raises(SignInError, match="does not belong to"):
        svc.verify(challenge.message, sign(Account.create(), challenge.message))
    # a refused attempt does not burn the challenge for its owner
    assert svc.verify(challenge.message, sign(user, challenge.message)).address == user.address


def test_a_nonce_we_did_not_issue_is_refused(clock: Clock, user) -> None:
    ours, theirs = service(clock), service(clock)
    challenge = theirs.challenge(user.address)  # same domain, another server's nonce store
    with pytest.raises(SignInError, match="not issued by this dashboard"):
        ours.verify(challenge.message, sign(user, challenge.message))


def test_an_edited_message_is_refused(clock: Clock, user) -> None:
    svc = service(clock)
    challenge = svc.challenge(user.address)
    signature = sign(user, challenge.message)
    edited = challenge.message.replace("Chain ID: 1", "Chain ID: 5")
    with pytest.raises(SignInError, match="chain 5"):
        svc.verify(edited, signature)
    other = Account.create()
    swapped = challenge.message.replace(user.address, other.address)
    with pytest.raises(SignInError, match="another address"):
        svc.verify(swapped, sign(other, swapped))


def _later_expiry(message: str) -> str:
    return re.sub(r"Expiration Time: .*", "Expiration Time: 2099-01-01T00:00:00Z", message)


def _earlier_issue(message: str) -> str:
    return re.sub(r"Issued At: .*", "Issued At: 2026-11-30T12:00:00Z", message)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_later_expiry, id="expiry-extended"),
        pytest.param(lambda m: m.replace("Expiration Time", "Not Before"), id="expiry-dropped"),
        pytest.param(_earlier_issue, id="issued-at-moved"),
        pytest.param(
            lambda m: m.replace("This costs no gas", "I approve every transfer"), id="statement"
        ),
        pytest.param(lambda m: m + "\nRequest ID: 42", id="request-id-added"),
        pytest.param(
            lambda m: m + "\nResources:\n- https://evil.example/grant", id="resources-added"
        ),
    ],
)
def test_the_signed_message_must_equal_the_issued_challenge(clock: Clock, user, edit) -> None:
    svc = service(clock)
    challenge = svc.challenge(user.address)
    edited = edit(challenge.message)
    assert edited != challenge.message
    with pytest.raises(SignInError, match="differs from the challenge this dashboard issued"):
        svc.verify(edited, sign(user, edited))  # a valid signature, over another message
    # a refused edit does not burn the challenge: signed as issued, it still signs in
    assert svc.verify(challenge.message, sign(user, challenge.message)).address == user.address


@pytest.mark.parametrize(
    ("other_uri", "reason"),
    [
        ("http://evil.example:8501", "evil.example:8501, not for http://localhost:8501"),
        ("https://localhost:8501", "https://localhost:8501, not for http://localhost:8501"),
    ],
)
def test_a_message_for_another_domain_is_refused(
    clock: Clock, user, other_uri: str, reason: str
) -> None:
    # a phishing site (or another scheme) issues a challenge with the same nonce store
    nonces = NonceStore(clock)
    ours = SignIn(URI, 1, nonces, clock=clock)
    phishing = SignIn(other_uri, 1, nonces, clock=clock)
    challenge = phishing.challenge(user.address)
    with pytest.raises(SignInError, match=reason):
        ours.verify(challenge.message, sign(user, challenge.message))


def test_a_message_for_another_path_is_refused(clock: Clock, user) -> None:
    nonces = NonceStore(clock)
    ours = SignIn(URI, 1, nonces, clock=clock)
    other = SignIn(URI + "/other", 1, nonces, clock=clock)
    challenge = other.challenge(user.address)
    with pytest.raises(SignInError, match="/other"):
        ours.verify(challenge.message, sign(user, challenge.message))


def test_an_expired_challenge_is_refused(clock: Clock, user) -> None:
    svc = service(clock)
    challenge = svc.challenge(user.address)
    signature = sign(user, challenge.message)
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(SignInError, match="expired"):
        svc.verify(challenge.message, signature)


def test_malformed_messages_and_addresses_are_refused(clock: Clock, user) -> None:
    svc = service(clock)
    with pytest.raises(SignInError, match="not a valid EIP-4361"):
        svc.verify("hello, please let me in", "0x00")
    with pytest.raises(SignInError, match="not an Ethereum address"):
        svc.challenge("0x1234")
    challenge = svc.challenge(user.address)
    with pytest.raises(SignInError, match="does not belong"):
        svc.verify(challenge.message, "0xdeadbeef")


def test_dev_accounts_sign_in_only_on_the_dev_chain(clock: Clock) -> None:
    dev = dev_accounts()[2]
    with pytest.raises(SignInError, match="public dev accounts"):
        service(clock, chain_id=1).challenge(dev.address)
    local = service(clock, chain_id=31337, allow_dev_accounts=True)
    challenge = local.challenge(dev.address)
    assert local.verify(challenge.message, sign(dev, challenge.message)).address == dev.address


def test_nonce_store_forgets_expired_nonces_and_bounds_outstanding(clock: Clock) -> None:
    # issue 11 changes the outcome at the bound: a full store no longer refuses everyone ("too
    # many sign-ins", the lockout); the client holding the most challenges loses its oldest
    store = NonceStore(clock, max_outstanding=2)
    first = store.issue("0xA", dt.timedelta(minutes=1), client="1.1.1.1").nonce
    second = store.issue("0xB", dt.timedelta(minutes=1), client="2.2.2.2").nonce
    third = store.issue("0xC", dt.timedelta(minutes=1), client="2.2.2.2").nonce
    assert store.peek(first) is not None and store.peek(second) is None  # 2.2.2.2 held the most
    clock.advance(minutes=2)
    fourth = store.issue("0xC", dt.timedelta(minutes=1)).nonce  # the expired ones were purged
    assert store.outstanding() == 1
    assert store.peek(first) is None and not store.consume(first) and not store.consume(third)
    assert store.peek(fourth) is not None and store.consume(fourth) and not store.consume(fourth)


def test_dashboard_url_must_be_http(clock: Clock) -> None:
    with pytest.raises(ValueError, match="http"):
        SignIn("localhost:8501", 1, clock=clock)
