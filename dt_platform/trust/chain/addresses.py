"""Account addresses as people type them: checked once, before anything is sent or read.

A typo in an address must never become a role or a grant for an account nobody holds, so an
address is accepted only as ``0x`` and 40 hex digits, and a mixed-case address must carry a valid
EIP-55 checksum (all-lowercase or all-uppercase carries none and is accepted as is).
"""

from __future__ import annotations

import re

from eth_utils import is_checksum_address, to_checksum_address

from dt_platform.trust.chain.errors import ChainError

__all__ = ["ZERO_ADDRESS", "checked_address"]

ZERO_ADDRESS = "0x" + "0" * 40
_HEX_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")


def checked_address(value: str, what: str = "the address", *, allow_zero: bool = True) -> str:
    """``value`` as a checksummed address, or :class:`ChainError` saying what is wrong with it."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not _HEX_ADDRESS.fullmatch(text):
        raise ChainError(
            f"{what} {value!r} is not an Ethereum address: expected 0x followed by 40 hex digits"
        )
    body = text[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address("0x" + body):
        raise ChainError(
            f"{what} {text} has a wrong EIP-55 checksum (its upper/lower case letters do not "
            "match): a character was probably mistyped; copy the address again"
        )
    address = to_checksum_address("0x" + body)
    if not allow_zero and address == ZERO_ADDRESS:
        raise ChainError(f"{what} is the zero address, whose key nobody holds")
    return address
