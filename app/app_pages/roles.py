"""Roles & grants: who holds which platform role, and which datasets are shared with whom, as
the contracts say now; and changing them with the browser wallet: roles by an ADMIN, data grants
by a MANAGER, each a transaction the wallet signs and sends (the role is checked on chain before
the wallet is asked, and the contract enforces it). The CLI does the same with a local key:
`dt-platform roles grant|revoke`, `dt-platform grants grant|revoke`."""

import datetime as dt

import polars as pl
import streamlit as st

from app import flash, governance, session
from app.access import production_dataset
from dt_platform.trust.chain import MAX_GRANT_DAYS, ROLE_IDS, ChainError

access = session.guard("roles")
st.title("Roles & grants")

client = session.chain_or_error()
if client is None:
    st.stop()
st.caption(
    f"chain {client.chain_id} · RoleHub {client.deployment.address('RoleHub')} · "
    f"DataGrants {client.deployment.address('DataGrants')}"
)
with st.container():  # the wallet's transaction and its outcome, before the tables are read
    governance.sending(access.address)
    flash.show(governance.OUTCOME)

try:
    members = [
        {"role": role, "members": len(accounts), "accounts": ", ".join(accounts) or "–"}
        for role in ROLE_IDS
        for accounts in [client.members(role)]
    ]
    machines: pl.DataFrame = session.query("machines")
    # the datasets the dashboard serves: one per registered machine type
    datasets = sorted({production_dataset(t) for t in machines["machine_type"].unique()})
    grants = [
        {
            "dataset": g.dataset,
            "grantee": g.grantee,
            "roles": ", ".join(sorted(client.roles_of(g.grantee))) or "–",
            "expires (UTC)": dt.datetime.fromtimestamp(g.expires_at, dt.UTC).strftime(
                "%Y-%m-%d %H:%M"
            ),
            "granted by": g.granted_by,
            # inactive once expired, or once its granter lost the MANAGER role it granted under
            "active": g.active and g.expires_at > dt.datetime.now(dt.UTC).timestamp(),
        }
        for dataset in datasets
        for g in client.grants(dataset)
    ]
except ChainError as exc:
    st.error(f"The contracts could not be read: {exc}")
    st.stop()

st.subheader("Roles")
st.dataframe(members, hide_index=True)
st.subheader("Data-sharing grants")
if grants:
    st.dataframe(grants, hide_index=True)
else:
    st.caption("No dataset is shared with anyone.")

st.subheader("Change them with your browser wallet")
st.caption(
    "Each change is a transaction your wallet signs and sends from the account you signed in "
    f"with (`{access.address}`); the dashboard holds no key. Only an ADMIN grants and revokes "
    "roles, only a MANAGER shares datasets: the role is checked on chain before your wallet is "
    "asked, and the contract refuses anyone else. You hold: "
    + (", ".join(sorted(access.roles)) or "no role")
    + "."
)
cols = st.columns(2)
with cols[0].form("gov_roles"):
    st.markdown("**Roles** (ADMIN)")
    st.radio("Change", ["grant", "revoke"], key="gov_role_op", horizontal=True)
    st.selectbox("Role", [r for r in ROLE_IDS if r != "ADMIN"], key="gov_role")
    st.text_input("Account", key="gov_role_account", placeholder="0x…", max_chars=42)
    st.form_submit_button(
        "Send with browser wallet", on_click=governance.role_submitted, type="primary"
    )
with cols[1].form("gov_grants"):
    st.markdown("**Data-sharing grants** (MANAGER)")
    st.radio("Change", ["grant", "revoke"], key="gov_grant_op", horizontal=True)
    st.selectbox("Dataset", datasets, key="gov_dataset")
    st.text_input("Grantee", key="gov_grantee", placeholder="0x…", max_chars=42)
    st.number_input(
        "Days (a grant)", min_value=1, max_value=MAX_GRANT_DAYS, value=30, key="gov_days"
    )
    st.form_submit_button(
        "Share with browser wallet", on_click=governance.grant_submitted, type="primary"
    )
st.caption(
    f"A grant runs at most {MAX_GRANT_DAYS} days and ends when its granter loses MANAGER. ADMIN "
    "is handed over in two steps: `dt-platform roles admin handover 0x…`."
)
