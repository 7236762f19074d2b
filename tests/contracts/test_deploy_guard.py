"""Issue 11, item 4: `chain deploy` never silently replaces a recorded deployment. Live: nothing
is sent; chain reset: refused without --after-reset; other code there: refused without
--replace; the previous record is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.config import Settings
from dt_platform.trust.anvil import Anvil, throwaway_anvil
from dt_platform.trust.chain import (
    AuditChain,
    ChainReset,
    DeploymentMismatch,
    DeployRefused,
    deploy,
    load_artifact,
)
from dt_platform.trust.chain_cli import chain
from dt_platform.trust.merkle import record_leaf

pytestmark = pytest.mark.integration

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@pytest.fixture(scope="module")
def resettable() -> Iterator[Anvil]:
    """A chain of this module's own: its tests reset it (`anvil_reset`)."""
    with throwaway_anvil() as node:
        yield node


def _height(node: Anvil) -> int:
    return int(node.rpc("eth_blockNumber"), 16)


def _env(settings: Settings) -> dict[str, str]:
    return {
        "DT_HOME": str(settings.home),
        "DT_CHAIN_PORT": str(settings.chain_port),
        "DT_CHAIN_RPC": "",
        "DT_CHAIN_KEY": "",
    }


def test_deploy_over_a_live_deployment_sends_nothing(dev_chain) -> None:
    height = _height(dev_chain.node)
    for flags in ({}, {"after_reset": True}, {"replace": True}):
        again = deploy(dev_chain.settings, **flags)
        assert not again.created and again.contracts == dev_chain.deployment.contracts
    result = CliRunner().invoke(chain, ["deploy", "--after-reset"], env=_env(dev_chain.settings))
    assert result.exit_code == 0 and "already deployed (code matches)" in result.output
    assert _height(dev_chain.node) == height
    assert not dev_chain.settings.deployment_path.with_name("deployment.previous.json").exists()


def test_deploy_after_a_chain_reset_needs_after_reset(resettable: Anvil, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=resettable.port)
    first = deploy(settings)
    AuditChain.connect(settings).anchor("telemetry/2026-11-20", record_leaf(b"r"), CID, 1)
    record = settings.deployment_path.read_text()
    resettable.rpc("anvil_reset")

    with pytest.raises(ChainReset, match=r"has no block 1: the chain was reset.*--after-reset"):
        AuditChain.connect(settings)
    with pytest.raises(DeployRefused) as err:
        deploy(settings)
    assert isinstance(err.value.found, ChainReset)
    message = str(err.value)
    assert "the chain was reset" in message and "--after-reset" in message
    assert "anchored days must be anchored again" in message
    assert settings.deployment_path.read_text() == record  # nothing touched
    assert _height(resettable) == 0  # nothing sent

    # A record written before block hashes were recorded: the empty addresses tell.
    legacy = json.loads(record)
    del legacy["block_hash"]
    settings.deployment_path.write_text(json.dumps(legacy))
    for _ in range(first.block + 1):
        resettable.rpc("evm_mine")
    with pytest.raises(ChainReset, match="has no code at any of their addresses"):
        AuditChain.connect(settings)
    with pytest.raises(DeployRefused, match="--after-reset"):
        deploy(settings)
    settings.deployment_path.write_text(record)

    result = CliRunner().invoke(chain, ["deploy"], env=_env(settings))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: refusing to deploy")
    result = CliRunner().invoke(chain, ["deploy", "--after-reset"], env=_env(settings))
    assert result.exit_code == 0 and "contracts deployed on chain 31337" in result.output
    assert settings.deployment_path.with_name("deployment.previous.json").read_text() == record
    client = AuditChain.connect(settings)
    assert client.deployment.block_hash != first.block_hash
    assert client.latest_anchor("telemetry/2026-11-20") is None  # the old anchor is gone


def test_a_reset_is_seen_even_with_the_same_code_at_the_same_addresses(
    resettable: Anvil, tmp_path: Path
) -> None:
    """After a reset, another home deploying with the same key puts identical contracts at the
    same addresses; the recorded deploy block tells the two deployments apart."""
    ours = Settings(home=tmp_path / "ours", chain_port=resettable.port)
    theirs = Settings(home=tmp_path / "theirs", chain_port=resettable.port)
    resettable.rpc("anvil_reset")
    recorded = deploy(ours)
    resettable.rpc("anvil_reset")
    resettable.rpc("evm_mine")  # their deployment lands one block later
    again = deploy(theirs)
    assert again.contracts == recorded.contracts  # same addresses, same code hashes

    with pytest.raises(ChainReset, match=rf"deployed in block {recorded.block} .*another block"):
        AuditChain.connect(ours)
    with pytest.raises(DeployRefused, match="--after-reset"):
        deploy(ours)


def test_other_code_at_the_recorded_addresses_needs_replace(dev_chain, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=dev_chain.settings.chain_port)
    deploy(settings)
    record = json.loads(settings.deployment_path.read_text())
    grants = record["contracts"]["DataGrants"]["address"]
    dev_chain.node.rpc(
        "anvil_setCode", grants, load_artifact("NaiveRecordStore")["deployedBytecode"]
    )

    with pytest.raises(DeploymentMismatch, match=r"DataGrants .*does not match.*--replace"):
        AuditChain.connect(settings)
    height = _height(dev_chain.node)
    with pytest.raises(DeployRefused) as err:
        deploy(settings, after_reset=True)  # the chain was not reset: that flag does not do it
    assert isinstance(err.value.found, DeploymentMismatch)
    assert "Run `dt-platform chain deploy --replace`" in str(err.value)
    assert _height(dev_chain.node) == height

    replaced = deploy(settings, replace=True)
    assert replaced.created and replaced.address("DataGrants") != grants
    kept = json.loads(settings.deployment_path.with_name("deployment.previous.json").read_text())
    assert kept == record
    AuditChain.connect(settings)


def test_an_unreadable_record_is_replaced_only_when_asked(dev_chain, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=dev_chain.settings.chain_port)
    settings.deployment_path.write_text("{not json")
    with pytest.raises(DeployRefused, match=r"not a valid deployment record.*--replace"):
        deploy(settings)
    assert deploy(settings, replace=True).created
    assert settings.deployment_path.with_name("deployment.previous.json").read_text() == (
        "{not json"
    )
