"""``AuditChain``: the platform's one client for its contracts (anchors, roles, twins, grants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from dt_platform.config import Settings
from dt_platform.trust.chain.addresses import checked_address
from dt_platform.trust.chain.anchors import Anchor, AnchorReceipt, AnchorsMixin, uint_arg
from dt_platform.trust.chain.artifacts import PLATFORM_CONTRACTS, error_decoder, load_artifact
from dt_platform.trust.chain.deployment import (
    Deployment,
    dev_key,
    load_deployment,
    verify_deployment,
)
from dt_platform.trust.chain.errors import MAX_GRANT_DAYS, ROLE_IDS, ChainError, role_id
from dt_platform.trust.chain.rpc import (
    NodeInfo,
    TxResult,
    account_from_key,
    connect_node,
    send_transaction,
)

__all__ = ["AdminHandover", "Anchor", "AnchorReceipt", "AuditChain", "Grant", "Twin"]

MATURITY_LEVELS = {
    1: "digital model",
    2: "digital shadow",
    3: "digital twin",
    4: "intelligent twin",
}


@dataclass(frozen=True)
class Twin:
    twin_id: str
    machine_type: str
    metadata_cid: str
    maturity: int
    registered_at: int
    updated_at: int
    updated_by: str

    @property
    def maturity_name(self) -> str:
        return MATURITY_LEVELS.get(self.maturity, "unknown")


@dataclass(frozen=True)
class Grant:
    dataset: str
    grantee: str
    expires_at: int
    """Unix seconds; access holds while the block time is before it."""
    active: bool
    """Not expired, and its granter still holds the MANAGER role it granted under."""
    granted_by: str = ""
    """The MANAGER who made (or last renewed) the grant."""


@dataclass(frozen=True)
class AdminHandover:
    """Who is ADMIN, and the two-step handover of ADMIN to another account, if one is pending."""

    admin: str
    delay: int
    """Seconds between starting a handover and the earliest time it may be accepted."""
    pending_admin: str | None
    accept_after: int | None
    """Unix seconds; the pending admin may accept once the block time is past it."""


class AuditChain(AnchorsMixin):
    """Connected, verified access to the deployed platform contracts.

    Build it with :meth:`connect`. Without a signing key (no ``DT_CHAIN_KEY`` on a non-dev chain)
    the client is read-only: views work, writes raise :class:`ChainError`.
    """

    def __init__(
        self,
        node: NodeInfo,
        deployment: Deployment,
        account: LocalAccount | None,
        *,
        receipt_timeout: float = 120.0,
    ) -> None:
        self.node = node
        self.deployment = deployment
        self.account = account
        self.receipt_timeout = receipt_timeout
        w3 = node.w3
        self._c: dict[str, Contract] = {
            name: w3.eth.contract(address=deployment.address(name), abi=load_artifact(name)["abi"])
            for name in PLATFORM_CONTRACTS
        }
        self.hub = self._c["RoleHub"]
        self.twins_contract = self._c["TwinRegistry"]
        self.anchors_contract = self._c["AuditAnchors"]
        self.grants_contract = self._c["DataGrants"]
        self._block_times = {}

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        settings: Settings,
        key: str | None = None,
        *,
        dev_role: str = "OPERATOR",
        read_only: bool = False,
        timeout: float = 10.0,
        receipt_timeout: float = 120.0,
    ) -> AuditChain:
        """Connect to ``settings.effective_chain_rpc`` and check it runs our contracts.

        ``key`` defaults to ``settings.chain_key`` and, on the local dev chain only, to the key of
        the dev account holding ``dev_role`` (the OPERATOR, i.e. the pipeline publisher, unless
        told otherwise). anvil's public dev keys are refused on any other chain. ``read_only``
        connects without any key (views only), e.g. for the dashboard. Raises
        :class:`ChainUnavailable` if the node cannot be reached and :class:`ChainError` if the
        chain id or the deployed code do not match ``deployment.json``.
        """
        node = connect_node(settings.effective_chain_rpc, timeout)
        key = None if read_only else key or settings.chain_key
        if key is None and node.is_dev_chain and not read_only:
            key = dev_key(dev_role)
        account = account_from_key(key, node) if key is not None else None
        deployment = load_deployment(settings)
        if deployment is None:
            raise ChainError(
                f"no deployment recorded at {settings.deployment_path}: run "
                "`dt-platform chain deploy`"
            )
        verify_deployment(node, deployment, settings)
        return cls(node, deployment, account, receipt_timeout=receipt_timeout)

    # --- plumbing -------------------------------------------------------------------------------

    @property
    def address(self) -> str | None:
        """Address of the signing key, or ``None`` for a read-only client."""
        return self.account.address if self.account else None

    @property
    def chain_id(self) -> int:
        return self.node.chain_id

    def _call(self, fn: ContractFunction, action: str) -> Any:
        with error_decoder().guard(action, self.node.url):
            return fn.call()

    def _send(self, fn: ContractFunction, action: str) -> tuple[TxResult, Any]:
        if self.account is None:
            raise ChainError(
                f"cannot {action}: this client is read-only; set DT_CHAIN_KEY to sign transactions"
            )
        return send_transaction(
            self.node, self.account, fn, action, receipt_timeout=self.receipt_timeout
        )

    def block_number(self) -> int:
        with error_decoder().guard("read the block number", self.node.url):
            return int(self.node.w3.eth.block_number)

    # --- roles ----------------------------------------------------------------------------------

    def has_role(self, role: str, account: str) -> bool:
        fn = self.hub.functions.hasRole(role_id(role), checked_address(account))
        return bool(self._call(fn, "read roles"))

    def roles_of(self, account: str) -> set[str]:
        """Short names (``ADMIN``, ``OPERATOR``, …) of the roles ``account`` holds (one call)."""
        flags = self._call(self.hub.functions.rolesOf(checked_address(account)), "read roles")
        return {name for name, held in zip(ROLE_IDS, flags, strict=True) if held}

    def members(self, role: str) -> list[str]:
        """Accounts holding ``role``, in no particular order."""
        fn = self.hub.functions.getRoleMembers(role_id(role))
        return [to_checksum_address(a) for a in self._call(fn, f"list {role} members")]

    def grant_role(self, role: str, account: str) -> TxResult:
        """Grant ``role`` to ``account`` (ADMIN only; ADMIN itself is handed over instead)."""
        fn = self.hub.functions.grantRole(role_id(role), checked_address(account))
        return self._send(fn, "grant roles")[0]

    def revoke_role(self, role: str, account: str) -> TxResult:
        """Revoke ``role`` from ``account`` (ADMIN only; ADMIN itself is handed over instead)."""
        fn = self.hub.functions.revokeRole(role_id(role), checked_address(account))
        return self._send(fn, "revoke roles")[0]

    # --- the ADMIN handover ---------------------------------------------------------------------

    def admin_handover(self) -> AdminHandover:
        """The ADMIN, the handover delay, and the pending handover if any."""
        admin = self._call(self.hub.functions.defaultAdmin(), "read the ADMIN")
        delay = self._call(self.hub.functions.defaultAdminDelay(), "read the ADMIN delay")
        pending, schedule = self._call(
            self.hub.functions.pendingDefaultAdmin(), "read the ADMIN handover"
        )
        has_pending = int(schedule) != 0
        return AdminHandover(
            admin=to_checksum_address(admin),
            delay=int(delay),
            pending_admin=to_checksum_address(pending) if has_pending else None,
            accept_after=int(schedule) if has_pending else None,
        )

    def begin_admin_handover(self, new_admin: str) -> TxResult:
        """Start handing ADMIN over to ``new_admin`` (ADMIN only); it may accept after the delay.

        Starting again replaces the pending handover (and restarts the delay).
        """
        account = checked_address(new_admin, "the new ADMIN", allow_zero=False)
        fn = self.hub.functions.beginDefaultAdminTransfer(account)
        return self._send(fn, "hand ADMIN over")[0]

    def accept_admin_handover(self) -> TxResult:
        """Accept a pending ADMIN handover; signed by the pending ADMIN, once the delay passed."""
        fn = self.hub.functions.acceptDefaultAdminTransfer()
        return self._send(fn, "accept the ADMIN handover")[0]

    def cancel_admin_handover(self) -> TxResult:
        """Cancel the pending ADMIN handover (ADMIN only)."""
        fn = self.hub.functions.cancelDefaultAdminTransfer()
        return self._send(fn, "cancel the ADMIN handover")[0]

    # --- twin registry --------------------------------------------------------------------------

    def register_twin(
        self, twin_id: str, machine_type: str, metadata_cid: str, maturity: int
    ) -> TxResult:
        """Register a twin (OPERATOR or ADMIN)."""
        fn = self.twins_contract.functions.registerTwin(
            twin_id, machine_type, metadata_cid, uint_arg(maturity, 8, "the maturity")
        )
        return self._send(fn, "register twins")[0]

    def update_twin(self, twin_id: str, metadata_cid: str, maturity: int) -> TxResult:
        """Change a twin's metadata CID and maturity (OPERATOR or ADMIN)."""
        fn = self.twins_contract.functions.updateTwin(
            twin_id, metadata_cid, uint_arg(maturity, 8, "the maturity")
        )
        return self._send(fn, "update twins")[0]

    def get_twin(self, twin_id: str) -> Twin | None:
        """The registered twin, or ``None``."""
        if not self._call(self.twins_contract.functions.isRegistered(twin_id), "read twins"):
            return None
        t = self._call(self.twins_contract.functions.getTwin(twin_id), "read twins")
        return Twin(t[0], t[1], t[2], int(t[3]), int(t[4]), int(t[5]), to_checksum_address(t[6]))

    def twins(self, page: int = 500) -> list[Twin]:
        """Every registered twin, in registration order."""
        total = int(self._call(self.twins_contract.functions.twinCount(), "count twins"))
        ids: list[str] = []
        for start in range(0, total, page):
            ids += self._call(self.twins_contract.functions.twinIds(start, start + page), "list")
        return [t for t in (self.get_twin(i) for i in ids) if t is not None]

    # --- data-sharing grants --------------------------------------------------------------------

    def grant_access(self, dataset: str, grantee: str, expires_at: int | datetime) -> TxResult:
        """Share ``dataset`` with ``grantee`` until ``expires_at`` (MANAGER only).

        The expiry must lie after the block time and at most :data:`MAX_GRANT_DAYS` after it
        (see :meth:`latest_grant_expiry`); the grant also ends when the signer loses MANAGER.
        """
        if isinstance(expires_at, datetime):
            if expires_at.tzinfo is None:
                raise ChainError("expires_at must be timezone-aware (e.g. UTC)")
            expires_at = int(expires_at.timestamp())
        fn = self.grants_contract.functions.grantAccess(
            dataset,
            checked_address(grantee, "the grantee"),
            uint_arg(expires_at, 64, "the expiry (unix seconds)"),
        )
        return self._send(fn, "grant data access")[0]

    def latest_grant_expiry(self) -> int:
        """The latest expiry a grant may have if sent now: the latest block's time plus
        ``DataGrants.MAX_GRANT_DURATION`` (a later block only moves it later)."""
        with error_decoder().guard("read the block time", self.node.url):
            block_time = int(self.node.w3.eth.get_block("latest")["timestamp"])
        return block_time + MAX_GRANT_DAYS * 86_400

    def revoke_access(self, dataset: str, grantee: str) -> TxResult:
        """End ``grantee``'s access to ``dataset`` now (MANAGER only)."""
        fn = self.grants_contract.functions.revokeAccess(
            dataset, checked_address(grantee, "the grantee")
        )
        return self._send(fn, "revoke data access")[0]

    def has_access(self, dataset: str, account: str) -> bool:
        """Whether ``account`` may read ``dataset`` now: granted, not expired at the current block
        time, and granted by an account that still holds the MANAGER role it granted under."""
        fn = self.grants_contract.functions.hasAccess(dataset, checked_address(account))
        return bool(self._call(fn, "read grants"))

    def grants(self, dataset: str) -> list[Grant]:
        """Every grant of ``dataset`` (expired or ended ones marked inactive)."""
        rows = self._call(self.grants_contract.functions.grantsOf(dataset), "list grants")
        return [
            Grant(
                dataset,
                to_checksum_address(grantee),
                int(expires_at),
                bool(active),
                to_checksum_address(granted_by),
            )
            for grantee, expires_at, granted_by, active in rows
        ]

    def grant_expiry(self, dataset: str, account: str) -> datetime | None:
        """When ``account``'s access to ``dataset`` ends, or ``None`` if it has none now."""
        account = checked_address(account)
        if not self.has_access(dataset, account):
            return None
        fn = self.grants_contract.functions.expiryOf(dataset, account)
        return datetime.fromtimestamp(int(self._call(fn, "read grants")), UTC)

    def datasets_of(self, account: str) -> list[str]:
        """Datasets shared with ``account`` (expired and ended grants included)."""
        fn = self.grants_contract.functions.datasetsOf(checked_address(account))
        return list(self._call(fn, "list grants"))
