"""RoleHub, TwinRegistry and DataGrants on a real anvil."""

from __future__ import annotations

import pytest

from dt_platform.trust.chain import DEMO_ROLE_ACCOUNTS, ROLE_IDS, AuditChain, ChainError, Grant
from dt_platform.trust.dev_accounts import dev_accounts

pytestmark = pytest.mark.integration

META_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


# --- roles --------------------------------------------------------------------------------------


def test_demo_roles_are_granted_and_recorded(dev_chain, operator: AuditChain) -> None:
    accounts = dev_accounts()
    assert dev_chain.deployment.demo_roles == {
        role: accounts[i].address for role, i in DEMO_ROLE_ACCOUNTS.items()
    }
    for role, index in DEMO_ROLE_ACCOUNTS.items():
        assert role in operator.roles_of(accounts[index].address)
    assert operator.roles_of(accounts[1].address) == {"OPERATOR"}
    assert operator.members("OPERATOR") == [accounts[1].address]
    assert operator.members("ADMIN") == [accounts[0].address]


def test_role_constants_match_the_contracts(operator: AuditChain) -> None:
    for name, rid in ROLE_IDS.items():
        getter = "DEFAULT_ADMIN_ROLE" if name == "ADMIN" else f"{name}_ROLE"
        for contract in (operator.hub, operator.anchors_contract):
            if name == "ADMIN" and contract is operator.anchors_contract:
                continue  # gated contracts do not re-export OpenZeppelin's admin constant
            assert getattr(contract.functions, getter)().call() == rid


def test_admin_grants_and_revokes_roles(admin: AuditChain, outsider_address: str) -> None:
    assert admin.roles_of(outsider_address) == set()
    admin.grant_role("qc", outsider_address)
    admin.grant_role("SUPPLIER_ROLE", outsider_address)
    assert admin.roles_of(outsider_address) == {"QC", "SUPPLIER"}
    assert outsider_address in admin.members("QC")
    admin.revoke_role("QC", outsider_address)
    admin.revoke_role("SUPPLIER", outsider_address)
    assert admin.roles_of(outsider_address) == set()


def test_non_admin_cannot_grant_roles(operator: AuditChain, outsider_address: str) -> None:
    with pytest.raises(ChainError) as err:
        operator.grant_role("OPERATOR", outsider_address)
    assert err.value.error_name == "AccessControlUnauthorizedAccount"
    assert str(err.value) == (
        f"{operator.address} lacks ADMIN (DEFAULT_ADMIN_ROLE): "
        "only an administrator may grant roles"
    )


def test_unknown_role_name_is_a_clear_error(admin: AuditChain, outsider_address: str) -> None:
    with pytest.raises(ChainError, match="unknown role 'BOSS'"):
        admin.grant_role("BOSS", outsider_address)


# --- twin registry ------------------------------------------------------------------------------


def test_operator_and_admin_register_and_update_twins(
    operator: AuditChain, admin: AuditChain
) -> None:
    operator.register_twin("smt_placer-01", "smt_placer", META_CID, 2)
    admin.register_twin("reflow_oven-01", "reflow_oven", "", 1)
    twin = operator.get_twin("smt_placer-01")
    assert twin is not None
    assert (twin.machine_type, twin.metadata_cid, twin.maturity) == ("smt_placer", META_CID, 2)
    assert twin.maturity_name == "digital shadow" and twin.updated_by == operator.address

    admin.update_twin("smt_placer-01", META_CID, 4)
    updated = operator.get_twin("smt_placer-01")
    assert updated is not None and updated.maturity == 4 and updated.updated_by == admin.address
    assert updated.machine_type == "smt_placer" and updated.registered_at == twin.registered_at
    ids = [t.twin_id for t in operator.twins()]
    assert ids[:2] == ["smt_placer-01", "reflow_oven-01"]
    assert operator.get_twin("no-such-twin") is None


def test_twin_registry_rejects_bad_input(operator: AuditChain, manager: AuditChain) -> None:
    operator.register_twin("cnc_spindle-01", "cnc_spindle", META_CID, 1)
    cases = [
        (lambda: operator.register_twin("cnc_spindle-01", "cnc_spindle", META_CID, 1),
         "TwinAlreadyRegistered", "already registered"),
        (lambda: operator.register_twin("x-1", "cnc_spindle", META_CID, 0),
         "InvalidMaturity", "maturity 0 is invalid"),
        (lambda: operator.register_twin("x-2", "cnc_spindle", META_CID, 5),
         "InvalidMaturity", "maturity 5 is invalid"),
        (lambda: operator.register_twin("", "cnc_spindle", META_CID, 1),
         "EmptyField", "twinId must not be empty"),
        (lambda: operator.update_twin("ghost", META_CID, 1), "UnknownTwin", "no twin 'ghost'"),
        (lambda: manager.register_twin("x-3", "cnc_spindle", META_CID, 1),
         "AccessControlUnauthorizedAccount",
         "lacks OPERATOR_ROLE: only the pipeline publisher may register twins"),
    ]  # fmt: skip
    for action, name, text in cases:
        with pytest.raises(ChainError) as err:
            action()
        assert err.value.error_name == name
        assert text in str(err.value)


# --- data-sharing grants ------------------------------------------------------------------------


def test_grant_expires_with_block_time(dev_chain, manager: AuditChain) -> None:
    qc = dev_accounts()[DEMO_ROLE_ACCOUNTS["QC"]].address
    expiry = dev_chain.block_time() + 3600
    manager.grant_access("production/smt_placer", qc, expiry)
    assert manager.has_access("production/smt_placer", qc)
    assert manager.grants("production/smt_placer") == [
        Grant("production/smt_placer", qc, expiry, True, granted_by=manager.address)
    ]
    assert "production/smt_placer" in manager.datasets_of(qc)

    dev_chain.node.rpc("evm_increaseTime", 3601)
    dev_chain.node.rpc("evm_mine")
    assert not manager.has_access("production/smt_placer", qc)
    [grant] = manager.grants("production/smt_placer")
    assert grant.expires_at == expiry and not grant.active

    # Granting again renews; revoking ends access at once and forgets the grant.
    manager.grant_access("production/smt_placer", qc, dev_chain.block_time() + 60)
    assert manager.has_access("production/smt_placer", qc)
    manager.revoke_access("production/smt_placer", qc)
    assert not manager.has_access("production/smt_placer", qc)
    assert manager.grants("production/smt_placer") == []
    assert "production/smt_placer" not in manager.datasets_of(qc)


def test_grants_reject_bad_input_and_non_managers(
    dev_chain, manager: AuditChain, operator: AuditChain
) -> None:
    supplier = dev_accounts()[DEMO_ROLE_ACCOUNTS["SUPPLIER"]].address
    now = dev_chain.block_time()
    with pytest.raises(ChainError) as err:
        manager.grant_access("quality/reflow", supplier, now - 1)
    assert err.value.error_name == "ExpiryNotInFuture" and "choose a future expiry" in str(
        err.value
    )
    with pytest.raises(ChainError) as err:
        manager.grant_access("", supplier, now + 100)
    assert err.value.error_name == "EmptyDataset"
    with pytest.raises(ChainError) as err:
        manager.revoke_access("quality/reflow", supplier)
    assert err.value.error_name == "NoSuchGrant"
    with pytest.raises(ChainError) as err:
        operator.grant_access("quality/reflow", supplier, now + 100)
    assert str(err.value) == (
        f"{operator.address} lacks MANAGER_ROLE: only a manager may grant data access"
    )
    assert not manager.has_access("quality/reflow", supplier)
