"""EIP-712 typed data of twin commands: what a MAINTAINER signs to command a machine, and what a
MANAGER signs to approve a critical command.

Domain: ``{name: "dt-platform", version: "1", chainId, verifyingContract}``, the contract being
the deployment's ``TwinRegistry``, so a signature is good on one chain and one deployment only.

``Command(bytes32 commandId, string machineId, string action, uint256 value, uint64 issuedAt,
uint64 expiresAt, bool critical)``: ``commandId`` is a random 32-byte nonce issued by the server
(a signature is accepted once, for exactly the issued message); ``value`` is the derate in basis
points (2000 = 20 %), 0 for the other actions; times are unix seconds.

``Approval(bytes32 commandId, bytes32 commandDigest, address issuer, string machineId, string
action, uint256 value, uint64 expiresAt)``: a second signature over a struct of its own, so an
approval can never be mistaken for (or replayed as) a command signature and vice versa.
``commandDigest`` is the EIP-712 hash the issuer signed and ``issuer`` its recovered signer: the
MANAGER approves this command as signed by this person; the readable fields are repeated so the
wallet shows what is being approved.

The dicts built here are JSON-ready and are what a browser wallet's ``eth_signTypedData_v4``
takes as is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from dt_platform.config import LOCAL_CHAIN_ID
from dt_platform.trust.dev_accounts import is_dev_address

DOMAIN_NAME = "dt-platform"
DOMAIN_VERSION = "1"
MAX_TYPED_DATA_CHARS = 16_384
"""Typed data handed back by a client larger than this is not parsed."""

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SIGNATURE = re.compile(r"^(0x)?[0-9a-fA-F]{130}$")

DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
COMMAND_TYPE = [
    {"name": "commandId", "type": "bytes32"},
    {"name": "machineId", "type": "string"},
    {"name": "action", "type": "string"},
    {"name": "value", "type": "uint256"},
    {"name": "issuedAt", "type": "uint64"},
    {"name": "expiresAt", "type": "uint64"},
    {"name": "critical", "type": "bool"},
]
APPROVAL_TYPE = [
    {"name": "commandId", "type": "bytes32"},
    {"name": "commandDigest", "type": "bytes32"},
    {"name": "issuer", "type": "address"},
    {"name": "machineId", "type": "string"},
    {"name": "action", "type": "string"},
    {"name": "value", "type": "uint256"},
    {"name": "expiresAt", "type": "uint64"},
]


class TypedDataError(ValueError):
    """A signature or typed data that cannot even be read; ``reason`` is a refusal code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain commands are signed in: one chain, one deployment."""

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


def command_domain(chain: Any) -> Domain:
    """The domain of a connected :class:`~dt_platform.trust.chain.client.AuditChain`: its chain id
    and the deployment's TwinRegistry address."""
    return Domain(int(chain.chain_id), chain.deployment.address("TwinRegistry"))


def command_typed_data(domain: Domain, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "Command": COMMAND_TYPE},
        "primaryType": "Command",
        "domain": domain.to_json(),
        "message": message,
    }


def approval_typed_data(domain: Domain, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "Approval": APPROVAL_TYPE},
        "primaryType": "Approval",
        "domain": domain.to_json(),
        "message": message,
    }


def signable(typed_data: dict[str, Any]) -> SignableMessage:
    """The EIP-712 message (``header`` = domain separator, ``body`` = struct hash)."""
    try:
        return encode_typed_data(full_message=typed_data)
    except Exception as exc:  # eth_account raises several kinds for malformed typed data
        raise TypedDataError("bad_typed_data", f"not valid EIP-712 typed data ({exc})") from None


def digest(typed_data: dict[str, Any]) -> str:
    """``0x`` hex of the 32-byte hash a wallet signs for ``typed_data``."""
    msg = signable(typed_data)
    return "0x" + keccak(b"\x19" + bytes(msg.version) + msg.header + msg.body).hex()


def parse_typed_data(value: Any) -> dict[str, Any]:
    """Typed data handed back by a client (a dict or its JSON text), bounded in size."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_TYPED_DATA_CHARS:
        raise TypedDataError("bad_typed_data", f"typed data over {MAX_TYPED_DATA_CHARS} characters")
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise TypedDataError("bad_typed_data", f"typed data is not JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise TypedDataError("bad_typed_data", "typed data must be a JSON object")
    return parsed


def parse_signature(signature: str | bytes) -> bytes:
    """65 bytes ``r || s || v`` with ``v`` in {27, 28} and a low ``s`` (EIP-2): the one form each
    signature has, so a malleated copy of a used signature cannot pass as a new one."""
    if isinstance(signature, bytes | bytearray):
        raw = bytes(signature)
    elif isinstance(signature, str) and _SIGNATURE.match(signature.strip()):
        raw = bytes.fromhex(signature.strip().removeprefix("0x"))
    else:
        raise TypedDataError("bad_signature", "a signature is 65 bytes: 0x and 130 hex digits")
    if len(raw) != 65:
        raise TypedDataError("bad_signature", f"a signature is 65 bytes, got {len(raw)}")
    v = raw[64] + 27 if raw[64] in (0, 1) else raw[64]
    s = int.from_bytes(raw[32:64], "big")
    if v not in (27, 28):
        raise TypedDataError("bad_signature", f"signature recovery id v={raw[64]} is not 27 or 28")
    if not 0 < s <= _SECP256K1_N // 2:
        raise TypedDataError("bad_signature", "signature s is not in the lower half (EIP-2)")
    return raw[:64] + bytes([v])


def recover_signer(typed_data: dict[str, Any], signature: bytes) -> str:
    """The checksummed address that signed ``typed_data`` with ``signature`` (parsed)."""
    try:
        return to_checksum_address(
            Account.recover_message(signable(typed_data), signature=signature)
        )
    except TypedDataError:
        raise
    except Exception as exc:  # eth_keys raises BadSignature / ValidationError
        raise TypedDataError("bad_signature", f"no signer can be recovered ({exc})") from None


def refuse_dev_key(address: str, chain_id: int) -> None:
    """anvil's public dev keys sign only for the local dev chain (anyone holds those keys)."""
    if is_dev_address(address) and int(chain_id) != LOCAL_CHAIN_ID:
        raise TypedDataError(
            "dev_key",
            f"{address} is one of anvil's public dev keys, which anyone can use; it signs only "
            f"for the local dev chain ({LOCAL_CHAIN_ID}), not chain {chain_id}",
        )


def sign_typed_data(typed_data: dict[str, Any], account: LocalAccount) -> str:
    """The wallet side: ``0x`` hex signature of ``typed_data`` by ``account`` (what
    ``eth_signTypedData_v4`` returns), refusing dev keys off the dev chain."""
    refuse_dev_key(account.address, int(typed_data["domain"]["chainId"]))
    signature = account.sign_message(signable(typed_data)).signature.hex()
    return signature if signature.startswith("0x") else "0x" + signature
