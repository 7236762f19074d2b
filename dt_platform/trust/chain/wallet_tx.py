"""Governance transactions a browser wallet signs and sends (``eth_sendTransaction``): granting
and revoking roles (ADMIN) and data-sharing grants (MANAGER) from the dashboard.

The server holds no key. It builds the unsigned call (:class:`UnsignedTx`: to, ABI-encoded data,
chain id, gas, from = the signed-in address) only after asking the chain that the sender holds
the role the contract requires (:class:`NotPermitted` otherwise, before anything reaches the
wallet), and estimates its gas as that sender, so a call the contract would refuse (an expiry too
late, no such grant) is refused with the contract's own reason before sending. The contract
enforces the role anyway. Once the wallet says it sent the transaction, :func:`wait_mined` waits
for the receipt, checks that the mined transaction is the one built (sender, contract, data) and
returns where it was mined, or raises the decoded revert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hexbytes import HexBytes
from web3.exceptions import TimeExhausted, TransactionNotFound

from dt_platform.trust.chain.addresses import checked_address
from dt_platform.trust.chain.anchors import uint_arg
from dt_platform.trust.chain.artifacts import error_decoder
from dt_platform.trust.chain.client import AuditChain
from dt_platform.trust.chain.errors import ROLE_WHO, ChainError, ChainUnavailable, role_id
from dt_platform.trust.chain.rpc import GAS_MARGIN, TxResult

__all__ = [
    "GOVERNANCE",
    "NotPermitted",
    "Operation",
    "UnsignedTx",
    "access_tx",
    "role_tx",
    "wait_mined",
]

_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
MAX_DATASET_CHARS = 200


@dataclass(frozen=True)
class Operation:
    """A governance call: which contract function, the role it needs, and its name in errors."""

    contract: str
    function: str
    role: str
    action: str


GOVERNANCE: dict[str, Operation] = {
    "grant_role": Operation("RoleHub", "grantRole", "ADMIN", "grant roles"),
    "revoke_role": Operation("RoleHub", "revokeRole", "ADMIN", "revoke roles"),
    "grant_access": Operation("DataGrants", "grantAccess", "MANAGER", "grant data access"),
    "revoke_access": Operation("DataGrants", "revokeAccess", "MANAGER", "revoke data access"),
}


class NotPermitted(ChainError):
    """The sender does not hold the role the call needs, as the chain says now: nothing was sent."""


@dataclass(frozen=True)
class UnsignedTx:
    """A call for the wallet to sign and send, as the server built it."""

    op: str
    sender: str
    to: str
    data: str
    chain_id: int
    gas: int
    summary: str
    """What it does, in words (shown with the wallet prompt and the outcome)."""

    def to_rpc(self) -> dict[str, str]:
        """The ``eth_sendTransaction`` parameter (hex quantities, as EIP-1193 wallets take it)."""
        return {
            "from": self.sender,
            "to": self.to,
            "data": self.data,
            "value": "0x0",
            "chainId": hex(self.chain_id),
            "gas": hex(self.gas),
        }


def _build(chain: AuditChain, op: str, args: list[Any], sender: str, summary: str) -> UnsignedTx:
    spec = GOVERNANCE[op]
    sender = checked_address(sender, "the signed-in account", allow_zero=False)
    if not chain.has_role(spec.role, sender):
        raise NotPermitted(
            f"{sender} does not hold {spec.role} on chain now: only {ROLE_WHO[spec.role]} may "
            f"{spec.action}. Nothing was sent to your wallet."
        )
    contract = chain.hub if spec.contract == "RoleHub" else chain.grants_contract
    call = getattr(contract.functions, spec.function)(*args)
    with error_decoder().guard(spec.action, chain.node.url):
        gas = int(call.estimate_gas({"from": sender}) * GAS_MARGIN)
    data = contract.encode_abi(spec.function, args=args)
    return UnsignedTx(op, sender, contract.address, data, chain.chain_id, gas, summary)


def role_tx(chain: AuditChain, op: str, role: str, account: str, sender: str) -> UnsignedTx:
    """``grant_role`` or ``revoke_role`` of ``role`` for ``account``, to be sent by ``sender``."""
    if op not in ("grant_role", "revoke_role"):
        raise ValueError(f"not a role operation: {op!r}")
    rid = role_id(role)
    name = role.strip().upper().removesuffix("_ROLE")
    if name in ("ADMIN", "DEFAULT_ADMIN"):
        raise ChainError(
            "ADMIN is never granted or revoked directly: it is handed over in two steps "
            "(`dt-platform roles admin handover ADDRESS`)"
        )
    account = checked_address(account, "the account", allow_zero=False)
    verb = "grant" if op == "grant_role" else "revoke"
    summary = f"{verb} {name} {'to' if verb == 'grant' else 'from'} {account}"
    return _build(chain, op, [rid, account], sender, summary)


def access_tx(
    chain: AuditChain,
    op: str,
    dataset: str,
    grantee: str,
    sender: str,
    expires_at: int | datetime | None = None,
) -> UnsignedTx:
    """``grant_access`` of ``dataset`` to ``grantee`` until ``expires_at``, or ``revoke_access``."""
    dataset = dataset.strip() if isinstance(dataset, str) else ""
    if not dataset or len(dataset) > MAX_DATASET_CHARS:
        raise ChainError(f"the dataset id must be 1 to {MAX_DATASET_CHARS} characters")
    grantee = checked_address(grantee, "the grantee", allow_zero=False)
    if op == "revoke_access":
        return _build(chain, op, [dataset, grantee], sender, f"revoke {dataset} from {grantee}")
    if op != "grant_access":
        raise ValueError(f"not a data-grant operation: {op!r}")
    if isinstance(expires_at, datetime):
        if expires_at.tzinfo is None:
            raise ChainError("the expiry must be timezone-aware (e.g. UTC)")
        expires_at = int(expires_at.timestamp())
    if expires_at is None:
        raise ChainError("a grant needs an expiry")
    expiry = uint_arg(expires_at, 64, "the expiry (unix seconds)")
    until = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _build(
        chain,
        op,
        [dataset, grantee, expiry],
        sender,
        f"share {dataset} with {grantee} until {until}",
    )


def wait_mined(chain: AuditChain, tx: UnsignedTx, tx_hash: str, timeout: float = 120.0) -> TxResult:
    """The mined transaction ``tx_hash`` the wallet sent for ``tx``: where it was mined, or the
    decoded revert (:class:`ChainError`); :class:`ChainUnavailable` if it is not mined in time."""
    if not isinstance(tx_hash, str) or not _TX_HASH.fullmatch(tx_hash.strip()):
        raise ChainError(f"the wallet answered {str(tx_hash)[:80]!r}, not a transaction hash")
    tx_hash = tx_hash.strip().lower()
    spec = GOVERNANCE[tx.op]
    w3 = chain.node.w3
    with error_decoder().guard(spec.action, chain.node.url):
        try:
            receipt = w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=timeout, poll_latency=0.1
            )
        except TimeExhausted as exc:
            raise ChainUnavailable(
                f"cannot {spec.action}: transaction {tx_hash} was sent but not mined within "
                f"{timeout:.0f} s; it may still be mined: look it up before sending the same "
                "change again",
                tx_hash=tx_hash,
            ) from exc
        try:
            sent = w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound as exc:
            raise ChainError(f"transaction {tx_hash} is unknown to the chain") from exc
    if (
        str(sent["from"]).lower() != tx.sender.lower()
        or str(sent.get("to") or "").lower() != tx.to.lower()
        or HexBytes(sent["input"]) != HexBytes(tx.data)
    ):
        raise ChainError(
            f"transaction {tx_hash} is not the one this page built ({tx.summary}): the wallet "
            "sent another call or from another account; check it in your wallet"
        )
    result = TxResult(tx_hash, int(receipt["gasUsed"]), int(receipt["blockNumber"]))
    if receipt["status"] == 1:
        return result
    where = f"transaction {tx_hash} was mined in block {result.block_number} but reverted"
    try:
        with error_decoder().guard(spec.action, chain.node.url):
            w3.eth.call(
                {"from": tx.sender, "to": tx.to, "data": tx.data},
                block_identifier=result.block_number,
            )
    except ChainUnavailable:
        pass
    except ChainError as exc:
        raise ChainError(
            f"{exc.message} ({where})", error_name=exc.error_name, error_args=exc.error_args
        ) from None
    raise ChainError(f"cannot {spec.action}: {where}")
