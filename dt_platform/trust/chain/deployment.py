"""Deploying the platform contracts once, recording them in ``DT_HOME/deployment.json``, and
checking on every connect that the code at the recorded addresses is the code we compiled."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from dt_platform.config import Settings
from dt_platform.fileio import atomic_write_text
from dt_platform.trust.chain.artifacts import (
    PLATFORM_CONTRACTS,
    artifacts_hash,
    error_decoder,
    expected_code_hash,
    load_artifact,
    normalized_code_hash,
)
from dt_platform.trust.chain.errors import ROLE_IDS, ChainError, ChainUnavailable
from dt_platform.trust.chain.rpc import NodeInfo, account_from_key, connect_node, send_transaction
from dt_platform.trust.dev_accounts import dev_accounts

__all__ = [
    "DEFAULT_ADMIN_DELAY",
    "DEMO_ROLE_ACCOUNTS",
    "MAX_ADMIN_DELAY",
    "ContractInfo",
    "Deployment",
    "deploy",
    "dev_key",
    "load_deployment",
    "verify_deployment",
]

DEMO_ROLE_ACCOUNTS: dict[str, int] = {
    "ADMIN": 0,
    "OPERATOR": 1,
    "MANAGER": 2,
    "QC": 3,
    "MAINTAINER": 4,
    "AUDITOR": 5,
    "SUPPLIER": 6,
}
"""On the local dev chain, anvil dev account index holding each demo role."""

REDEPLOY_HINT = "redeploy with `dt-platform chain deploy`"

DEFAULT_ADMIN_DELAY = 2 * 86_400
"""Seconds an ADMIN handover waits before the new ADMIN may accept it (RoleHub's delay)."""
MAX_ADMIN_DELAY = 30 * 86_400
"""Longest handover delay ``deploy`` accepts: a longer one would make ADMIN hard to move."""


def dev_key(role: str) -> str:
    """Private key (0x hex) of the dev account that holds ``role`` on the local dev chain."""
    return "0x" + bytes(dev_accounts()[DEMO_ROLE_ACCOUNTS[role]].key).hex()


@dataclass(frozen=True)
class ContractInfo:
    address: str
    code_hash: str
    """keccak256 of the runtime code actually at ``address`` (immutables filled in)."""


@dataclass(frozen=True)
class Deployment:
    """The platform contracts on one chain, as recorded in ``deployment.json``."""

    chain_id: int
    contracts: dict[str, ContractInfo]
    block: int
    deployer: str
    artifacts_hash: str
    deployed_at: str
    demo_roles: dict[str, str] = field(default_factory=dict)
    created: bool = False
    """True when this call deployed the contracts (not persisted)."""

    def address(self, name: str) -> str:
        return self.contracts[name].address

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "block": self.block,
            "deployer": self.deployer,
            "deployed_at": self.deployed_at,
            "artifacts_hash": self.artifacts_hash,
            "contracts": {
                name: {"address": c.address, "code_hash": c.code_hash}
                for name, c in self.contracts.items()
            },
            "demo_roles": self.demo_roles,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            chain_id=int(data["chain_id"]),
            contracts={
                name: ContractInfo(to_checksum_address(c["address"]), c["code_hash"])
                for name, c in data["contracts"].items()
            },
            block=int(data["block"]),
            deployer=data["deployer"],
            artifacts_hash=data["artifacts_hash"],
            deployed_at=data["deployed_at"],
            demo_roles=dict(data.get("demo_roles", {})),
        )


def load_deployment(settings: Settings) -> Deployment | None:
    """The recorded deployment, or ``None`` if there is none yet."""
    path = settings.deployment_path
    if not path.exists():
        return None
    try:
        return Deployment.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ChainError(
            f"{path} is not a valid deployment record ({exc}): {REDEPLOY_HINT}"
        ) from exc


def _write_deployment(path: Path, deployment: Deployment) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        # Never lose the record of an earlier deployment (its anchors stay on-chain).
        os.replace(path, path.with_name("deployment.previous.json"))
    atomic_write_text(path, json.dumps(deployment.to_json(), indent=2) + "\n")


def verify_deployment(node: NodeInfo, deployment: Deployment, settings: Settings) -> None:
    """Raise :class:`ChainError` unless ``node`` runs exactly the recorded, compiled contracts.

    Checks the chain id, that each address holds code whose hash (immutables zeroed) equals the
    artifact's, that it is the code recorded at deploy time, and that every gated contract is
    bound to the recorded role hub.
    """
    path = settings.deployment_path
    if deployment.chain_id != node.chain_id:
        raise ChainError(
            f"{path} records chain id {deployment.chain_id} but {node.url} is chain id "
            f"{node.chain_id}: point DT_CHAIN_RPC at the right chain or {REDEPLOY_HINT}"
        )
    w3 = node.w3
    hub = deployment.address("RoleHub")
    for name in PLATFORM_CONTRACTS:
        if name not in deployment.contracts:
            raise ChainError(f"{path} has no {name}: {REDEPLOY_HINT}")
        info = deployment.contracts[name]
        with error_decoder().guard(f"read the code of {name}", node.url):
            code = bytes(w3.eth.get_code(info.address))
        if not code:
            raise ChainError(
                f"no contract at {info.address} ({name}) on chain {node.chain_id}: the chain was "
                f"reset or the deployment is from elsewhere; {REDEPLOY_HINT}"
            )
        if normalized_code_hash(name, code) != expected_code_hash(name):
            raise ChainError(
                f"the code of {name} at {info.address} does not match "
                f"contracts/artifacts/{name}.json (the contracts changed since deployment): "
                f"{REDEPLOY_HINT}"
            )
        if "0x" + keccak(code).hex() != info.code_hash:
            raise ChainError(
                f"the code hash of {name} at {info.address} differs from {path}: {REDEPLOY_HINT}"
            )
        if name != "RoleHub":
            contract = w3.eth.contract(address=info.address, abi=load_artifact(name)["abi"])
            with error_decoder().guard(f"read the role hub of {name}", node.url):
                bound = contract.functions.roleHub().call()
            if to_checksum_address(bound) != hub:
                raise ChainError(
                    f"{name} at {info.address} is bound to role hub {bound}, not {hub}: "
                    f"{REDEPLOY_HINT}"
                )


def deploy(
    settings: Settings,
    admin_key: str | None = None,
    *,
    admin_delay: int = DEFAULT_ADMIN_DELAY,
    timeout: float = 10.0,
) -> Deployment:
    """Deploy the platform contracts once and record them in ``DT_HOME/deployment.json``.

    Idempotent: if ``deployment.json`` matches the code on the chain nothing is sent. On the local
    dev chain the admin defaults to dev account 0 and the demo roles are granted to dev accounts
    1-6 (see :data:`DEMO_ROLE_ACCOUNTS`); elsewhere ``admin_key`` (or ``DT_CHAIN_KEY``) is required
    and becomes the platform ADMIN, handed over later in two steps ``admin_delay`` seconds apart.
    """
    if not 0 <= admin_delay <= MAX_ADMIN_DELAY:
        raise ChainError(
            f"the ADMIN handover delay must be 0 to {MAX_ADMIN_DELAY} seconds (30 days), got "
            f"{admin_delay}"
        )
    node = connect_node(settings.effective_chain_rpc, timeout)
    key = admin_key or settings.chain_key
    if key is None:
        if not node.is_dev_chain:
            raise ChainError(
                f"deploying on chain {node.chain_id} ({node.url}) needs a funded key: set "
                "DT_CHAIN_KEY (it becomes the platform ADMIN)"
            )
        key = dev_key("ADMIN")
    account = account_from_key(key, node)

    existing = load_deployment(settings)
    if existing is not None and existing.chain_id == node.chain_id:
        try:
            verify_deployment(node, existing, settings)
            return existing
        except ChainUnavailable:
            raise  # unreachable is not stale: never redeploy over a deployment we could not see
        except ChainError:
            pass  # stale (chain reset, contracts changed): deploy afresh below

    w3 = node.w3
    addresses: dict[str, str] = {}
    first_block: int | None = None
    for name in PLATFORM_CONTRACTS:
        artifact = load_artifact(name)
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        args = [account.address, admin_delay] if name == "RoleHub" else [addresses["RoleHub"]]
        _, receipt = send_transaction(node, account, factory.constructor(*args), f"deploy {name}")
        addresses[name] = to_checksum_address(receipt["contractAddress"])
        first_block = first_block if first_block is not None else int(receipt["blockNumber"])

    demo_roles: dict[str, str] = {}
    if node.is_dev_chain:
        hub = w3.eth.contract(address=addresses["RoleHub"], abi=load_artifact("RoleHub")["abi"])
        accounts = dev_accounts()
        for role, index in DEMO_ROLE_ACCOUNTS.items():
            member = accounts[index].address
            # ADMIN is the deployer, made so by the constructor (and never granted).
            if role != "ADMIN" and not hub.functions.hasRole(ROLE_IDS[role], member).call():
                call = hub.functions.grantRole(ROLE_IDS[role], member)
                send_transaction(node, account, call, f"grant the demo {role} role")
            demo_roles[role] = member

    contracts: dict[str, ContractInfo] = {}
    for name, address in addresses.items():
        code = bytes(w3.eth.get_code(address))
        contracts[name] = ContractInfo(address, "0x" + keccak(code).hex())
    deployment = Deployment(
        chain_id=node.chain_id,
        contracts=contracts,
        block=first_block or 0,
        deployer=account.address,
        artifacts_hash=artifacts_hash(),
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        demo_roles=demo_roles,
        created=True,
    )
    verify_deployment(node, deployment, settings)
    _write_deployment(settings.deployment_path, deployment)
    return deployment
