"""The live twin of one machine: online or not, last seen, mode, last readings, reported vs
desired settings and the delta, its commands with their states and signers; refreshed every few
seconds on its own. Below: the signed command form (MAINTAINER) and approvals (MANAGER).

``?machine=<id>`` opens it on that machine.
"""

import datetime as dt

import streamlit as st

from app import commanding, flash, session, twin
from app.twin_views import (
    action_text,
    command_rows,
    event_rows,
    publish_note,
    readings_rows,
    settings_rows,
    short,
)
from dt_platform.twin.command_store import command_history, list_commands
from dt_platform.twin.commands import OPEN_STATES
from dt_platform.twin.state import all_states, twin_state

REFRESH_S = 2.0
COMMANDS_SHOWN = 20


def _ago(iso_time: str | None) -> str:
    if not iso_time:
        return "never"
    seconds = (session.now() - dt.datetime.fromisoformat(iso_time)).total_seconds()
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{iso_time[:16].replace('T', ' ')} UTC"


@st.fragment(run_every=REFRESH_S)
def live_state(machine_id: str) -> None:
    """The machine's twin as the store holds it now (this part re-runs by itself; the chain is
    asked again each time, so a revoked role stops the feed too)."""
    session.guard("live")
    with twin.store() as con:
        state = twin_state(con, machine_id)
        commands = list_commands(con, machine_id, limit=COMMANDS_SHOWN)
    rep, des = state.reported, state.desired
    cols = st.columns(4)
    cols[0].metric(
        "Status", "never heard" if rep is None else "online" if rep.online else "offline"
    )
    cols[1].metric("Last seen", _ago(rep.last_seen if rep else None))
    cols[2].metric("Mode", (rep.mode if rep else None) or "–")
    cols[3].metric(
        "Applied / desired version",
        f"{rep.applied_version if rep else '–'} / {des.version if des else '–'}",
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Settings: reported vs desired**")
        st.table(settings_rows(state))
        if state.delta:
            pending = ", ".join(f"{k} → {v}" for k, v in sorted(state.delta.items()))
            st.warning(f"Delta: the machine has not applied {pending} yet.")
        elif des is not None:
            st.success("No delta: the machine runs with its desired settings.")
    with right:
        st.markdown("**Last readings**")
        readings = readings_rows(state)
        if readings:
            st.table(readings)
            st.caption(f"as of {rep.reading_ts or rep.last_seen} (machine clock)")
        else:
            st.caption("No reading received yet.")

    open_ones = [c for c in commands if c.state in OPEN_STATES]
    if commands:
        latest = commands[0]
        st.markdown(
            f"Latest command: **{action_text(latest.action, latest.value)}** · "
            f"**{latest.state}** · signed by `{short(latest.issuer)}`"
            + (f" · approved by `{short(latest.approver)}`" if latest.approver else "")
            + (f" · {latest.reason}" if latest.reason else "")
        )
    st.markdown(f"**Open commands** ({len(open_ones)})")
    for c in open_ones:
        note = publish_note(c)
        st.markdown(
            f"- {action_text(c.action, c.value)}: {c.state}" + (f" ({note})" if note else "")
        )
    if any(publish_note(c) for c in open_ones):
        st.button("Retry publishing", on_click=commanding.retry_publishing)
    st.markdown("**Command history**")
    if commands:
        st.table(command_rows(commands))
        chosen = st.selectbox(
            "Events of a command",
            [c.command_id for c in commands],
            format_func=lambda cid: next(
                f"{action_text(c.action, c.value)} · {c.state} · {cid[:10]}…"
                for c in commands
                if c.command_id == cid
            ),
        )
        with twin.store() as con:
            st.table(event_rows(command_history(con, chosen)))
    else:
        st.caption("No command was sent to this machine yet.")
    st.caption(f"Refreshes every {REFRESH_S:g} s · as of {session.now():%H:%M:%S} UTC")


access = session.guard("live")
st.title("Live twin")

machines = twin.registry()
with twin.store() as con:
    known = {s.machine_id for s in all_states(con)}
ids = sorted({m.machine_id for m in machines} | known)
if not ids:
    st.info("No machine is registered or reporting yet.")
    st.stop()
wanted = st.query_params.get("machine")
machine_id = st.selectbox("Machine", ids, index=ids.index(wanted) if wanted in ids else 0)
st.query_params["machine"] = machine_id

state_box = st.container()
st.subheader("Command")
status_box = st.container()
if "MAINTAINER" in access.roles:
    commanding.command_form(access, machines, machine_id)
else:
    st.caption("Only a MAINTAINER signs commands (the role is checked on chain at signing).")
if "MANAGER" in access.roles:
    st.subheader("Approvals")
    commanding.approvals(access)
with status_box:  # after the forms, which may have just issued something to sign
    commanding.signing(access)
    flash.show(commanding.OUTCOME)
with state_box:  # last, so it shows what this run's signature changed
    live_state(machine_id)
