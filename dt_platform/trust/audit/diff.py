"""Records that differ between the warehouse and an anchored snapshot, named by key and field."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from dt_platform.trust.snapshot import (
    DayRecords,
    SnapshotError,
    SourceRecords,
    records_from_table,
)


@dataclass(frozen=True)
class FieldDiff:
    """One field of a record: its value in the warehouse and in the snapshot (as JSON values)."""

    field: str
    warehouse: Any
    snapshot: Any


@dataclass(frozen=True)
class RecordDiff:
    """A record that differs between the warehouse and the anchored snapshot.

    ``kind``: ``changed`` (same key, fields differ), ``added`` (only in the warehouse) or
    ``removed`` (only in the snapshot).
    """

    source: str
    key: dict[str, str]
    kind: str
    fields: tuple[FieldDiff, ...] = ()

    def describe(self) -> str:
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        head = f"{self.source} [{key}]"
        if self.kind == "added":
            return f"{head}: in the warehouse but not in the anchored snapshot"
        if self.kind == "removed":
            return f"{head}: in the anchored snapshot but missing from the warehouse"
        changes = "; ".join(
            f"{f.field}: warehouse {f.warehouse!r}, snapshot {f.snapshot!r}" for f in self.fields
        )
        return f"{head}: {changes}"


def _field_diffs(warehouse: bytes, snapshot: bytes) -> tuple[FieldDiff, ...]:
    a, b = json.loads(warehouse), json.loads(snapshot)
    missing = object()
    return tuple(
        FieldDiff(k, a.get(k), b.get(k))
        for k in sorted(set(a) | set(b))
        if a.get(k, missing) != b.get(k, missing)
    )


def _source_diff(
    name: str, warehouse: SourceRecords | None, snapshot: SourceRecords | None
) -> list[RecordDiff]:
    present = warehouse or snapshot
    if present is None:
        return []
    key_columns = present.key_columns
    w_index = warehouse.index() if warehouse else {}
    s_index = snapshot.index() if snapshot else {}
    diffs: list[RecordDiff] = []
    for key in sorted(set(w_index) | set(s_index)):
        w = Counter(warehouse.records[i] for i in w_index.get(key, [])) if warehouse else Counter()
        s = Counter(snapshot.records[i] for i in s_index.get(key, [])) if snapshot else Counter()
        if w == s:
            continue
        only_w, only_s = sorted((w - s).elements()), sorted((s - w).elements())
        key_dict = dict(zip(key_columns, key, strict=True))
        if len(only_w) == 1 and len(only_s) == 1:
            diffs.append(RecordDiff(name, key_dict, "changed", _field_diffs(only_w[0], only_s[0])))
            continue
        diffs += [RecordDiff(name, key_dict, "added") for _ in only_w]
        diffs += [RecordDiff(name, key_dict, "removed") for _ in only_s]
    return diffs


def diff_records(warehouse: DayRecords, snapshot: DayRecords) -> list[RecordDiff]:
    """Records that differ, named by source and key, with the differing fields."""
    names = sorted({s.name for s in warehouse.sources} | {s.name for s in snapshot.sources})
    diffs: list[RecordDiff] = []
    for name in names:
        w, s = warehouse.source(name), snapshot.source(name)
        if w is not None and s is not None and w.key_columns != s.key_columns:
            # Keys changed between code versions: compare the snapshot under today's key.
            s = _rekey(s, w.key_columns)
        diffs += _source_diff(name, w, s)
    return diffs


def _rekey(records: SourceRecords, key: tuple[str, ...]) -> SourceRecords:
    try:
        return records_from_table(records.name, key, records.table, records.tables)
    except SnapshotError:
        return records
