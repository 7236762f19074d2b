"""The client's guards: dev keys off the dev chain, code-hash checks, unreachable nodes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from dt_platform.config import Settings
from dt_platform.trust.anvil import Anvil, throwaway_anvil
from dt_platform.trust.chain import (
    AuditChain,
    ChainError,
    ChainUnavailable,
    deploy,
    dev_key,
    load_artifact,
)
from dt_platform.trust.dev_accounts import dev_accounts
from dt_platform.trust.merkle import record_leaf

pytestmark = pytest.mark.integration

OTHER_CHAIN_ID = 1337


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on exit: nothing listens there


# --- unreachable node ---------------------------------------------------------------------------


def test_nothing_listening_is_chain_unavailable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=_closed_port())
    with pytest.raises(ChainUnavailable, match=r"unreachable .*retry later"):
        AuditChain.connect(settings)
    with pytest.raises(ChainUnavailable):
        deploy(settings)
    remote = Settings(home=tmp_path, chain_rpc="http://127.0.0.1:1/")
    with pytest.raises(ChainUnavailable):
        AuditChain.connect(remote)


def test_node_dying_mid_session_is_chain_unavailable(tmp_path: Path) -> None:
    with throwaway_anvil() as node:
        settings = Settings(home=tmp_path, chain_port=node.port)
        deploy(settings)
        client = AuditChain.connect(settings)
        client.anchor("p/2026-11-20", record_leaf(b"r"), "bafy-cid", 1)
    with pytest.raises(ChainUnavailable) as err:
        client.anchor("p/2026-11-21", record_leaf(b"s"), "bafy-cid", 1)
    assert isinstance(err.value, ChainError)  # callers catching ChainError still see it
    with pytest.raises(ChainUnavailable):
        client.latest_anchor("p/2026-11-20")


# --- deployment record and code hashes ----------------------------------------------------------


def test_deploy_is_idempotent(dev_chain) -> None:
    block = int(dev_chain.node.rpc("eth_blockNumber"), 16)
    again = deploy(dev_chain.settings)
    assert not again.created
    assert again.contracts == dev_chain.deployment.contracts
    assert int(dev_chain.node.rpc("eth_blockNumber"), 16) == block  # nothing was sent
    record = json.loads(dev_chain.settings.deployment_path.read_text())
    assert record["chain_id"] == 31337
    assert set(record["contracts"]) == {"RoleHub", "TwinRegistry", "AuditAnchors", "DataGrants"}
    assert record["deployer"] == dev_accounts()[0].address
    assert record["artifacts_hash"].startswith("sha256:")
    assert all(c["code_hash"].startswith("0x") for c in record["contracts"].values())


@pytest.fixture()
def own_deployment(dev_chain, tmp_path: Path) -> Settings:
    """A second deployment on the session chain, in its own DT_HOME, free to be tampered with."""
    settings = Settings(home=tmp_path, chain_port=dev_chain.settings.chain_port)
    assert deploy(settings).created
    return settings


def test_replaced_code_is_detected_and_redeploy_fixes_it(dev_chain, own_deployment) -> None:
    record = json.loads(own_deployment.deployment_path.read_text())
    anchors = record["contracts"]["AuditAnchors"]["address"]
    foreign = load_artifact("NaiveRecordStore")["deployedBytecode"]
    dev_chain.node.rpc("anvil_setCode", anchors, foreign)
    with pytest.raises(ChainError) as err:
        AuditChain.connect(own_deployment)
    message = str(err.value)
    assert "does not match contracts/artifacts/AuditAnchors.json" in message
    assert "redeploy with `dt-platform chain deploy`" in message

    # Issue 11: deploying over contracts that are still there is refused unless asked for.
    with pytest.raises(ChainError, match="refusing to deploy over"):
        deploy(own_deployment)
    redeployed = deploy(own_deployment, replace=True)
    assert redeployed.created and redeployed.address("AuditAnchors") != anchors
    assert own_deployment.deployment_path.with_name("deployment.previous.json").exists()
    AuditChain.connect(own_deployment)  # consistent again


def test_changed_artifacts_are_detected(
    own_deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contracts rebuilt after deployment (artifact code differs from the chain's) are caught."""
    from dt_platform.trust.chain import artifacts

    rebuilt = tmp_path / "artifacts"
    rebuilt.mkdir()
    for path in artifacts.ARTIFACTS_DIR.glob("*.json"):
        data = json.loads(path.read_text())
        if data["contractName"] == "TwinRegistry":
            data["deployedBytecode"] = data["deployedBytecode"][:-4] + "beef"
        (rebuilt / path.name).write_text(json.dumps(data))
    monkeypatch.setattr(artifacts, "ARTIFACTS_DIR", rebuilt)
    artifacts.load_artifact.cache_clear()
    try:
        with pytest.raises(ChainError, match=r"TwinRegistry .*does not match.*redeploy"):
            AuditChain.connect(own_deployment)
    finally:
        artifacts.load_artifact.cache_clear()


def test_tampered_record_is_detected(own_deployment) -> None:
    path = own_deployment.deployment_path
    record = json.loads(path.read_text())
    record["contracts"]["DataGrants"]["code_hash"] = "0x" + "00" * 32
    path.write_text(json.dumps(record))
    with pytest.raises(ChainError, match=r"code hash of DataGrants .* differs"):
        AuditChain.connect(own_deployment)

    record["chain_id"] = 1
    path.write_text(json.dumps(record))
    with pytest.raises(ChainError, match=r"records chain id 1 but .* is chain id 31337"):
        AuditChain.connect(own_deployment)

    path.write_text("{not json")
    with pytest.raises(ChainError, match="not a valid deployment record"):
        AuditChain.connect(own_deployment)


def test_connect_without_deployment_says_what_to_do(dev_chain, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=dev_chain.settings.chain_port)
    with pytest.raises(ChainError, match="run `dt-platform chain deploy`"):
        AuditChain.connect(settings)


# --- anvil's public dev keys off the dev chain --------------------------------------------------


@pytest.fixture(scope="module")
def other_chain() -> Iterator[Anvil]:
    """anvil with a chain id other than 31337: stands for any non-dev chain."""
    with throwaway_anvil(chain_id=OTHER_CHAIN_ID) as node:
        yield node


def test_dev_keys_are_refused_on_other_chains(other_chain: Anvil, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=other_chain.port)
    with pytest.raises(ChainError, match="needs a funded key: set DT_CHAIN_KEY"):
        deploy(settings)
    for role in ("ADMIN", "OPERATOR"):
        with pytest.raises(ChainError) as err:
            deploy(settings, dev_key(role))
        assert "refusing to sign" in str(err.value) and "public dev keys" in str(err.value)
        assert f"chain id {OTHER_CHAIN_ID}" in str(err.value)

    # A key of our own works: deploy, then the dev key is refused even for connecting.
    own = Account.create()
    other_chain.rpc("anvil_setBalance", own.address, hex(10**20))
    own_key = "0x" + bytes(own.key).hex()
    deployment = deploy(settings, own_key)
    assert deployment.created and deployment.demo_roles == {}
    assert deployment.deployer == own.address
    with pytest.raises(ChainError, match="refusing to sign"):
        AuditChain.connect(settings, key=dev_key("OPERATOR"))
    with pytest.raises(ChainError, match="refusing to sign"):
        AuditChain.connect(
            Settings(home=tmp_path, chain_port=other_chain.port, chain_key=dev_key("OPERATOR"))
        )

    # Without DT_CHAIN_KEY the client is read-only; with it, the platform works as usual.
    reader = AuditChain.connect(settings)
    assert reader.address is None
    assert reader.roles_of(own.address) == {"ADMIN"}
    with pytest.raises(ChainError, match="read-only; set DT_CHAIN_KEY"):
        reader.anchor("p/2026-11-20", record_leaf(b"r"), "bafy-cid", 1)
    signed = AuditChain.connect(
        Settings(home=tmp_path, chain_port=other_chain.port, chain_key=own_key)
    )
    signed.grant_role("OPERATOR", own.address)
    assert signed.anchor("p/2026-11-20", record_leaf(b"r"), "bafy-cid", 1).version == 1


def test_invalid_key_is_a_clear_error(dev_chain) -> None:
    with pytest.raises(ChainError, match="not a valid private key"):
        AuditChain.connect(dev_chain.settings, key="0x1234")
