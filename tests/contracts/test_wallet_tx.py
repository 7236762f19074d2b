"""Governance transactions built for a browser wallet (``eth_sendTransaction``) on a real anvil:
the server (read-only, no key) builds the call after checking the sender's role on chain, the
"wallet" (eth-account here) signs and sends it, and the server waits for the receipt."""

from __future__ import annotations

import datetime as dt

import pytest
from eth_account import Account
from hexbytes import HexBytes

from dt_platform.trust.chain import AuditChain, ChainError, dev_key
from dt_platform.trust.chain.wallet_tx import NotPermitted, access_tx, role_tx, wait_mined

pytestmark = pytest.mark.integration

DATASET = "production/cnc_spindle"


def wallet_send(chain: AuditChain, role_or_key: str, rpc_tx: dict) -> str:
    """What a browser wallet does with eth_sendTransaction: fill nonce and fees, sign, send."""
    account = Account.from_key(dev_key(role_or_key) if role_or_key.isupper() else role_or_key)
    w3 = chain.node.w3
    tx = {
        "to": rpc_tx["to"],
        "data": rpc_tx["data"],
        "value": int(rpc_tx.get("value", "0x0"), 16),
        "chainId": int(rpc_tx["chainId"], 16),
        "gas": int(rpc_tx["gas"], 16),
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "gasPrice": w3.eth.gas_price,
    }
    return HexBytes(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    ).to_0x_hex()


@pytest.fixture(scope="module")
def server(dev_chain) -> AuditChain:
    return AuditChain.connect(dev_chain.settings, read_only=True)


def expiry(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def test_a_manager_grants_and_revokes_a_dataset_with_the_wallet(server, outsider_address) -> None:
    manager = Account.from_key(dev_key("MANAGER")).address
    tx = access_tx(server, "grant_access", DATASET, outsider_address, manager, expiry(30))
    rpc = tx.to_rpc()
    assert rpc["from"] == manager and rpc["to"] == server.deployment.address("DataGrants")
    assert rpc["chainId"] == hex(server.chain_id) and int(rpc["gas"], 16) > 21_000
    assert "share production/cnc_spindle with" in tx.summary
    mined = wait_mined(server, tx, wallet_send(server, "MANAGER", rpc))
    assert mined.block_number > 0 and mined.gas_used > 0
    assert server.has_access(DATASET, outsider_address)
    assert any(g.grantee == outsider_address and g.granted_by == manager
               for g in server.grants(DATASET))  # fmt: skip

    revoke = access_tx(server, "revoke_access", DATASET, outsider_address, manager)
    wait_mined(server, revoke, wallet_send(server, "MANAGER", revoke.to_rpc()))
    assert not server.has_access(DATASET, outsider_address)


def test_an_admin_grants_and_revokes_a_role_with_the_wallet(server, outsider_address) -> None:
    admin = Account.from_key(dev_key("ADMIN")).address
    tx = role_tx(server, "grant_role", "MAINTAINER", outsider_address, admin)
    wait_mined(server, tx, wallet_send(server, "ADMIN", tx.to_rpc()))
    assert "MAINTAINER" in server.roles_of(outsider_address)
    tx = role_tx(server, "revoke_role", "maintainer", outsider_address, admin)
    wait_mined(server, tx, wallet_send(server, "ADMIN", tx.to_rpc()))
    assert "MAINTAINER" not in server.roles_of(outsider_address)
    with pytest.raises(ChainError, match="handed over"):
        role_tx(server, "grant_role", "ADMIN", outsider_address, admin)


def test_a_sender_without_the_role_is_refused_before_the_wallet(server, outsider_address) -> None:
    maintainer = Account.from_key(dev_key("MAINTAINER")).address
    with pytest.raises(NotPermitted, match="does not hold MANAGER on chain now"):
        access_tx(server, "grant_access", DATASET, outsider_address, maintainer, expiry(3))
    manager = Account.from_key(dev_key("MANAGER")).address
    with pytest.raises(NotPermitted, match="only an administrator may grant roles"):
        role_tx(server, "grant_role", "QC", outsider_address, manager)


def test_the_contract_refuses_it_anyway_and_the_revert_is_decoded(server, outsider_address) -> None:
    manager = Account.from_key(dev_key("MANAGER")).address
    tx = access_tx(server, "grant_access", DATASET, outsider_address, manager, expiry(3))
    # a MAINTAINER's wallet sends the same call, bypassing the page's check
    maintainer = Account.from_key(dev_key("MAINTAINER"))
    forged = type(tx)(tx.op, maintainer.address, tx.to, tx.data, tx.chain_id, tx.gas, tx.summary)
    sent = wallet_send(server, "MAINTAINER", forged.to_rpc())
    with pytest.raises(ChainError, match=r"lacks MANAGER_ROLE.*mined in block \d+ but reverted"):
        wait_mined(server, forged, sent)
    assert not server.has_access(DATASET, outsider_address)


def test_a_call_the_contract_would_refuse_is_refused_before_sending(
    server, outsider_address
) -> None:
    manager = Account.from_key(dev_key("MANAGER")).address
    with pytest.raises(ChainError, match="too far ahead"):
        access_tx(server, "grant_access", DATASET, outsider_address, manager, expiry(400))
    with pytest.raises(ChainError, match="holds no grant"):
        access_tx(server, "revoke_access", "production/none", outsider_address, manager)
    with pytest.raises(ChainError, match="not an Ethereum address"):
        access_tx(server, "grant_access", DATASET, "0x123", manager, expiry(3))


def test_a_wallet_that_sends_something_else_is_caught(server, outsider_address) -> None:
    manager = Account.from_key(dev_key("MANAGER")).address
    asked = access_tx(server, "grant_access", DATASET, outsider_address, manager, expiry(3))
    other = access_tx(server, "grant_access", DATASET, outsider_address, manager, expiry(5))
    sent = wallet_send(server, "MANAGER", other.to_rpc())
    with pytest.raises(ChainError, match="not the one this page built"):
        wait_mined(server, asked, sent)
    with pytest.raises(ChainError, match="not a transaction hash"):
        wait_mined(server, asked, "0xdeadbeef")
    wait_mined(server, other, sent)
    revoke = access_tx(server, "revoke_access", DATASET, outsider_address, manager)
    wait_mined(server, revoke, wallet_send(server, "MANAGER", revoke.to_rpc()))
