"""Roles & grants: who holds which platform role, and which datasets are shared with whom, as
the contracts say now. Changes are transactions signed by an ADMIN (roles) or a MANAGER
(grants): `dt-platform roles grant|revoke`, `dt-platform grants grant|revoke`."""

import datetime as dt

import polars as pl
import streamlit as st

from app import session
from app.access import production_dataset
from dt_platform.trust.chain import ROLE_IDS, ChainError

session.guard("roles")
st.title("Roles & grants")

client = session.chain_or_error()
if client is None:
    st.stop()
st.caption(
    f"chain {client.chain_id} · RoleHub {client.deployment.address('RoleHub')} · "
    f"DataGrants {client.deployment.address('DataGrants')}"
)
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
st.markdown(
    "Change them with a key that holds the role: "
    "`dt-platform roles grant QC 0x…` (ADMIN), "
    "`dt-platform grants grant production/smt_placer 0x… --days 30` (MANAGER; at most 366 "
    "days, and a grant ends when its granter loses MANAGER). ADMIN is handed over in two steps: "
    "`dt-platform roles admin handover 0x…`."
)
