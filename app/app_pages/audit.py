"""The audit trail: each day's snapshot, its anchor on chain, and checks anyone can repeat —
verify a whole day, or prove that one record was in it."""

import json

import polars as pl
import streamlit as st

from app import session
from dt_platform.trust.audit import (
    ANCHORED,
    AWAITING_REASON,
    LOST,
    AuditError,
    RecordSpecError,
    anchor_key,
    parse_record_spec,
    prove_record,
    verify_versions,
)
from dt_platform.trust.audit.table import PENDING_STATES
from dt_platform.trust.chain import ChainError
from dt_platform.trust.ipfs import IpfsError, open_ipfs
from dt_platform.trust.snapshot import SOURCES, SnapshotError

session.guard("audit")
st.title("Audit trail")
st.write(
    "Every day's telemetry digests, predictions and alerts are written as a snapshot, added to "
    "IPFS and anchored on chain (Merkle root + CID). The checks below recompute from the "
    "warehouse and compare with the chain and the snapshot; the same checks run from "
    "`dt-platform verify` and `dt-platform prove`, or any Ethereum and IPFS client."
)

snapshots: pl.DataFrame = session.query("audit_snapshots")
if snapshots.is_empty():
    st.info("No snapshot has been built yet.")
    st.stop()
status = snapshots["status"]
cols = st.columns(5)
cols[0].metric("Days with a snapshot", snapshots["day"].n_unique())
cols[1].metric("Anchored versions", int((status == ANCHORED).sum()))
cols[2].metric("Waiting (IPFS or chain down)", int(status.is_in(PENDING_STATES).sum()))
cols[3].metric(
    "Waiting for a reason",
    int((status == AWAITING_REASON).sum()),
    help="A rebuild no late or corrected file explains: an OPERATOR anchors it with "
    "`dt-platform audit anchor --partition DAY --reason …`.",
)
cols[4].metric(
    "Lost from the chain",
    int((status == LOST).sum()),
    help="Anchors the chain no longer holds (a reset or a rollback); each is queued again.",
)
st.dataframe(
    snapshots,
    hide_index=True,
    column_config={
        "day": st.column_config.DateColumn("day"),
        "record_count": st.column_config.NumberColumn("records", format="%,d"),
        "gas_used": st.column_config.NumberColumn("gas", format="%,d"),
    },
)

client = session.chain_or_error()
if client is None:
    st.stop()
day = st.selectbox(
    "Day", snapshots["day"].unique().sort(descending=True).to_list(), format_func=str
)
try:
    versions = client.anchor_versions(anchor_key(day))
except ChainError as exc:
    st.error(f"The anchors could not be read: {exc}")
    st.stop()
if not versions:
    st.warning(f"{day} is not anchored on chain {client.chain_id} (yet).")
else:
    st.subheader(f"On chain: {len(versions)} version(s) of {day}")
    st.dataframe(
        [
            {
                "version": a.version,
                "root": "0x" + a.root.hex(),
                "CID": a.cid,
                "records": a.record_count,
                "publisher": a.publisher,
                "block": a.block_number,
                "tx": a.tx_hash,
                "time (UTC)": a.time.strftime("%Y-%m-%d %H:%M:%S"),
                "reason": a.reason,
            }
            for a in versions
        ],
        hide_index=True,
    )

left, right = st.columns(2)
with left:
    st.subheader("Verify the day")
    if st.button("Verify against chain and IPFS", type="primary", disabled=not versions):
        with st.spinner("recomputing the day's records and fetching every anchored snapshot"):
            try:
                with session.warehouse() as con:
                    checked = verify_versions(con, open_ipfs(session.settings()), client, day)
            except (AuditError, ChainError, IpfsError, SnapshotError) as exc:
                st.error(f"Verification could not run: {exc}")
            else:
                if checked.ok:
                    st.success(
                        f"{day} verified: the warehouse's "
                        f"{checked.latest.warehouse_record_count:,} records match the newest "
                        "anchored version, and every anchored version matches its IPFS snapshot."
                    )
                else:
                    failing = checked.failing_versions()
                    st.error(
                        f"{day} does NOT match what was anchored"
                        + (f" (version {', '.join(map(str, failing))})" if failing else "")
                        + "."
                    )
                st.code(checked.render(limit=25), language=None)
with right:
    st.subheader("Prove one record")
    source = st.selectbox("Source", sorted(SOURCES), key="prove_source")
    key_hint = ",".join(f"{k}=…" for k in SOURCES[source].key)
    key_text = st.text_input("Record key", placeholder=key_hint, help=f"e.g. {key_hint}")
    if st.button("Prove", disabled=not versions or not key_text.strip()):
        try:
            name, key = parse_record_spec(f"{source}:{key_text}")
            with session.warehouse() as con:
                proof = prove_record(con, open_ipfs(session.settings()), client, day, name, key)
        except RecordSpecError as exc:
            st.error(f"Invalid value: {exc}")
        except (AuditError, ChainError, IpfsError, SnapshotError) as exc:
            st.error(str(exc))
        else:
            if proof.verified_on_chain:
                st.success("The contract's verifyRecord view accepts this proof.")
            else:
                st.error("The contract rejects this proof.")
            if not proof.matches_warehouse:
                st.warning("The warehouse's record today differs from the anchored one.")
            st.code(json.dumps(proof.to_dict(), indent=2, default=str), language="json")
