"""Issue 11, governance: always one ADMIN (two-step handover with a delay), grants that end with
their granter's MANAGER role, bounded expiries and non-blank reasons, on a real anvil."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dt_platform.config import Settings
from dt_platform.trust.anvil import Anvil, throwaway_anvil
from dt_platform.trust.chain import (
    MAX_GRANT_DAYS,
    AuditChain,
    ChainError,
    deploy,
    dev_key,
)
from dt_platform.trust.chain.rpc import send_transaction
from dt_platform.trust.dev_accounts import dev_accounts
from dt_platform.trust.merkle import record_leaf

pytestmark = pytest.mark.integration

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
DELAY = 3600


def _key(index: int) -> str:
    return "0x" + bytes(dev_accounts()[index].key).hex()


def _block_time(node: Anvil) -> int:
    return int(node.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


def _error(action) -> ChainError:
    with pytest.raises(ChainError) as err:
        action()
    return err.value


@pytest.fixture(scope="module")
def own_chain() -> Iterator[Anvil]:
    """A chain of this module's own: its tests move time forward."""
    with throwaway_anvil() as node:
        yield node


@pytest.fixture()
def hub(own_chain: Anvil, tmp_path: Path) -> tuple[Anvil, Settings]:
    """A fresh deployment (its own RoleHub) with a one-hour ADMIN handover delay."""
    settings = Settings(home=tmp_path, chain_port=own_chain.port)
    deploy(settings, admin_delay=DELAY)
    return own_chain, settings


# --- at least one ADMIN, always -----------------------------------------------------------------


def test_the_last_admin_cannot_be_removed(hub) -> None:
    _, settings = hub
    admin = AuditChain.connect(settings, key=dev_key("ADMIN"))
    me, other = admin.address, dev_accounts()[7].address
    assert me is not None
    refusals = {
        "revoke itself": lambda: admin.revoke_role("ADMIN", me),
        "grant a second ADMIN": lambda: admin.grant_role("ADMIN", other),
    }
    for what, action in refusals.items():
        err = _error(action)
        assert err.error_name == "AccessControlEnforcedDefaultAdminRules", what
        assert "ADMIN is never granted or revoked directly" in str(err)
        assert "dt-platform roles admin handover ADDRESS" in str(err)

    renounce = admin.hub.functions.renounceRole(bytes(32), me)
    err = _error(lambda: send_transaction(admin.node, admin.account, renounce, "renounce ADMIN"))
    assert err.error_name == "LastAdmin"
    assert "must always have an ADMIN" in str(err)

    # OpenZeppelin's renounce path (hand over to the zero address, wait, renounce) is closed too.
    to_zero = admin.hub.functions.beginDefaultAdminTransfer("0x" + "00" * 20)
    err = _error(lambda: send_transaction(admin.node, admin.account, to_zero, "hand ADMIN over"))
    assert err.error_name == "LastAdmin"
    err = _error(lambda: admin.begin_admin_handover("0x" + "00" * 20))
    assert "zero address" in str(err)  # refused by the client before anything is sent

    # Another role holder can renounce its own role as before.
    operator = AuditChain.connect(settings, key=dev_key("OPERATOR"))
    call = operator.hub.functions.renounceRole(
        operator.hub.functions.OPERATOR_ROLE().call(), operator.address
    )
    send_transaction(operator.node, operator.account, call, "renounce OPERATOR")
    assert "OPERATOR" not in admin.roles_of(operator.address)
    assert admin.members("ADMIN") == [me]
    assert admin.admin_handover().admin == me


def test_admin_is_handed_over_in_two_steps_after_the_delay(hub) -> None:
    node, settings = hub
    admin = AuditChain.connect(settings, key=dev_key("ADMIN"))
    successor = AuditChain.connect(settings, key=_key(7))
    stranger = AuditChain.connect(settings, key=_key(8))
    assert admin.admin_handover().pending_admin is None
    assert admin.admin_handover().delay == DELAY

    started = admin.begin_admin_handover(successor.address)
    state = admin.admin_handover()
    assert state.pending_admin == successor.address
    block = node.rpc("eth_getBlockByNumber", hex(started.block_number), False)
    assert state.accept_after == int(block["timestamp"], 16) + DELAY

    err = _error(successor.accept_admin_handover)  # too early
    assert err.error_name == "AccessControlEnforcedDefaultAdminDelay"
    assert "may be accepted only after" in str(err)
    err = _error(stranger.accept_admin_handover)  # not the named account
    assert err.error_name == "AccessControlInvalidDefaultAdmin"
    assert f"{stranger.address} is not the pending ADMIN" in str(err)

    node.rpc("evm_increaseTime", DELAY + 1)
    node.rpc("evm_mine")
    successor.accept_admin_handover()
    assert admin.members("ADMIN") == [successor.address]  # enumeration follows the handover
    assert admin.roles_of(admin.address or "") == set()
    assert admin.admin_handover().pending_admin is None
    err = _error(lambda: admin.grant_role("QC", stranger.address or ""))
    assert err.error_name == "AccessControlUnauthorizedAccount"
    successor.grant_role("QC", stranger.address or "")
    assert "QC" in admin.roles_of(stranger.address or "")

    # A handover can be cancelled before it is accepted; then there is nothing to accept.
    successor.begin_admin_handover(stranger.address or "")
    successor.cancel_admin_handover()
    node.rpc("evm_increaseTime", DELAY + 1)
    node.rpc("evm_mine")
    err = _error(stranger.accept_admin_handover)
    assert err.error_name == "AccessControlInvalidDefaultAdmin"
    assert admin.members("ADMIN") == [successor.address]


# --- grants end with their granter's MANAGER role -----------------------------------------------


def test_grants_end_when_their_granter_loses_manager(hub) -> None:
    node, settings = hub
    admin = AuditChain.connect(settings, key=dev_key("ADMIN"))
    demo_manager = AuditChain.connect(settings, key=dev_key("MANAGER"))
    admin.grant_role("MANAGER", dev_accounts()[8].address)
    temp_manager = AuditChain.connect(settings, key=_key(8))
    qc, supplier = dev_accounts()[3].address, dev_accounts()[6].address
    expiry = _block_time(node) + 86_400
    temp_manager.grant_access("production/smt_placer", qc, expiry)
    demo_manager.grant_access("production/smt_placer", supplier, expiry)
    assert admin.has_access("production/smt_placer", qc)

    admin.revoke_role("MANAGER", temp_manager.address or "")
    assert not admin.has_access("production/smt_placer", qc)
    assert admin.grant_expiry("production/smt_placer", qc) is None
    assert admin.has_access("production/smt_placer", supplier)  # another granter's grant holds
    by_grantee = {g.grantee: g for g in admin.grants("production/smt_placer")}
    assert by_grantee[qc].granted_by == temp_manager.address and not by_grantee[qc].active
    assert by_grantee[qc].expires_at == expiry  # still listed: who could see what stays readable
    assert by_grantee[supplier].granted_by == demo_manager.address and by_grantee[supplier].active

    # Granting MANAGER again starts a new term: the grants of the old one stay ended.
    admin.grant_role("MANAGER", temp_manager.address or "")
    assert not admin.has_access("production/smt_placer", qc)
    temp_manager.grant_access("production/reflow_oven", qc, expiry)
    assert admin.has_access("production/reflow_oven", qc)
    # A MANAGER who renews a grant becomes its granter; renouncing MANAGER ends its grants too.
    demo_manager.grant_access("production/smt_placer", qc, expiry)
    assert admin.has_access("production/smt_placer", qc)
    role = temp_manager.hub.functions.MANAGER_ROLE().call()
    renounce = temp_manager.hub.functions.renounceRole(role, temp_manager.address)
    send_transaction(temp_manager.node, temp_manager.account, renounce, "renounce MANAGER")
    assert not admin.has_access("production/reflow_oven", qc)
    assert admin.has_access("production/smt_placer", qc)


# --- bounded expiries ---------------------------------------------------------------------------


def test_grant_expiries_are_bounded(hub) -> None:
    node, settings = hub
    manager = AuditChain.connect(settings, key=dev_key("MANAGER"))
    qc = dev_accounts()[3].address
    assert manager.grants_contract.functions.MAX_GRANT_DURATION().call() == MAX_GRANT_DAYS * 86_400
    for expiry in (2**64 - 1, _block_time(node) + MAX_GRANT_DAYS * 86_400 + 3600):
        err = _error(lambda e=expiry: manager.grant_access("quality/reflow", qc, e))
        assert err.error_name == "ExpiryTooLate"
        assert f"a grant runs at most {MAX_GRANT_DAYS} days" in str(err)
    for expiry in (2**64, -1, 1.5):
        err = _error(lambda e=expiry: manager.grant_access("quality/reflow", qc, e))
        assert err.error_name is None and "the expiry (unix seconds) must be" in str(err)
    assert not manager.has_access("quality/reflow", qc)

    latest = manager.latest_grant_expiry()
    assert latest == _block_time(node) + MAX_GRANT_DAYS * 86_400
    manager.grant_access("quality/reflow", qc, latest)  # the longest grant there is
    assert manager.has_access("quality/reflow", qc)


# --- non-blank reasons --------------------------------------------------------------------------

BLANK = [" ", "\t\n\r", "\x00", "\u00a0", "\u3000", "\u200b\u200d", "\ufeff", " \u2003\u2028 "]
NOT_BLANK = ["x", " late data", "\u00a0late", "données tardives", "晚到的数据", "\u200bx"]


def test_new_versions_need_a_reason_that_is_not_blank(operator: AuditChain) -> None:
    partition = "blank/2026-11-20"
    operator.anchor(partition, record_leaf(b"v1"), CID, 1)
    for n, reason in enumerate(BLANK):
        err = _error(
            lambda r=reason, i=n: operator.anchor(partition, record_leaf(b"%d" % i), CID, 1, r)
        )
        assert err.error_name == "BlankReason", repr(reason)
        assert "a new version needs a reason, and the one given is blank" in str(err)
    assert operator.version_count(partition) == 1
    for n, reason in enumerate(NOT_BLANK):
        receipt = operator.anchor(partition, record_leaf(b"ok%d" % n), CID, 1, reason)
        assert receipt.version == n + 2
        assert operator.get_anchor(partition, receipt.version).reason == reason
