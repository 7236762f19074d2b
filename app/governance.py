"""Governance from the Roles & grants page: roles (ADMIN) and data-sharing grants (MANAGER) as
transactions the signed-in browser wallet signs and sends.

A form's callback (it runs before the page, on the submit's rerun) asks the chain for the
signed-in account's role and builds the unsigned call
(:mod:`dt_platform.trust.chain.wallet_tx`): refused there, nothing reaches the wallet. The call
goes to the wallet (``eth_sendTransaction``); when the wallet answers with a transaction hash,
:func:`sending` waits for the receipt and says where it was mined, or the contract's decoded
revert. The dashboard holds no key; the contract enforces the role anyway.
"""

from __future__ import annotations

import datetime as dt
import secrets

import streamlit as st

from app import flash, session
from app.wallet_component import transaction_sender
from dt_platform.trust.chain import ChainError, ChainUnavailable
from dt_platform.trust.chain.wallet_tx import (
    NotPermitted,
    UnsignedTx,
    access_tx,
    role_tx,
    wait_mined,
)

__all__ = ["OUTCOME", "SENDING", "grant_submitted", "role_submitted", "sending"]

SENDING = "dt_gov_sending"
"""The transaction waiting for the wallet: request id, signed-in address, the unsigned call."""
OUTCOME = "dt_gov_outcome"
"""(level, text) of the last governance transaction, shown once."""
RECEIPT_TIMEOUT_S = 120.0


def _hand_to_wallet(build) -> None:
    """Build the call as the signed-in account (role checked on chain) and queue it for the
    wallet; any refusal is said, and nothing is queued."""
    signed = session.signed_in()
    if signed is None:
        flash.say(OUTCOME, "error", "Sign in first.")
        return
    st.session_state.pop(SENDING, None)
    try:
        tx: UnsignedTx = build(session.chain(), signed.address)
    except NotPermitted as exc:
        flash.say(OUTCOME, "error", f"Refused: {exc}")
        return
    except ChainUnavailable as exc:
        flash.say(OUTCOME, "error", f"The chain cannot be reached, so nothing was sent: {exc}")
        return
    except ChainError as exc:
        flash.say(OUTCOME, "error", f"Not sent: {exc}")
        return
    st.session_state[SENDING] = {
        "id": secrets.token_hex(8),
        "address": signed.address,
        "unsigned": tx,
    }


def role_submitted() -> None:
    """The role form's callback: ``gov_role_op``, ``gov_role``, ``gov_role_account``."""
    state = st.session_state
    op = "grant_role" if state.get("gov_role_op") == "grant" else "revoke_role"
    _hand_to_wallet(
        lambda chain, sender: role_tx(
            chain,
            op,
            str(state.get("gov_role", "")),
            str(state.get("gov_role_account", "")),
            sender,
        )
    )


def grant_submitted() -> None:
    """The data-grant form's callback: ``gov_grant_op``, ``gov_dataset``, ``gov_grantee``,
    ``gov_days``."""
    state = st.session_state
    op = "grant_access" if state.get("gov_grant_op") == "grant" else "revoke_access"
    days = float(state.get("gov_days") or 0)
    wanted = int((session.now() + dt.timedelta(days=days)).timestamp())

    def build(chain, sender: str) -> UnsignedTx:
        # a dev chain's block time may lag the server's clock: the longest grant ends at the
        # latest expiry the contract allows now, not later
        until = min(wanted, chain.latest_grant_expiry()) if op == "grant_access" else None
        dataset, grantee = str(state.get("gov_dataset", "")), str(state.get("gov_grantee", ""))
        return access_tx(chain, op, dataset, grantee, sender, until)

    _hand_to_wallet(build)


def sending(address: str) -> None:
    """Mount the wallet's sender with the queued call; when the wallet sent it, wait for the
    receipt and say how it ended."""
    request = st.session_state.get(SENDING)
    if request is not None and request["address"] != address:
        st.session_state.pop(SENDING)  # queued by another sign-in of this browser session
        request = None
    shown = None
    if request is not None:
        tx: UnsignedTx = request["unsigned"]
        shown = {"id": request["id"], "tx": tx.to_rpc(), "prompt": f"Confirm in your wallet: "
                 f"{tx.summary}…"}  # fmt: skip
    result = transaction_sender(shown)
    if request is None:
        return
    tx = request["unsigned"]
    if result.sent and result.sent.get("id") == request["id"]:
        st.session_state.pop(SENDING)
        tx_hash = str(result.sent.get("tx_hash", ""))
        try:
            with st.spinner(f"Waiting for {tx_hash[:12]}… to be mined"):
                mined = wait_mined(session.chain(), tx, tx_hash, timeout=RECEIPT_TIMEOUT_S)
        except ChainUnavailable as exc:
            flash.say(OUTCOME, "warning", str(exc))
        except ChainError as exc:
            flash.say(OUTCOME, "error", f"Reverted: {exc}")
        else:
            flash.say(
                OUTCOME,
                "success",
                f"Mined in block {mined.block_number}: {tx.summary}. Transaction "
                f"`{mined.tx_hash}` (gas {mined.gas_used:,}).",
            )
    elif result.refused and result.refused.get("id") == request["id"]:
        st.session_state.pop(SENDING)
        flash.say(
            OUTCOME,
            "warning",
            f"Nothing was sent: the wallet did not send it ({result.refused['error']}).",
        )
