"""A local-key wallet for Sign-In with Ethereum: what a browser wallet's ``personal_sign`` does,
for people (and tests) without one.

It signs only a well-formed EIP-4361 message addressed to the key's own account, shows what is
being signed (domain, chain, expiry), and refuses anvil's public dev keys for any chain but the
local dev chain (anyone holds those keys).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from dt_platform.config import LOCAL_CHAIN_ID
from dt_platform.trust.dev_accounts import is_dev_address

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # abnf warns about siwe's grammar at import
    import siwe

__all__ = ["SignedMessage", "WalletError", "load_key", "sign_in_message"]


class WalletError(Exception):
    """The wallet refuses to sign; the message says why."""


@dataclass(frozen=True)
class SignedMessage:
    address: str
    domain: str
    uri: str
    chain_id: int
    expires_at: str | None
    signature: str


def load_key(key: str) -> LocalAccount:
    try:
        return Account.from_key(key.strip())
    except (ValueError, TypeError) as exc:
        raise WalletError("the wallet key is not a valid private key (32 bytes in hex)") from exc


def sign_in_message(
    message: str, account: LocalAccount, *, now: dt.datetime | None = None
) -> SignedMessage:
    """EIP-191 ``personal_sign`` of an EIP-4361 sign-in ``message`` with ``account``."""
    text = message.strip().replace("\r\n", "\n")
    try:
        parsed = siwe.SiweMessage.from_message(text)
    except Exception as exc:  # the grammar and pydantic raise many kinds; all mean "malformed"
        raise WalletError(f"not an EIP-4361 sign-in message, refusing to sign it ({exc})") from None
    if parsed.address != account.address:
        raise WalletError(
            f"the message signs in {parsed.address}, but this key is {account.address}: ask the "
            "dashboard for a message for your own address"
        )
    if is_dev_address(account.address) and parsed.chain_id != LOCAL_CHAIN_ID:
        raise WalletError(
            f"refusing to sign with {account.address}: it is one of anvil's public dev keys, "
            f"which anyone can use, and the message is for chain {parsed.chain_id}, not the "
            f"local dev chain ({LOCAL_CHAIN_ID})"
        )
    moment = now or dt.datetime.now(dt.UTC)
    if parsed.expiration_time is not None and moment >= parsed.expiration_time._datetime:
        raise WalletError(f"the message expired at {parsed.expiration_time}: ask for a new one")
    signature = account.sign_message(encode_defunct(text=text)).signature.hex()
    return SignedMessage(
        address=account.address,
        domain=parsed.domain,
        uri=parsed.uri,
        chain_id=parsed.chain_id,
        expires_at=str(parsed.expiration_time) if parsed.expiration_time else None,
        signature=signature if signature.startswith("0x") else "0x" + signature,
    )
