"""The audit trail: each day's snapshot, its anchor on chain, and checks anyone can repeat —
verify a whole day, prove that one record was in it (picked from the records the snapshot
holds), or compare two versions of a day."""

import json

import polars as pl
import streamlit as st

from app import audit_views, session
from dt_platform.trust.audit import (
    ANCHORED,
    AWAITING_REASON,
    LOST,
    AuditError,
    anchor_key,
    prove_record,
    verify_versions,
)
from dt_platform.trust.audit.compare import compare_versions, version_records
from dt_platform.trust.audit.table import PENDING_STATES
from dt_platform.trust.chain import ChainError
from dt_platform.trust.ipfs import IpfsError, open_ipfs
from dt_platform.trust.snapshot import SnapshotError

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

# Session keys of the last verification, proof and comparison: each stays on the page while the
# other forms are used, until the day changes or it is run again.
VERIFIED, PROVED, COMPARED = "audit_verified", "audit_proved", "audit_compared"


@st.cache_resource(max_entries=8, show_spinner=False)
def _snapshot(day, version: int, cid: str):
    """The records of an anchored version, read back from IPFS (a CID's content never changes)."""
    del cid  # part of the cache key only
    return version_records(open_ipfs(session.settings()), client, day, version)[1]


def _verify() -> dict:
    with st.spinner("recomputing the day's records and fetching every anchored snapshot"):
        try:
            with session.warehouse() as con:
                checked = verify_versions(con, open_ipfs(session.settings()), client, day)
        except (AuditError, ChainError, IpfsError, SnapshotError) as exc:
            return {"day": day, "error": f"Verification could not run: {exc}"}
    if checked.ok:
        summary = (
            f"{day} verified: the warehouse's {checked.latest.warehouse_record_count:,} records "
            "match the newest anchored version, and every anchored version matches its IPFS "
            "snapshot."
        )
    else:
        failing = checked.failing_versions()
        summary = (
            f"{day} does NOT match what was anchored"
            + (f" (version {', '.join(map(str, failing))})" if failing else "")
            + "."
        )
    return {"day": day, "ok": checked.ok, "summary": summary, "report": checked.render(limit=25)}


def _prove(source: str, key: dict[str, str]) -> dict:
    try:
        with session.warehouse() as con:
            proof = prove_record(con, open_ipfs(session.settings()), client, day, source, key)
    except (AuditError, ChainError, IpfsError, SnapshotError) as exc:
        return {"day": day, "source": source, "key": key, "error": str(exc)}
    return {
        "day": day,
        "source": source,
        "key": key,
        "on_chain": proof.verified_on_chain,
        "matches_warehouse": proof.matches_warehouse,
        "proof": json.dumps(proof.to_dict(), indent=2, default=str),
    }


def _shown(name: str) -> dict | None:
    """The stored result of ``name`` if it is about the day on screen."""
    result = st.session_state.get(name)
    return result if result is not None and result["day"] == day else None


left, right = st.columns(2)
with left:
    st.subheader("Verify the day")
    if st.button("Verify against chain and IPFS", type="primary", disabled=not versions):
        st.session_state[VERIFIED] = _verify()
    verified = _shown(VERIFIED)
    if verified is not None:
        if "error" in verified:
            st.error(verified["error"])
        else:
            (st.success if verified["ok"] else st.error)(verified["summary"])
            st.code(verified["report"], language=None)
with right:
    st.subheader("Prove one record")
    records = None
    if versions:
        newest = versions[-1]
        try:
            records = _snapshot(day, newest.version, newest.cid)
        except (AuditError, ChainError, IpfsError, SnapshotError) as exc:
            st.error(f"The anchored snapshot cannot be read: {exc}")
    if records is not None:
        sources = audit_views.provable_sources(records)
        source = st.selectbox(
            f"Source (in version {newest.version})",
            sources,
            index=audit_views.default_source(sources),
            key="prove_source",
            format_func=lambda name: f"{name} ({records.source(name).rows:,} records)",
        )
        held = records.source(source)
        key: dict[str, str] = {}
        for column in held.key_columns:
            key[column] = st.selectbox(
                column,
                audit_views.key_choices(held, key, column),
                key=f"prove_key_{source}_{column}",
            )
        if st.button("Prove", disabled=None in key.values()):
            st.session_state[PROVED] = _prove(source, key)
    proved = _shown(PROVED)
    if proved is not None:
        named = f"{proved['source']} [" + ", ".join(f"{k}={v}" for k, v in proved["key"].items())
        st.caption(f"Proof of {named}]")
        if "error" in proved:
            st.error(proved["error"])
        else:
            if proved["on_chain"]:
                st.success("The contract's verifyRecord view accepts this proof.")
            else:
                st.error("The contract rejects this proof.")
            if not proved["matches_warehouse"]:
                st.warning("The warehouse's record today differs from the anchored one.")
            st.code(proved["proof"], language="json")

st.subheader("Compare two versions")
if len(versions) < 2:
    st.caption(
        f"{day} has {len(versions)} anchored version(s): a rebuild with a reason (late or "
        "corrected data, an OPERATOR's) anchors another, and the two can then be compared here."
    )
else:
    numbers = [a.version for a in versions]
    cols = st.columns(2)
    earlier = cols[0].selectbox("Version", numbers, index=len(numbers) - 2, key="compare_from")
    later = cols[1].selectbox("with version", numbers, index=len(numbers) - 1, key="compare_to")
    if st.button("Compare", disabled=earlier == later):
        try:
            change = compare_versions(open_ipfs(session.settings()), client, day, earlier, later)
        except (AuditError, ChainError, IpfsError, SnapshotError) as exc:
            st.session_state[COMPARED] = {"day": day, "error": str(exc)}
        else:
            st.session_state[COMPARED] = {
                "day": day,
                "pair": (earlier, later),
                "reason": change.reason,
                "counts": change.counts(),
                "rows": audit_views.diff_rows(change.differences or []),
                "note": change.note,
            }
    compared = _shown(COMPARED)
    if compared is not None and "error" in compared:
        st.error(compared["error"])
    elif compared is not None:
        a, b = compared["pair"]
        c = compared["counts"]
        st.write(
            f"Version {a} → {b}: **{c['added']:,}** added, **{c['changed']:,}** changed, "
            f"**{c['removed']:,}** removed. Reason recorded for version {b}: "
            f"{compared['reason'] or '–'}"
        )
        if compared["rows"]:
            st.dataframe(compared["rows"], hide_index=True)
        if compared["note"]:
            st.warning(compared["note"])
