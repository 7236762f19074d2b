"""Anchored days read back for the track record: each day's snapshot fetched from the content
store by the CID its latest anchor names, and every record that is used proved against the
anchored Merkle root (:class:`AnchoredDays`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from dt_platform.trust.audit.anchors import anchor_key
from dt_platform.trust.audit.fetch import load_snapshot
from dt_platform.trust.audit.report import Problem
from dt_platform.trust.chain import Anchor, AuditChain
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.merkle import record_leaf, verify_proof
from dt_platform.trust.snapshot import DayRecords


@dataclass
class AnchoredDay:
    """One day as anchored: its anchor and the snapshot's records (None when unreadable)."""

    day: dt.date
    anchor: Anchor | None
    records: DayRecords | None


@dataclass
class AnchoredDays:
    """Fetches anchored days once each and proves the records taken from them.

    ``problems`` collects why a day or a record cannot be trusted; ``proved`` counts the records
    whose Merkle proof leads to the anchored root.
    """

    ipfs: IpfsStore
    chain: AuditChain
    problems: list[str] = field(default_factory=list)
    proved: int = 0
    _days: dict[dt.date, AnchoredDay] = field(default_factory=dict)

    def day(self, day: dt.date) -> AnchoredDay:
        if day not in self._days:
            self._days[day] = self._load(day)
        return self._days[day]

    def _load(self, day: dt.date) -> AnchoredDay:
        anchor = self.chain.latest_anchor(anchor_key(day))
        if anchor is None:
            self.problems.append(f"{day}: never anchored, so nothing of it can be checked")
            return AnchoredDay(day, None, None)
        found: list[Problem] = []
        records, _ = load_snapshot(self.ipfs, anchor, day, None, found)
        self.problems += [f"{day} (version {anchor.version}): {p.message}" for p in found]
        return AnchoredDay(day, anchor, records)

    def source(self, day: dt.date, name: str) -> pl.DataFrame | None:
        """The rows of source ``name`` of ``day`` as anchored, each record proved against the
        anchored root; None when the day or the source is not in an anchored snapshot."""
        anchored = self.day(day)
        if anchored.records is None or anchored.anchor is None:
            return None
        records = anchored.records.source(name)
        if records is None:
            return None
        tree = anchored.records.tree
        offset = 0
        for other in anchored.records.sources:
            if other.name == name:
                break
            offset += other.rows
        failed = 0
        for i, record in enumerate(records.records):
            leaf = record_leaf(record)
            if tree.leaf(offset + i) == leaf and verify_proof(
                anchored.anchor.root, leaf, tree.proof(offset + i)
            ):
                self.proved += 1
            else:
                failed += 1
        if failed:
            self.problems.append(
                f"{day}: {failed} of {records.rows} {name} record(s) do not prove against the "
                f"anchored root of version {anchored.anchor.version}"
            )
        return pl.from_arrow(records.table)
