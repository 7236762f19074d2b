"""Talking to any JSON-RPC node: connect, identify the chain, sign locally and send.

Every transaction is built with ``build_transaction``, signed here with the local key and sent
with ``send_raw_transaction``: no node-side account is needed, so the same code works on anvil,
a testnet node or a hosted RPC.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import BadResponseFormat, TimeExhausted, Web3RPCError
from web3.types import TxReceipt

from dt_platform.config import LOCAL_CHAIN_ID
from dt_platform.trust.chain.artifacts import error_decoder
from dt_platform.trust.chain.errors import ChainError, ChainUnavailable
from dt_platform.trust.dev_accounts import is_dev_address

__all__ = ["NodeInfo", "TxResult", "account_from_key", "connect_node", "send_transaction"]

GAS_MARGIN = 1.2
"""Gas limit = estimate x margin: state may shift a little between estimate and inclusion."""
NONCE_ATTEMPTS = 5
_NONCE_CLASH = re.compile(
    r"nonce too low|replacement transaction underpriced|already known|already imported", re.I
)


@dataclass(frozen=True)
class NodeInfo:
    """Who we are talking to."""

    w3: Web3
    url: str
    chain_id: int
    client_version: str

    @property
    def is_dev_chain(self) -> bool:
        """The local development chain: anvil with chain id 31337 (where dev keys are allowed)."""
        return self.chain_id == LOCAL_CHAIN_ID and self.client_version.lower().startswith("anvil")


@dataclass(frozen=True)
class TxResult:
    """A mined transaction."""

    tx_hash: str
    gas_used: int
    block_number: int


def connect_node(url: str, timeout: float = 10.0) -> NodeInfo:
    """Open ``url`` and read its chain id and client version.

    Raises :class:`ChainUnavailable` if nothing answers. web3's own retry loop is disabled so an
    unreachable node is reported at once: the caller decides when to retry.
    """
    provider = Web3.HTTPProvider(
        url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    w3 = Web3(provider)
    try:
        with error_decoder().guard("connect to the chain", url):
            chain_id = int(w3.eth.chain_id)
            client_version = str(w3.client_version)
    except (ValueError, TypeError, BadResponseFormat) as exc:
        # Something answers HTTP there, but not as an Ethereum node (a web page, another API).
        raise ChainError(
            f"cannot connect to the chain: {url} does not answer as an Ethereum JSON-RPC node "
            f"({type(exc).__name__}): check DT_CHAIN_RPC"
        ) from exc
    return NodeInfo(w3=w3, url=url, chain_id=chain_id, client_version=client_version)


def account_from_key(key: str | bytes, node: NodeInfo) -> LocalAccount:
    """The signer for ``key``, refusing anvil's public dev keys anywhere but the local dev chain."""
    try:
        account: LocalAccount = Account.from_key(key)
    except (ValueError, TypeError) as exc:
        raise ChainError(
            "the chain key is not a valid private key (expected 32 bytes in hex): check "
            "DT_CHAIN_KEY"
        ) from exc
    if is_dev_address(account.address) and not node.is_dev_chain:
        raise ChainError(
            f"refusing to sign with {account.address}: it is one of anvil's public dev keys "
            "(the `test test … junk` mnemonic), which anyone can use, and the chain at "
            f"{node.url} (chain id {node.chain_id}, {node.client_version}) is not the local dev "
            "chain; set DT_CHAIN_KEY to a key of your own"
        )
    return account


def send_transaction(
    node: NodeInfo,
    account: LocalAccount,
    call: ContractFunction | ContractConstructor,
    action: str,
    *,
    receipt_timeout: float = 120.0,
) -> tuple[TxResult, TxReceipt]:
    """Estimate, build, sign locally, send raw and wait for the receipt.

    A revert shows up at estimation and is raised as a decoded :class:`ChainError`; an
    unreachable node or a receipt that does not come in time as :class:`ChainUnavailable`.
    """
    w3 = node.w3
    with error_decoder().guard(action, node.url):
        gas = call.estimate_gas({"from": account.address})
    for attempt in range(NONCE_ATTEMPTS):
        with error_decoder().guard(action, node.url):
            params: dict[str, Any] = {
                "from": account.address,
                "gas": int(gas * GAS_MARGIN),
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                "chainId": node.chain_id,
            }
            tx = call.build_transaction(params)  # type: ignore[arg-type]
            signed = account.sign_transaction(tx)
            try:
                tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            except Web3RPCError as exc:
                # Another process sending with the same key took this nonce: take the next one.
                if attempt + 1 < NONCE_ATTEMPTS and _NONCE_CLASH.search(str(exc.message)):
                    time.sleep(0.1 * (attempt + 1))
                    continue
                raise
        break
    sent = HexBytes(tx_hash).to_0x_hex()
    with error_decoder().guard(action, node.url):
        try:
            receipt = w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=receipt_timeout, poll_latency=0.05
            )
        except TimeExhausted as exc:
            raise ChainUnavailable(
                f"cannot {action}: transaction {sent} was sent to {node.url} but not mined "
                f"within {receipt_timeout:.0f} s; it may still be mined: check it before "
                "sending the same change again",
                tx_hash=sent,
            ) from exc
    result = TxResult(
        tx_hash=sent,
        gas_used=int(receipt["gasUsed"]),
        block_number=int(receipt["blockNumber"]),
    )
    if receipt["status"] != 1:
        raise _mined_revert(node, account, call, action, result)
    return result, receipt


def _mined_revert(
    node: NodeInfo,
    account: LocalAccount,
    call: ContractFunction | ContractConstructor,
    action: str,
    result: TxResult,
) -> ChainError:
    """Why a transaction that passed estimation reverted once mined (the block time or state
    moved in between): the call replayed against its block, decoded like any revert."""
    where = f"transaction {result.tx_hash} was mined in block {result.block_number} but reverted"
    if isinstance(call, ContractFunction):
        try:
            with error_decoder().guard(action, node.url):
                call.call({"from": account.address}, block_identifier=result.block_number)
        except ChainUnavailable:
            pass
        except ChainError as exc:
            return ChainError(
                f"{exc.message} ({where})", error_name=exc.error_name, error_args=exc.error_args
            )
    return ChainError(f"cannot {action}: {where}")
