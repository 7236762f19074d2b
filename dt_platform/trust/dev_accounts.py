"""anvil's ten dev accounts: keys everyone knows (the public ``test test … junk`` mnemonic).

The local chain funds them and the demo gives them roles; the chain client, the wallet and the
dashboard's sign-in refuse them anywhere but on the local dev chain (:func:`is_dev_address`).
"""

from __future__ import annotations

import functools

from eth_account import Account
from eth_account.signers.local import LocalAccount

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""anvil's (and Hardhat's) public default mnemonic: its keys are known to everyone."""


DEV_ACCOUNT_COUNT = 10


# --- dev accounts -------------------------------------------------------------------------------


@functools.cache
def dev_accounts() -> tuple[LocalAccount, ...]:
    """anvil's ten dev accounts (index 0 … 9), derived from :data:`DEV_MNEMONIC`."""
    Account.enable_unaudited_hdwallet_features()
    return tuple(
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(DEV_ACCOUNT_COUNT)
    )


@functools.cache
def _dev_addresses() -> frozenset[str]:
    return frozenset(a.address.lower() for a in dev_accounts())


def is_dev_address(address: str) -> bool:
    """Whether ``address`` belongs to one of anvil's publicly known dev keys."""
    return address.lower() in _dev_addresses()
