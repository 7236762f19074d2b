"""The signed-in account: address, chain, roles and grants as the chain says now; sign out here,
or everywhere (every session of the address, in every browser)."""

import streamlit as st

from app import session
from app.access import PAGES, allowed_pages

signed = session.signed_in()
access = session.current_access()
if signed is None or access is None:
    st.error("Sign in first.")
    st.stop()

st.title("My account")
st.markdown(f"**Address** `{access.address}`")
st.markdown(
    f"**Chain** {signed.chain_id} · signed in {signed.signed_in_at:%Y-%m-%d %H:%M} UTC · "
    f"session ends {signed.expires_at:%Y-%m-%d %H:%M} UTC"
)
st.markdown("**Roles** " + (", ".join(sorted(access.roles)) or "none"))
st.markdown("**Shared datasets** " + (", ".join(sorted(access.datasets)) or "none"))

open_pages = allowed_pages(access)
if open_pages:
    st.write("You may open:")
    for rule in open_pages:
        st.markdown(f"- **{rule.title}**: {rule.description}")
else:
    st.info(
        "This account holds no role and no grant that opens a page. Ask an ADMIN for a role "
        "(`dt-platform roles grant ROLE ADDRESS`) or a MANAGER to share a dataset "
        "(`dt-platform grants grant production/<machine type> ADDRESS`)."
    )
with st.expander("Who may open which page"):
    st.table(
        [
            {
                "page": rule.title,
                "roles": ", ".join(sorted(rule.roles)),
                "or a grant of": f"{rule.dataset_prefix}…" if rule.dataset_prefix else "",
            }
            for rule in PAGES
        ]
    )

open_sessions = session.sessions().count(address=access.address)
cols = st.columns(2)
if cols[0].button("Sign out", type="primary"):
    session.sign_out()
    st.rerun()
if cols[1].button(
    "Sign out everywhere",
    help=f"End all {open_sessions} open sessions of this address, in every browser and tab.",
):
    session.sign_out_everywhere(access.address)
    st.rerun()
st.caption(
    f"{open_sessions} open session(s) of this address on this dashboard. A lost or shared "
    "device: sign out everywhere."
)
