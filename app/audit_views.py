"""How a day's anchored snapshot reads on the audit page: which sources hold records (so the
proof form never offers an empty one), the keys of those records as pickers narrowing column by
column, and the records that differ between two versions as table rows. Plain functions (no
Streamlit), so they are unit-tested; the page only lays them out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dt_platform.trust.audit.diff import RecordDiff
from dt_platform.trust.snapshot import DayRecords, SourceRecords

__all__ = ["MAX_CHOICES", "default_source", "diff_rows", "key_choices", "provable_sources"]

PREFERRED_SOURCES = ("rul_predictions", "maintenance_alerts", "telemetry_digest")
"""What a proof most often asks about, offered first when the snapshot holds it."""

MAX_CHOICES = 5000
"""A picker lists at most this many values (a day of telemetry digests stays well below)."""


def provable_sources(records: DayRecords) -> list[str]:
    """The snapshot's sources that hold at least one record, by name."""
    return sorted(s.name for s in records.sources if s.rows)


def default_source(sources: list[str]) -> int:
    """Index of the source the proof form starts on: a preferred one the snapshot holds, else
    the first."""
    for name in PREFERRED_SOURCES:
        if name in sources:
            return sources.index(name)
    return 0


def key_choices(source: SourceRecords, picked: Mapping[str, str], column: str) -> list[str]:
    """The values of key ``column`` among the source's records that match every column already
    ``picked`` (earlier key columns), sorted and without repeats, at most :data:`MAX_CHOICES`."""
    position = source.key_columns.index(column)
    fixed = [(source.key_columns.index(c), v) for c, v in picked.items()]
    values = {key[position] for key in source.keys if all(key[i] == v for i, v in fixed)}
    return sorted(values)[:MAX_CHOICES]


def _value(value: Any) -> str:
    return "–" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def diff_rows(differences: list[RecordDiff], limit: int = 500) -> list[dict[str, str]]:
    """One row per record (and per changed field) that differs: source, key, what happened, the
    field with its value in the earlier and the later version."""
    rows = []
    for diff in differences:
        key = ", ".join(f"{k}={v}" for k, v in diff.key.items())
        base = {"source": diff.source, "key": key, "change": diff.kind}
        if diff.kind != "changed" or not diff.fields:
            rows.append({**base, "field": "–", "before": "–", "after": "–"})
        for f in diff.fields:
            # diff_records(after, before): "warehouse" holds the later version's value
            rows.append(
                {
                    **base,
                    "field": f.field,
                    "before": _value(f.snapshot),
                    "after": _value(f.warehouse),
                }
            )
        if len(rows) >= limit:
            break
    return rows[:limit]
