"""Any two anchored versions of a day side by side: each read back from IPFS, checked against its
anchor's root, and the records that differ named by source, key and field (:mod:`.diff`).

:func:`verify_versions` compares each version with the next; this compares the two a person
picks (e.g. the first with the newest), and gives the records a version holds, so a page can
offer the keys it can prove.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dt_platform.trust.audit.anchors import anchor_key, get_anchor
from dt_platform.trust.audit.diff import diff_records
from dt_platform.trust.audit.errors import AuditError, NotAnchored
from dt_platform.trust.audit.fetch import load_snapshot
from dt_platform.trust.audit.history import VersionChange, _change_note
from dt_platform.trust.audit.report import Problem
from dt_platform.trust.chain import Anchor, AuditChain
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.snapshot import DayRecords, SnapshotSource


def snapshot_records(
    ipfs: IpfsStore, anchor: Anchor, day: dt.date, sources: Sequence[SnapshotSource] | None = None
) -> DayRecords:
    """The records of the snapshot ``anchor`` names, read from IPFS; raises :class:`AuditError`
    naming what is wrong when they cannot be read or do not rebuild the anchored root."""
    problems: list[Problem] = []
    records, _ = load_snapshot(ipfs, anchor, day, sources, problems)
    if records is None or not records.record_count or records.root != anchor.root:
        detail = "; ".join(p.message for p in problems) or "its records rebuild another root"
        raise AuditError(
            f"version {anchor.version} of {anchor.partition} (snapshot {anchor.cid}) cannot be "
            f"read back: {detail}"
        )
    return records


def version_records(
    ipfs: IpfsStore,
    chain: AuditChain,
    day: dt.date,
    version: int | None = None,
    sources: Sequence[SnapshotSource] | None = None,
) -> tuple[Anchor, DayRecords]:
    """An anchored version of ``day`` (the newest by default) and its records."""
    anchor = get_anchor(chain, anchor_key(day), version)
    if anchor is None:
        raise NotAnchored(f"partition {anchor_key(day)} has never been anchored")
    return anchor, snapshot_records(ipfs, anchor, day, sources)


def compare_versions(
    ipfs: IpfsStore,
    chain: AuditChain,
    day: dt.date,
    previous: int,
    version: int,
    sources: Sequence[SnapshotSource] | None = None,
) -> VersionChange:
    """How version ``version`` of ``day`` differs from version ``previous`` (any two, in either
    order): records added, removed or changed (field by field), with the reason the chain holds
    for ``version``. Raises :class:`NotAnchored` for a version that does not exist and
    :class:`AuditError` for a snapshot that cannot be read back."""
    if previous == version:
        raise AuditError(f"pick two different versions to compare (both are {version})")
    _, before = version_records(ipfs, chain, day, previous, sources)
    after_anchor, after = version_records(ipfs, chain, day, version, sources)
    diffs = diff_records(after, before)
    note = _change_note(before, after, diffs) if diffs else None
    return VersionChange(previous, version, after_anchor.reason or None, diffs, note)
