"""Client of the on-chain trust layer: deploy the contracts, anchor partitions, verify records,
read and manage roles, twins and data grants, on any JSON-RPC node. An anchor keeps one seal in
storage and its CID, root and reason in its event (see :mod:`.anchors`).

Typical use::

    from dt_platform.config import load_settings
    from dt_platform.trust.chain import AuditChain, ChainUnavailable, deploy

    settings = load_settings()
    deploy(settings)                       # once; idempotent, refuses to replace a live one
    chain = AuditChain.connect(settings)   # checks chain id and code hashes
    receipt = chain.anchor("telemetry/2026-11-20", tree.root, cid, len(tree))
"""

from dt_platform.trust.chain.addresses import checked_address
from dt_platform.trust.chain.anchors import AnchorMismatch, anchor_seal, cid_digest
from dt_platform.trust.chain.artifacts import PLATFORM_CONTRACTS, load_artifact
from dt_platform.trust.chain.client import (
    AdminHandover,
    Anchor,
    AnchorReceipt,
    AuditChain,
    Grant,
    Twin,
)
from dt_platform.trust.chain.deployment import (
    DEFAULT_ADMIN_DELAY,
    DEMO_ROLE_ACCOUNTS,
    MAX_ADMIN_DELAY,
    ChainReset,
    ContractInfo,
    Deployment,
    DeploymentMismatch,
    DeployRefused,
    deploy,
    dev_key,
    load_deployment,
    verify_deployment,
)
from dt_platform.trust.chain.errors import (
    MAX_GRANT_DAYS,
    ROLE_IDS,
    ChainError,
    ChainUnavailable,
    role_id,
)
from dt_platform.trust.chain.rpc import NodeInfo, TxResult, connect_node

__all__ = [
    "DEFAULT_ADMIN_DELAY",
    "DEMO_ROLE_ACCOUNTS",
    "MAX_ADMIN_DELAY",
    "MAX_GRANT_DAYS",
    "PLATFORM_CONTRACTS",
    "ROLE_IDS",
    "AdminHandover",
    "Anchor",
    "AnchorMismatch",
    "AnchorReceipt",
    "AuditChain",
    "ChainError",
    "ChainReset",
    "ChainUnavailable",
    "ContractInfo",
    "DeployRefused",
    "Deployment",
    "DeploymentMismatch",
    "Grant",
    "NodeInfo",
    "Twin",
    "TxResult",
    "anchor_seal",
    "checked_address",
    "cid_digest",
    "connect_node",
    "deploy",
    "dev_key",
    "load_artifact",
    "load_deployment",
    "role_id",
    "verify_deployment",
]
