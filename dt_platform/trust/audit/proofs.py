"""Merkle proofs that one record is part of an anchored snapshot, and how a record is named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from dt_platform.trust.audit.anchors import anchor_key, get_anchor, to_hex
from dt_platform.trust.audit.errors import (
    AuditError,
    NotAnchored,
    RecordNotFound,
    RecordSpecError,
)
from dt_platform.trust.audit.fetch import load_snapshot
from dt_platform.trust.audit.report import Problem
from dt_platform.trust.chain import Anchor, AuditChain
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.merkle import verify_proof
from dt_platform.trust.snapshot import (
    DayRecords,
    SnapshotSource,
    SourceRecords,
    collect_records,
    format_timestamp,
    key_text,
)


@dataclass(frozen=True)
class Proof:
    """A Merkle proof that one record is part of an anchored snapshot."""

    partition: str
    anchor_key: str
    version: int
    source: str
    key: dict[str, str]
    record: bytes
    leaf: bytes
    proof: list[bytes]
    root: bytes
    cid: str
    origin: str
    """Where the record and tree came from: ``warehouse`` (it matches the anchor) or
    ``snapshot`` (the warehouse changed since; the anchored snapshot from IPFS was used)."""
    matches_warehouse: bool
    verified_locally: bool
    verified_on_chain: bool | None
    """The contract view ``verifyRecord``'s answer (``None`` if not asked)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "anchor_key": self.anchor_key,
            "version": self.version,
            "source": self.source,
            "key": self.key,
            "record": self.record.decode("utf-8"),
            "record_hex": to_hex(self.record),
            "leaf": to_hex(self.leaf),
            "proof": [to_hex(p) for p in self.proof],
            "root": to_hex(self.root),
            "cid": self.cid,
            "origin": self.origin,
            "matches_warehouse": self.matches_warehouse,
            "verified_locally": self.verified_locally,
            "verified_on_chain": self.verified_on_chain,
        }


def _key_input(value: Any) -> str:
    """Normalise a key value given by a user (``2026-11-20T13:00Z`` → canonical timestamp)."""
    if not isinstance(value, str):
        return key_text(value)
    if "T" in value and ":" in value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return format_timestamp(parsed)
    return value


def _key_tuple(source: SourceRecords, key: Mapping[str, Any]) -> tuple[str, ...]:
    wanted, given = set(source.key_columns), set(key)
    if wanted != given:
        raise RecordNotFound(
            f"source {source.name!r} is keyed by {', '.join(source.key_columns)}; got "
            f"{', '.join(sorted(given)) or 'no key'}"
        )
    return tuple(_key_input(key[c]) for c in source.key_columns)


def parse_record_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``SOURCE:key=value,key=value`` → ``(source, {key: value})``.

    Only the first ``:`` separates the source, so timestamps (``hour=2026-11-20T13:00:00Z``) need
    no quoting; values may not contain commas. Raises :class:`RecordSpecError` naming the fault.
    """
    source, sep, rest = spec.partition(":")
    if not sep or not source.strip() or not rest.strip():
        raise RecordSpecError(
            f"{spec!r}: expected SOURCE:key=value[,key=value…], e.g. "
            "telemetry_digest:machine_id=SMT-01,sensor=vacuum_kpa,hour=2026-11-20T13:00:00Z"
        )
    key: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise RecordSpecError(f"{part!r} in {spec!r} is not key=value")
        if name.strip() in key:
            raise RecordSpecError(f"key {name.strip()!r} is given twice in {spec!r}")
        key[name.strip()] = value.strip()
    return source.strip(), key


def prove_record(
    con: duckdb.DuckDBPyConnection,
    ipfs: IpfsStore,
    chain: AuditChain,
    day: dt.date,
    source: str,
    key: Mapping[str, Any],
    *,
    version: int | None = None,
    sources: Sequence[SnapshotSource] | None = None,
    check_on_chain: bool = True,
) -> Proof:
    """Proof that the record ``source``/``key`` of ``day`` is in the anchored snapshot.

    The tree is rebuilt from the warehouse when its root equals the anchor (no IPFS needed),
    otherwise from the anchored snapshot on IPFS, so the proof always leads to the anchored root;
    ``matches_warehouse`` says whether today's warehouse record is the anchored one. With
    ``check_on_chain`` the contract's ``verifyRecord`` view checks it too.
    """
    akey = anchor_key(day)
    anchor = get_anchor(chain, akey, version)
    if anchor is None:
        raise NotAnchored(f"partition {akey} has never been anchored: nothing to prove against")
    warehouse = collect_records(con, day, sources)
    day_records, origin = _anchored_records(ipfs, anchor, day, sources, warehouse)
    records, wanted, positions = _find(day_records, source, key, akey, anchor.version)
    index = positions[0]
    tree = day_records.tree
    record = day_records.all_records()[index]
    leaf, path = tree.leaf(index), tree.proof(index)
    if origin == "warehouse":
        matches = True
    else:
        w_positions = warehouse.locate(source, wanted)
        matches = bool(w_positions) and warehouse.all_records()[w_positions[0]] == record
    on_chain = (
        chain.verify_record(akey, anchor.version, record, path, cid=anchor.cid)
        if check_on_chain
        else None
    )
    return Proof(
        partition=day.isoformat(),
        anchor_key=akey,
        version=anchor.version,
        source=source,
        key=dict(zip(records.key_columns, wanted, strict=True)),
        record=record,
        leaf=leaf,
        proof=path,
        root=anchor.root,
        cid=anchor.cid,
        origin=origin,
        matches_warehouse=matches,
        verified_locally=verify_proof(anchor.root, leaf, path),
        verified_on_chain=on_chain,
    )


def _anchored_records(
    ipfs: IpfsStore,
    anchor: Anchor,
    day: dt.date,
    sources: Sequence[SnapshotSource] | None,
    warehouse: DayRecords,
) -> tuple[DayRecords, str]:
    """The records whose tree has the anchored root, and where they came from."""
    if warehouse.record_count and warehouse.root == anchor.root:
        return warehouse, "warehouse"
    problems: list[Problem] = []
    snapshot, _ = load_snapshot(ipfs, anchor, day, sources, problems)
    if snapshot is None or not snapshot.record_count or snapshot.root != anchor.root:
        detail = "; ".join(p.message for p in problems) or "its records rebuild another root"
        raise AuditError(
            f"the warehouse no longer matches version {anchor.version} of {anchor_key(day)} and "
            f"the anchored snapshot {anchor.cid} cannot stand in: {detail}"
        )
    return snapshot, "snapshot"


def _find(
    day_records: DayRecords, source: str, key: Mapping[str, Any], akey: str, version: int
) -> tuple[SourceRecords, tuple[str, ...], list[int]]:
    """The source's records, the key as text and the record's leaf positions (never empty)."""
    records = day_records.source(source)
    if records is None:
        present = ", ".join(s.name for s in day_records.sources)
        raise RecordNotFound(f"partition {akey} has no source {source!r} (it has: {present})")
    wanted = _key_tuple(records, key)
    positions = day_records.locate(source, wanted)
    if not positions:
        examples = "; ".join(
            ", ".join(f"{k}={v}" for k, v in records.key_dict(i).items())
            for i in range(min(3, records.rows))
        )
        raise RecordNotFound(
            f"no {source} record with "
            + ", ".join(f"{k}={v}" for k, v in zip(records.key_columns, wanted, strict=True))
            + f" in {akey} (version {version}); e.g. {examples}"
        )
    return records, wanted, positions
