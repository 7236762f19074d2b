"""The intelligent twin's decisions: what the policy advises or did for each machine, with its
reason in words and numbers and the prediction it rested on. A MAINTAINER approves an advisory
decision by signing its command in the browser wallet; a MANAGER sets the autonomy limits the
same way (EIP-712). Roles shown decide only which forms are offered; the chain decides.
"""

import datetime as dt

import streamlit as st

from app import commanding, flash, session, twin
from app.twin_views import short
from dt_platform.twin.commands import CommandRefused
from dt_platform.twin.decision_store import approve_decision, list_decisions
from dt_platform.twin.limits import Limits
from dt_platform.twin.limits_store import current_limits, issue_limits
from dt_platform.twin.typed_data import command_domain

SHOWN = 100
STATUS_ICON = {
    "advised": ":material/pending_actions:",
    "approved": ":material/draw:",
    "commanded": ":material/send:",
    "applied": ":material/check_circle:",
    "scheduled": ":material/event:",
    "rejected": ":material/block:",
    "expired": ":material/timer_off:",
}


def _what(action: str, derate_pct: float) -> str:
    return f"derate {derate_pct:g} %" if action == "derate" else action.replace("_", " ")


def _limits_text(lim: Limits) -> str:
    return (
        f"derate ≤ {lim.max_derate_pct:g} % · "
        + ("may stop production" if lim.may_stop_production else "no production stop")
        + (" · no stop during customer orders" if lim.no_stop_during_customer_order else "")
        + f" · machines: {', '.join(lim.scope) if lim.scope else 'all'}"
        + (f" · until {lim.expires_at:%Y-%m-%d %H:%M} UTC" if lim.expires_at else "")
    )


def _approve(access, rec) -> None:
    chain = commanding.chain_holding("MAINTAINER", access.address)
    if chain is None:
        return
    try:
        with twin.store() as con:
            draft = approve_decision(
                con, rec.decision_id, twin.registry(), domain=command_domain(chain),
                now=session.now(), actor=access.address,
            )  # fmt: skip
    except CommandRefused as exc:
        flash.say(commanding.OUTCOME, "error", f"Not approved ({exc.reason_code}): {exc.detail}")
        return
    commanding.ask_signature(
        access, "command", draft.command_id, draft.typed_data,
        f"Sign “{_what(rec.action, rec.derate_pct)}” for {rec.machine_id} in your wallet…",
    )  # fmt: skip


def _limits_form(access) -> None:
    with st.form("autonomy_limits"):
        cols = st.columns(3)
        max_derate = cols[0].number_input("Largest derate (%)", 0.0, 50.0, 20.0, 5.0)
        days = cols[1].number_input("Valid for (days)", 1, 90, 7)
        machines = cols[2].multiselect(
            "Machines (none = all)", [m.machine_id for m in twin.registry()]
        )
        may_stop = st.checkbox("The platform may stop production for maintenance")
        in_orders = st.checkbox("… also during a customer order")
        submitted = st.form_submit_button("Sign limits with browser wallet", type="primary")
    if not submitted:
        return
    chain = commanding.chain_holding("MANAGER", access.address)
    if chain is None:
        return
    now = session.now()
    wanted = Limits(max_derate, may_stop, not in_orders, now + dt.timedelta(days=int(days)),
                    tuple(machines))  # fmt: skip
    try:
        with twin.store() as con:
            draft = issue_limits(con, wanted, domain=command_domain(chain), now=now)
    except CommandRefused as exc:
        flash.say(commanding.OUTCOME, "error", f"Not issued: {exc.detail}")
        return
    commanding.ask_signature(access, "limits", draft.limits_id, draft.typed_data,
                             "Sign the autonomy limits in your wallet…")  # fmt: skip


access = session.guard("decisions")
st.title("Decisions")
st.caption(
    "The policy chooses, per machine, the action of least expected cost from the fused RUL and "
    "its interval, the production plan, maintenance capacity and costs. Costs are a manager's "
    "assumptions (DT_HOME/costs.yaml)."
)
status_box = st.container()
with twin.store() as con:
    limits = current_limits(con, session.now())
    records = list_decisions(con, limit=SHOWN)
if limits is not None:
    st.success(f"**Autonomous within limits** signed by `{short(limits.signer)}`: "
               f"{_limits_text(limits.limits)}. Outside them, decisions wait for a MAINTAINER.")  # fmt: skip
else:
    st.info("**Advisory**: no MANAGER limits are in force; every command waits for a MAINTAINER.")

latest: dict[str, object] = {}
for r in records:
    latest.setdefault(r.machine_id, r)
st.subheader("Now, per machine")
if not latest:
    st.caption("No decision yet: they follow each day's (and each hour's) predictions.")
for rec in latest.values():
    icon = STATUS_ICON.get(rec.status, ":material/radio_button_unchecked:")
    cols = st.columns([5, 1])
    cols[0].markdown(
        f"{icon} **{rec.machine_id}** · **{_what(rec.action, rec.derate_pct)}** · {rec.status} "
        f"({rec.mode}) · RUL {rec.rul_fused_h:.0f} h [{rec.rul_fused_lo_h or 0:.0f}–"
        f"{rec.rul_fused_hi_h or 0:.0f}] as of {rec.ts[:16].replace('T', ' ')} UTC"
    )
    cols[0].caption(rec.reason)
    if rec.status == "advised" and "MAINTAINER" in access.roles:
        if cols[1].button("Approve & sign", key=f"approve_{rec.decision_id}"):
            _approve(access, rec)

st.subheader("All recent decisions")
st.dataframe(
    [
        {
            "time (UTC)": r.ts[:16].replace("T", " "), "machine": r.machine_id,
            "action": _what(r.action, r.derate_pct), "mode": r.mode, "status": r.status,
            "RUL h": round(r.rul_fused_h or 0), "model": (r.model_version or "")[:10],
            "command": (r.command_id or "")[:12], "id": r.decision_id,
        }
        for r in records
    ],
    hide_index=True,
)  # fmt: skip

if "MANAGER" in access.roles:
    st.subheader("Autonomy limits")
    _limits_form(access)
else:
    st.caption("Only a MANAGER sets the autonomy limits (the role is checked on chain at signing).")
with status_box:
    commanding.signing(access)
    flash.show(commanding.OUTCOME)
