"""What a signature must be to move a command: exactly the issued message, the right domain, in
time, once, by the right role; critical commands need a second, different MANAGER."""

from __future__ import annotations

import copy

import pytest
from eth_account import Account

from dt_platform.trust.dev_accounts import dev_accounts
from dt_platform.twin.command_flow import (
    approval_request,
    approve,
    issue_draft,
    submit_signature,
)
from dt_platform.twin.command_store import command_history, get_status
from dt_platform.twin.commands import CommandRefused
from dt_platform.twin.state import desired, record_reported
from dt_platform.twin.typed_data import Domain, TypedDataError, sign_typed_data, signable
from tests.twin.command_fixtures import DOMAIN, REGISTRY, Published, at, sign, store, team

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _draft(con, action="derate", percent=20, machine="CNC-01", now=0):
    return issue_draft(con, REGISTRY, machine, action, percent=percent, domain=DOMAIN, now=at(now))


def _submit(con, t, draft, signature, *, domain=DOMAIN, now=1, **kw):
    return submit_signature(
        con, draft.command_id, signature, roles=t.roles, publisher=Published(), domain=domain,
        now=at(now), **kw,
    )  # fmt: skip


def _refused(code, fn, *args, **kw):
    with pytest.raises(CommandRefused) as exc:
        fn(*args, **kw)
    assert exc.value.reason_code == code, exc.value
    return exc.value


def _approve(con, t, draft, account, **kw):
    typed = approval_request(con, draft.command_id)
    return approve(
        con, draft.command_id, sign(typed, account), roles=t.roles, publisher=Published(),
        domain=DOMAIN, now=at(5), signer=account.address, **kw,
    )  # fmt: skip


# --- who signs ----------------------------------------------------------------------------------


def test_a_signer_without_the_maintainer_role_is_refused(tmp_path):
    con, t = store(tmp_path), team()
    draft = _draft(con)
    outsider = Account.create()
    _refused("role_missing", _submit, con, t, draft, sign(draft.typed_data, outsider))
    _refused("role_missing", _submit, con, t, draft, sign(draft.typed_data, t.manager))
    assert ("MAINTAINER", outsider.address) in t.roles.asked
    t.roles.revoke("MAINTAINER", t.maintainer.address)  # the role is read at verification time
    _refused("role_missing", _submit, con, t, draft, sign(draft.typed_data, t.maintainer))
    assert get_status(con, draft.command_id).state == "issued" and desired(con, "CNC-01") is None
    assert [e.reason for e in command_history(con, draft.command_id)[1:]] == ["role_missing"] * 3


def test_forged_and_malformed_signatures_are_refused(tmp_path):
    con, t = store(tmp_path), team()
    draft = _draft(con)
    good = sign(draft.typed_data, t.maintainer)
    raw = bytes.fromhex(good[2:])
    forged = "0x" + (raw[:10] + bytes([raw[10] ^ 1]) + raw[11:]).hex()
    _refused("bad_signature", _submit, con, t, draft, forged, signer=t.maintainer.address)
    for junk in ("0x1234", "not hex at all", "0x" + "00" * 65, good[:-2] + "1f"):
        _refused("bad_signature", _submit, con, t, draft, junk)
    # the malleated twin of a valid signature (s -> n - s, v flipped) is not a new signature
    r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    twin = "0x" + (r + (N - s).to_bytes(32, "big") + bytes([55 - v])).hex()
    _refused("bad_signature", _submit, con, t, draft, twin)
    # someone else's valid signature, claimed as the maintainer's
    other = sign(draft.typed_data, t.maintainer2)
    _refused("bad_signature", _submit, con, t, draft, other, signer=t.maintainer.address)
    assert _submit(con, t, draft, good, signer=t.maintainer.address).state == "pending"


def test_a_signature_over_another_message_is_refused(tmp_path):
    con, t = store(tmp_path), team()
    draft, other = _draft(con), _draft(con, percent=25, now=1)
    theirs = sign(other.typed_data, t.maintainer)
    _refused("bad_signature", _submit, con, t, draft, theirs, signer=t.maintainer.address)
    _refused("not_issued", _submit, con, t, draft, theirs, typed_data=other.typed_data)
    edited = copy.deepcopy(draft.typed_data)
    edited["message"]["value"] = 8000  # the wallet was shown 80 %, the server issued 20 %
    _refused("not_issued", _submit, con, t, draft, sign(edited, t.maintainer), typed_data=edited)
    _refused("not_issued", _submit, con, t, draft, sign(edited, t.maintainer), typed_data=edited)
    assert get_status(con, draft.command_id).state == "issued"


@pytest.mark.parametrize(
    "field, value",
    [("chainId", 1), ("verifyingContract", "0x" + "22" * 20), ("name", "other"), ("version", "2")],
)
def test_a_signature_for_another_domain_is_refused(tmp_path, field, value):
    con, t = store(tmp_path), team()
    draft = _draft(con)
    elsewhere = copy.deepcopy(draft.typed_data)
    elsewhere["domain"][field] = value
    sig = sign_typed_data(elsewhere, t.maintainer)
    _refused("wrong_domain", _submit, con, t, draft, sig, typed_data=elsewhere)
    _refused("bad_signature", _submit, con, t, draft, sig, signer=t.maintainer.address)
    assert get_status(con, draft.command_id).state == "issued"


def test_a_draft_from_another_deployment_is_refused(tmp_path):
    con, t = store(tmp_path), team()
    draft = _draft(con)
    redeployed = Domain(DOMAIN.chain_id, "0x" + "33" * 20)
    err = _refused(
        "wrong_domain", _submit, con, t, draft, sign(draft.typed_data, t.maintainer),
        domain=redeployed,
    )  # fmt: skip
    assert "issue the command again" in err.detail


def test_a_signature_is_accepted_once(tmp_path):
    con, t = store(tmp_path), team()
    a, b = _draft(con, percent=10), _draft(con, percent=10, now=1)
    sig_a = sign(a.typed_data, t.maintainer)
    assert _submit(con, t, a, sig_a).state == "pending"
    _refused("replayed", _submit, con, t, a, sig_a)  # same command again
    _refused("replayed", _submit, con, t, a, sign(a.typed_data, t.maintainer2))  # nonce used
    _refused("replayed", _submit, con, t, b, sig_a)  # another command, same signature
    assert desired(con, "CNC-01").version == 1
    assert _submit(con, t, b, sign(b.typed_data, t.maintainer)).state == "pending"


def test_dev_keys_sign_only_for_the_dev_chain(tmp_path):
    con, t = store(tmp_path), team()
    mainnet = Domain(1, DOMAIN.verifying_contract)
    draft = issue_draft(con, REGISTRY, "CNC-01", "inspect", domain=mainnet, now=at(0))
    dev = dev_accounts()[4]
    with pytest.raises(TypedDataError, match="public dev keys"):
        sign_typed_data(draft.typed_data, dev)
    t.roles.grant("MAINTAINER", dev.address)
    forced = dev.sign_message(signable(draft.typed_data))
    _refused("dev_key", _submit, con, t, draft, forced.signature.hex(), domain=mainnet)


# --- critical commands --------------------------------------------------------------------------


def test_a_critical_command_waits_for_a_different_manager(tmp_path):
    con, t = store(tmp_path), team()
    pub = Published()
    draft = _draft(con, percent=60)
    assert draft.critical and draft.typed_data["message"]["critical"] is True
    status = submit_signature(
        con, draft.command_id, sign(draft.typed_data, t.maintainer), roles=t.roles,
        publisher=pub, domain=DOMAIN, now=at(1),
    )  # fmt: skip
    assert status.state == "awaiting_approval" and desired(con, "CNC-01") is None
    assert pub.messages == []
    # the command's signer cannot approve it, even holding MANAGER too
    t.roles.grant("MANAGER", t.maintainer.address)
    _refused("same_signer", _approve, con, t, draft, t.maintainer)
    # a MAINTAINER cannot approve
    _refused("role_missing", _approve, con, t, draft, t.maintainer2)
    # the command signature itself is not an approval
    _refused(
        "bad_signature", approve, con, draft.command_id, sign(draft.typed_data, t.manager),
        roles=t.roles, publisher=pub, domain=DOMAIN, now=at(5), signer=t.manager.address,
    )  # fmt: skip
    approval = sign(approval_request(con, draft.command_id), t.manager)

    def approve_with(signature):
        return approve(
            con, draft.command_id, signature, roles=t.roles, publisher=pub, domain=DOMAIN,
            now=at(5),
        )  # fmt: skip

    status = approve_with(approval)
    assert (status.state, status.approver) == ("pending", t.manager.address)
    assert len(pub.messages) == 1
    assert desired(con, "CNC-01").settings["derate_pct"] == 60.0
    approved = [e for e in command_history(con, draft.command_id) if e.event == "approved"]
    assert approved[0].actor == t.manager.address and approved[0].role == "MANAGER"
    _refused("replayed", approve_with, approval)


def test_an_approval_needs_the_issuer_to_still_be_a_maintainer(tmp_path):
    con, t = store(tmp_path), team()
    draft = _draft(con, percent=75)
    _submit(con, t, draft, sign(draft.typed_data, t.maintainer))
    t.roles.revoke("MAINTAINER", t.maintainer.address)
    err = _refused("role_missing", _approve, con, t, draft, t.manager)
    assert "no longer holds MAINTAINER" in err.detail


def test_an_approval_is_refused_after_expiry_and_for_commands_that_need_none(tmp_path):
    con, t = store(tmp_path), team()
    plain = _draft(con, percent=50)  # 50 % is the limit, not above it
    assert not plain.critical
    _submit(con, t, plain, sign(plain.typed_data, t.maintainer))
    _refused("not_awaiting_approval", approval_request, con, plain.command_id)
    late = _draft(con, percent=51, now=2)
    _submit(con, t, late, sign(late.typed_data, t.maintainer), now=3)
    typed = approval_request(con, late.command_id)
    _refused(
        "expired", approve, con, late.command_id, sign(typed, t.manager), roles=t.roles,
        publisher=None, domain=DOMAIN, now=at(2 + 900),
    )  # fmt: skip
    assert get_status(con, late.command_id).state == "expired"


def test_maintenance_is_critical_while_the_machine_produces(tmp_path):
    con, t = store(tmp_path), team()
    record_reported(con, "OVEN-01", "gw-mqtt", mode="idle")
    calm = _draft(con, "maintenance_on", None, "OVEN-01")
    assert not calm.critical
    record_reported(con, "OVEN-01", "gw-mqtt", mode="production")
    busy = _draft(con, "maintenance_on", None, "OVEN-01", now=1)
    assert busy.critical
    # the machine went into production after the first draft was issued: it needs approval too
    assert _submit(con, t, calm, sign(calm.typed_data, t.maintainer)).state == "awaiting_approval"
    assert get_status(con, calm.command_id).critical
    assert not _draft(con, "maintenance_off", None, "OVEN-01", now=2).critical
