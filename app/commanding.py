"""Signed twin commands from the dashboard: the command form (MAINTAINER), approvals of critical
commands (MANAGER), and the browser wallet's EIP-712 signature in between.

The server issues the draft (:func:`~dt_platform.twin.command_flow.issue_draft`); the browser
wallet signs exactly its typed data (``eth_signTypedData_v4``); the signature comes back here and
:func:`~dt_platform.twin.command_flow.submit_signature` (or ``approve``) checks it, that it is the
signed-in account's, and the account's role on chain at that moment, then publishes the desired
state. What the page shows of roles only decides which forms are offered; it decides nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import streamlit as st

from app import flash, session, twin
from app.access import Access
from app.twin_views import action_text, publish_note, short
from app.wallet_component import typed_data_signer
from dt_platform.ingest.registry import Machine
from dt_platform.trust.chain import AuditChain, ChainError, ChainUnavailable
from dt_platform.twin.command_flow import approval_request, approve, issue_draft, submit_signature
from dt_platform.twin.command_publish import publish_unpublished
from dt_platform.twin.command_store import list_commands
from dt_platform.twin.commands import (
    ACTIONS,
    APPROVER_ROLE,
    AWAITING_APPROVAL,
    CRITICAL_DERATE_PCT,
    ISSUER_ROLE,
    MAX_DERATE_PCT,
    CommandRefused,
    CommandStatus,
)
from dt_platform.twin.limits_store import submit_limits
from dt_platform.twin.typed_data import command_domain

__all__ = [
    "approvals",
    "ask_signature",
    "chain_holding",
    "command_form",
    "retry_publishing",
    "signing",
]

SIGNING = "dt_twin_signing"
"""The request waiting for the wallet: purpose, command id, address, typed data."""
OUTCOME = "dt_twin_outcome"
"""(level, text) of the last command or approval, shown once."""
ACTION_LABELS = {
    "derate": "derate (take speed off)",
    "maintenance_on": "maintenance on",
    "maintenance_off": "maintenance off",
    "inspect": "inspect",
    "resume": "resume (no derate, no maintenance)",
}


def chain_holding(role: str, address: str) -> AuditChain | None:
    """The chain client if ``address`` holds ``role`` on chain now; otherwise says why."""
    try:
        chain = session.chain()
        if chain.has_role(role, address):
            return chain
    except (ChainUnavailable, ChainError) as exc:
        flash.say(
            OUTCOME,
            "error",
            f"Your role cannot be checked on the chain, so nothing was done: {exc}",
        )
        return None
    flash.say(OUTCOME, "error", f"Refused: {address} does not hold {role} on chain now.")
    return None


def command_form(access: Access, machines: Sequence[Machine], machine_id: str) -> None:
    """The MAINTAINER's form: machine, action (and percent for a derate) → a draft to sign."""
    ids = [m.machine_id for m in machines]
    if not ids:
        return
    with st.form("twin_command"):
        machine = st.selectbox(
            "Machine", ids, index=ids.index(machine_id) if machine_id in ids else 0
        )
        action = st.selectbox("Action", ACTIONS, format_func=ACTION_LABELS.get)
        percent = st.number_input(
            "Derate: % of rated speed taken off",
            min_value=0.0,
            max_value=float(MAX_DERATE_PCT),
            value=20.0,
            step=5.0,
            help=f"Above {CRITICAL_DERATE_PCT} % the command is critical: a MANAGER approves it.",
        )
        submitted = st.form_submit_button("Sign with browser wallet and send", type="primary")
    if not submitted:
        return
    chain = chain_holding(ISSUER_ROLE, access.address)
    if chain is None:
        return
    try:
        with twin.store() as con:
            draft = issue_draft(
                con, machines, machine, action, domain=command_domain(chain), now=session.now(),
                percent=percent if action == "derate" else None,
            )  # fmt: skip
    except CommandRefused as exc:
        flash.say(OUTCOME, "error", f"Not issued ({exc.reason_code}): {exc.detail}")
        return
    st.session_state[SIGNING] = {
        "id": f"command:{draft.command_id}",
        "purpose": "command",
        "command_id": draft.command_id,
        "address": access.address,
        "typed_data": json.dumps(draft.typed_data),
        "prompt": f"Sign “{action_text(draft.action, draft.value)}” for {machine} in your wallet…",
    }


def ask_signature(access: Access, purpose: str, target_id: str, typed: dict, prompt: str) -> None:
    """Hand typed data to the browser wallet; :func:`signing` submits what it signs by
    ``purpose``: ``command`` and ``approval`` (of ``target_id``, a command), ``limits``."""
    st.session_state[SIGNING] = {
        "id": f"{purpose}:{target_id}",
        "purpose": purpose,
        "command_id": target_id,
        "address": access.address,
        "typed_data": json.dumps(typed),
        "prompt": prompt,
    }


def approvals(access: Access) -> None:
    """For a MANAGER: the critical commands awaiting approval, each approved by signing."""
    with twin.store() as con:
        waiting = [c for c in list_commands(con, limit=500) if c.state == AWAITING_APPROVAL]
    if not waiting:
        st.caption("No critical command awaits approval.")
        return
    for c in waiting:
        cols = st.columns([4, 1])
        cols[0].markdown(
            f"**{c.machine_id}** · {action_text(c.action, c.value)} · signed by `{c.issuer}` · "
            f"expires {dt.datetime.fromtimestamp(c.expires_at, dt.UTC):%H:%M:%S} UTC"
        )
        if cols[1].button("Approve with wallet", key=f"approve_{c.command_id}"):
            _ask_approval(access, c)


def _ask_approval(access: Access, command: CommandStatus) -> None:
    if chain_holding(APPROVER_ROLE, access.address) is None:
        return
    try:
        with twin.store() as con:
            typed = approval_request(con, command.command_id)
    except CommandRefused as exc:
        flash.say(OUTCOME, "error", f"Cannot be approved ({exc.reason_code}): {exc.detail}")
        return
    st.session_state[SIGNING] = {
        "id": f"approval:{command.command_id}",
        "purpose": "approval",
        "command_id": command.command_id,
        "address": access.address,
        "typed_data": json.dumps(typed),
        "prompt": f"Sign the approval of {action_text(command.action, command.value)} for "
        f"{command.machine_id} in your wallet…",
    }


def signing(access: Access) -> None:
    """Mount the wallet signer; hand a signature it sends back to the library to check."""
    request = st.session_state.get(SIGNING)
    if request is not None and request["address"] != access.address:
        st.session_state.pop(SIGNING)  # issued for another sign-in of this browser session
        request = None
    shown = {k: request[k] for k in ("id", "address", "typed_data", "prompt")} if request else None
    result = typed_data_signer(shown)
    if request is None:
        return
    if result.signed and result.signed.get("id") == request["id"]:
        st.session_state.pop(SIGNING)
        _submit(access, request, str(result.signed.get("signature", "")))
    elif result.refused and result.refused.get("id") == request["id"]:
        st.session_state.pop(SIGNING)
        flash.say(
            OUTCOME,
            "warning",
            f"Nothing was sent: the wallet did not sign ({result.refused['error']}).",
        )


def _submit(access: Access, request: dict, signature: str) -> None:
    if request["purpose"] == "limits":
        _submit_limits(access, request, signature)
        return
    try:
        chain = session.chain()
        with twin.store() as con:
            flow = submit_signature if request["purpose"] == "command" else approve
            status = flow(
                con, request["command_id"], signature, roles=chain, publisher=twin.publisher(),
                domain=command_domain(chain), now=session.now(), signer=access.address,
            )  # fmt: skip
    except CommandRefused as exc:
        flash.say(OUTCOME, "error", f"Refused ({exc.reason_code}): {exc.detail}")
        return
    except (ChainUnavailable, ChainError) as exc:
        flash.say(
            OUTCOME,
            "error",
            f"Your role cannot be checked on the chain, so nothing was decided: {exc}",
        )
        return
    flash.say(OUTCOME, *_result(status))


def _submit_limits(access: Access, request: dict, signature: str) -> None:
    try:
        chain = session.chain()
        with twin.store() as con:
            signed = submit_limits(
                con, request["command_id"], signature, roles=chain, domain=command_domain(chain),
                now=session.now(), signer=access.address,
            )  # fmt: skip
    except CommandRefused as exc:
        flash.say(OUTCOME, "error", f"Limits refused ({exc.reason_code}): {exc.detail}")
        return
    except (ChainUnavailable, ChainError) as exc:
        flash.say(
            OUTCOME,
            "error",
            f"Your role cannot be checked on the chain, so nothing was decided: {exc}",
        )
        return
    flash.say(
        OUTCOME,
        "success",
        f"Limits signed by {short(signed.signer)}: autonomous decisions within them.",
    )


def _result(status: CommandStatus) -> tuple[str, str]:
    what = f"{action_text(status.action, status.value)} for {status.machine_id}"
    if status.state == AWAITING_APPROVAL:
        return (
            "info",
            f"{what} is critical: signed by {short(status.issuer)}, awaiting approval by a "
            "MANAGER (another account) before it is sent.",
        )
    note = publish_note(status)
    if note is not None:
        return ("warning", f"{what} is {status.state}. {note}")
    return (
        "success",
        f"{what}: {status.state}, desired version {status.version} published to gateway "
        f"{status.gateway}; the machine's acknowledgement shows above.",
    )


def retry_publishing() -> None:
    """Send every desired state recorded but not yet published (after a broker outage)."""
    with twin.store() as con:
        done = publish_unpublished(con, twin.publisher(), session.now())
    if done:
        flash.say(OUTCOME, "success", f"Published the desired state of {', '.join(done)}.")
    else:
        flash.say(
            OUTCOME,
            "warning",
            "Nothing was published: the broker is still unreachable, or nothing waits.",
        )
