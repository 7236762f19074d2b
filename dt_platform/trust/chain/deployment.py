"""Deploying the platform contracts once, recording them in ``DT_HOME/deployment.json``, and
checking on every connect that the chain still holds that deployment: the block it was deployed
in, and at the recorded addresses the code we compiled.

``deploy`` never silently replaces a recorded deployment on the same chain: when the recorded
contracts are live it does nothing; when the chain was reset (:class:`ChainReset`) or holds other
code there (:class:`DeploymentMismatch`) it refuses unless told ``after_reset`` or ``replace``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import BlockNotFound

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
    "ChainReset",
    "ContractInfo",
    "DeployRefused",
    "Deployment",
    "DeploymentMismatch",
    "DeploymentProblem",
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
REPLACE_HINT = f"{REDEPLOY_HINT} and its --replace flag"
RESET_HINT = (
    "the chain was reset (or is another chain with the same id): every anchor, role, twin and "
    "grant of that deployment is gone from it; deploy anew with `dt-platform chain deploy "
    "--after-reset`, and the warehouse's anchored days must then be anchored again (the anchor "
    "reconciliation re-queues every day the chain does not hold)"
)

DEFAULT_ADMIN_DELAY = 2 * 86_400
"""Seconds an ADMIN handover waits before the new ADMIN may accept it (RoleHub's delay)."""
MAX_ADMIN_DELAY = 30 * 86_400
"""Longest handover delay ``deploy`` accepts: a longer one would make ADMIN hard to move."""


class DeploymentProblem(ChainError):
    """The chain does not hold the recorded deployment as recorded; ``problem`` says what differs
    (the message adds what to do)."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(f"{problem}: {hint}")
        self.problem = problem


class ChainReset(DeploymentProblem):
    """The chain no longer holds the recorded deployment (reset, or another chain with the same
    id): its deploy block is missing or different, or no recorded address holds code."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem, RESET_HINT)


class DeploymentMismatch(DeploymentProblem):
    """The recorded addresses hold code, but not the recorded or compiled code (the contracts
    changed since deployment, the record was edited, or the code was replaced)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem, REPLACE_HINT)


class DeployRefused(ChainError):
    """``deploy`` would replace a deployment recorded for this chain and was not told to:
    ``found`` is the :class:`ChainReset` or :class:`DeploymentMismatch` that stopped it."""

    def __init__(self, message: str, found: DeploymentProblem) -> None:
        super().__init__(message)
        self.found = found


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
    block_hash: str | None = None
    """Hash of ``block`` when deployed: a reset chain has another block there, or none."""
    created: bool = False
    """True when this call deployed the contracts (not persisted)."""

    def address(self, name: str) -> str:
        return self.contracts[name].address

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "block": self.block,
            "block_hash": self.block_hash,
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
            block_hash=data.get("block_hash"),
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
        raise DeploymentMismatch(f"{path} is not a valid deployment record ({exc})") from exc


def _write_deployment(path: Path, deployment: Deployment) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        # Never lose the record of an earlier deployment (its anchors stay on-chain).
        os.replace(path, path.with_name("deployment.previous.json"))
    atomic_write_text(path, json.dumps(deployment.to_json(), indent=2) + "\n")


def _check_deploy_block(node: NodeInfo, deployment: Deployment, path: Path) -> None:
    """:class:`ChainReset` unless the block the contracts were deployed in is on this chain."""
    with error_decoder().guard("read the deployment block", node.url):
        try:
            block = node.w3.eth.get_block(deployment.block)
        except BlockNotFound:
            block = None
    recorded = f"{path} records contracts deployed in block {deployment.block}"
    if block is None:
        raise ChainReset(f"{recorded}, but {node.url} has no block {deployment.block}")
    if deployment.block_hash is not None and block["hash"].to_0x_hex() != deployment.block_hash:
        raise ChainReset(
            f"{recorded} ({deployment.block_hash}), but block {deployment.block} of {node.url} "
            "is another block"
        )


def _check_code(node: NodeInfo, deployment: Deployment, name: str, code: bytes, path: Path) -> None:
    info = deployment.contracts[name]
    if not code:
        raise DeploymentMismatch(
            f"no contract at {info.address} ({name}) on chain {node.chain_id}, though other "
            "recorded addresses hold code"
        )
    if normalized_code_hash(name, code) != expected_code_hash(name):
        raise DeploymentMismatch(
            f"the code of {name} at {info.address} does not match "
            f"contracts/artifacts/{name}.json (the contracts changed since deployment)"
        )
    if "0x" + keccak(code).hex() != info.code_hash:
        raise DeploymentMismatch(f"the code hash of {name} at {info.address} differs from {path}")
    if name != "RoleHub":
        hub = deployment.address("RoleHub")
        contract = node.w3.eth.contract(address=info.address, abi=load_artifact(name)["abi"])
        with error_decoder().guard(f"read the role hub of {name}", node.url):
            bound = contract.functions.roleHub().call()
        if to_checksum_address(bound) != hub:
            raise DeploymentMismatch(
                f"{name} at {info.address} is bound to role hub {bound}, not {hub}"
            )


def verify_deployment(node: NodeInfo, deployment: Deployment, settings: Settings) -> None:
    """Raise :class:`ChainError` unless ``node`` runs exactly the recorded, compiled contracts.

    Checks the chain id; that the block the contracts were deployed in is still on the chain and
    some recorded address holds code (else :class:`ChainReset`); and that each address holds code
    whose hash (immutables zeroed) equals the artifact's, that it is the code recorded at deploy
    time, and that every gated contract is bound to the recorded role hub (else
    :class:`DeploymentMismatch`).
    """
    path = settings.deployment_path
    if deployment.chain_id != node.chain_id:
        raise ChainError(
            f"{path} records chain id {deployment.chain_id} but {node.url} is chain id "
            f"{node.chain_id}: point DT_CHAIN_RPC at the right chain or {REDEPLOY_HINT}"
        )
    missing = [name for name in PLATFORM_CONTRACTS if name not in deployment.contracts]
    if missing:
        raise DeploymentMismatch(f"{path} has no {', '.join(missing)}")
    _check_deploy_block(node, deployment, path)
    codes: dict[str, bytes] = {}
    for name in PLATFORM_CONTRACTS:
        with error_decoder().guard(f"read the code of {name}", node.url):
            codes[name] = bytes(node.w3.eth.get_code(deployment.address(name)))
    if not any(codes.values()):
        raise ChainReset(
            f"{path} records contracts on chain {node.chain_id}, but {node.url} has no code at "
            "any of their addresses"
        )
    for name, code in codes.items():
        _check_code(node, deployment, name, code, path)


def _live_deployment(
    node: NodeInfo, settings: Settings, *, after_reset: bool, replace: bool
) -> Deployment | None:
    """The recorded deployment if it is live on ``node``; ``None`` if ``deploy`` may deploy anew.

    Raises the refusal when a deployment recorded for this chain was reset or does not match and
    the caller did not pass ``after_reset`` or ``replace`` (and never decides on an unreachable
    chain).
    """
    path = settings.deployment_path
    try:
        existing = load_deployment(settings)
        if existing is None or existing.chain_id != node.chain_id:
            return None  # nothing recorded for this chain (another chain's record is kept)
        verify_deployment(node, existing, settings)
    except ChainUnavailable:
        raise  # unreachable is not stale: never redeploy over a deployment we could not see
    except ChainReset as exc:
        if after_reset:
            return None
        raise DeployRefused(
            f"refusing to deploy over {path}: {exc.problem}, so the chain was reset (or is "
            "another chain with the same id). Every anchor, role, twin and grant of that "
            "deployment is gone from it, and after deploying anew the warehouse's anchored days "
            "must be anchored again (the anchor reconciliation re-queues every day the chain does "
            "not hold). Run `dt-platform chain deploy --after-reset` to deploy anew; the old "
            "record is kept as deployment.previous.json",
            exc,
        ) from exc
    except DeploymentMismatch as exc:
        if replace:
            return None
        raise DeployRefused(
            f"refusing to deploy over {path}: {exc.problem}. Deploying replaces the recorded "
            "contracts: the platform then uses new, empty ones (roles, twins, anchors and grants "
            "start over; the warehouse's anchored days must be anchored again) and the old ones "
            "stay readable at the addresses kept in deployment.previous.json. Run "
            "`dt-platform chain deploy --replace` to do it",
            exc,
        ) from exc
    return existing


def _grant_demo_roles(node: NodeInfo, account: LocalAccount, hub_address: str) -> dict[str, str]:
    """On the local dev chain, give each demo role to its dev account (ADMIN is the deployer)."""
    hub = node.w3.eth.contract(address=hub_address, abi=load_artifact("RoleHub")["abi"])
    accounts = dev_accounts()
    demo_roles: dict[str, str] = {}
    for role, index in DEMO_ROLE_ACCOUNTS.items():
        member = accounts[index].address
        if role != "ADMIN" and not hub.functions.hasRole(ROLE_IDS[role], member).call():
            call = hub.functions.grantRole(ROLE_IDS[role], member)
            send_transaction(node, account, call, f"grant the demo {role} role")
        demo_roles[role] = member
    return demo_roles


def deploy(
    settings: Settings,
    admin_key: str | None = None,
    *,
    admin_delay: int = DEFAULT_ADMIN_DELAY,
    after_reset: bool = False,
    replace: bool = False,
    timeout: float = 10.0,
) -> Deployment:
    """Deploy the platform contracts once and record them in ``DT_HOME/deployment.json``.

    Idempotent: if ``deployment.json`` matches the code on the chain nothing is sent. If it
    records this chain but the chain was reset, deploying anew needs ``after_reset``; if the
    recorded contracts are there but differ (e.g. the contracts were rebuilt), replacing them
    needs ``replace``; the old record is kept as ``deployment.previous.json``. On the local dev
    chain the admin defaults to dev account 0 and the demo roles are granted to dev accounts 1-6
    (see :data:`DEMO_ROLE_ACCOUNTS`); elsewhere ``admin_key`` (or ``DT_CHAIN_KEY``) is required
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
    existing = _live_deployment(node, settings, after_reset=after_reset, replace=replace)
    if existing is not None:
        return existing

    addresses: dict[str, str] = {}
    first: Any = None
    for name in PLATFORM_CONTRACTS:
        artifact = load_artifact(name)
        factory = node.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        args = [account.address, admin_delay] if name == "RoleHub" else [addresses["RoleHub"]]
        _, receipt = send_transaction(node, account, factory.constructor(*args), f"deploy {name}")
        addresses[name] = to_checksum_address(receipt["contractAddress"])
        first = first if first is not None else receipt

    demo_roles = {}
    if node.is_dev_chain:
        demo_roles = _grant_demo_roles(node, account, addresses["RoleHub"])
    contracts: dict[str, ContractInfo] = {}
    for name, address in addresses.items():
        with error_decoder().guard(f"read the code of {name}", node.url):
            code = bytes(node.w3.eth.get_code(address))
        contracts[name] = ContractInfo(address, "0x" + keccak(code).hex())
    deployment = Deployment(
        chain_id=node.chain_id,
        contracts=contracts,
        block=int(first["blockNumber"]),
        block_hash=HexBytes(first["blockHash"]).to_0x_hex(),
        deployer=account.address,
        artifacts_hash=artifacts_hash(),
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        demo_roles=demo_roles,
        created=True,
    )
    verify_deployment(node, deployment, settings)
    _write_deployment(settings.deployment_path, deployment)
    return deployment
