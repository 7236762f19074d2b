"""Every anchored version of a day, each checked against its anchor, and what changed between
one version and the next (with the reason the chain recorded for it)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dt_platform.trust.audit.anchors import anchor_key
from dt_platform.trust.audit.diff import RecordDiff, diff_records
from dt_platform.trust.audit.report import Problem, VerificationReport
from dt_platform.trust.audit.verify import check_version
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.snapshot import DayRecords, SnapshotSource, collect_records

FILES = "source_files"


def describe_change(diff: RecordDiff, previous: int, version: int) -> str:
    """One record that differs between version ``previous`` and ``version``, for people."""
    key = ", ".join(f"{k}={v}" for k, v in diff.key.items())
    head = f"{diff.source} [{key}]"
    if diff.kind == "added":
        return f"{head}: added in version {version}"
    if diff.kind == "removed":
        return f"{head}: in version {previous}, not in version {version}"
    changes = "; ".join(f"{f.field}: {f.snapshot!r} → {f.warehouse!r}" for f in diff.fields)
    return f"{head}: {changes}"


@dataclass(frozen=True)
class VersionChange:
    """How version ``version`` differs from ``previous`` (``None`` differences: not readable)."""

    previous: int
    version: int
    reason: str | None
    differences: list[RecordDiff] | None
    note: str | None = None

    def counts(self) -> dict[str, int]:
        kinds = Counter(d.kind for d in self.differences or [])
        return {k: kinds.get(k, 0) for k in ("added", "changed", "removed")}

    def render(self, limit: int) -> list[str]:
        head = f"  version {self.previous} → {self.version} (reason: {self.reason or '—'})"
        if self.differences is None:
            return [f"{head}: cannot be compared, a snapshot could not be read"]
        c = self.counts()
        lines = [f"{head}: {c['added']} added, {c['changed']} changed, {c['removed']} removed"]
        lines += [
            f"    - {describe_change(d, self.previous, self.version)}"
            for d in self.differences[:limit]
        ]
        if len(self.differences) > limit:
            lines.append(f"    … and {len(self.differences) - limit} more (use --json)")
        if self.note:
            lines.append(f"    note: {self.note}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "previous": self.previous,
            "version": self.version,
            "reason": self.reason,
            "counts": self.counts() if self.differences is not None else None,
            "differences": [_diff_dict(d) for d in self.differences or []],
            "note": self.note,
        }


def _diff_dict(d: RecordDiff) -> dict[str, Any]:
    return {
        "source": d.source,
        "key": d.key,
        "kind": d.kind,
        "fields": [
            {"field": f.field, "before": f.snapshot, "after": f.warehouse} for f in d.fields
        ],
    }


@dataclass
class DayVerification:
    """What :func:`verify_versions` found: one report per anchored version, oldest first (the
    newest also checked against the warehouse), and the changes between consecutive versions."""

    partition: str
    versions: list[VerificationReport]
    changes: list[VersionChange] = field(default_factory=list)
    unanchored: VerificationReport | None = None

    @property
    def latest(self) -> VerificationReport:
        return self.versions[-1] if self.versions else self.unanchored  # type: ignore[return-value]

    @property
    def ok(self) -> bool:
        """Every version's snapshot matches its anchor, and the warehouse the newest one."""
        return bool(self.versions) and all(v.ok for v in self.versions)

    def failing_versions(self) -> list[int]:
        return [v.version for v in self.versions if not v.ok and v.version is not None]

    def to_dict(self) -> dict[str, Any]:
        data = self.latest.to_dict()
        data["ok"] = self.ok
        data["versions"] = [v.to_dict() for v in self.versions]
        data["changes"] = [c.to_dict() for c in self.changes]
        return data

    def render(self, limit: int = 50) -> str:
        """The newest version's report, then every version and what changed between them."""
        lines = [self.latest.render(limit)]
        if not self.versions:
            return lines[0]
        failing = self.failing_versions()
        state = "all OK" if not failing else f"MISMATCH in version(s) {failing}"
        lines.append(f"{len(self.versions)} anchored version(s), each checked: {state}")
        for report, change in zip(self.versions, [None, *self.changes], strict=True):
            if change is not None:
                lines += change.render(limit)
            lines.append(_version_line(report))
            if report is not self.versions[-1]:
                lines += [f"    ! {p.code}: {p.message}" for p in report.problems]
        return "\n".join(lines)


def _version_line(report: VerificationReport) -> str:
    state = "OK" if report.ok else "MISMATCH"
    return (
        f"  version {report.version}: {state} — root {report.anchored_root}, "
        f"{report.anchored_record_count} records, CID {report.anchored_cid}, block "
        f"{report.anchored_block} ({report.anchored_at})"
    )


def _file_content(records: DayRecords) -> set[str] | None:
    source = records.source(FILES)
    return {json.loads(r)["file_sha256"] for r in source.records} if source else None


def _change_note(before: DayRecords, after: DayRecords, diffs: Sequence[RecordDiff]) -> str | None:
    """Flag a change no file accounts for (both versions commit to their source files)."""
    old, new = _file_content(before), _file_content(after)
    if old is None or new is None or not diffs or new - old:
        return None
    return (
        "no file content changed between these versions: the change rests on the reason alone "
        "(an OPERATOR's, or records edited in the warehouse)"
    )


def verify_versions(
    con: duckdb.DuckDBPyConnection,
    ipfs: IpfsStore,
    chain: AuditChain,
    day: dt.date,
    *,
    sources: Sequence[SnapshotSource] | None = None,
) -> DayVerification:
    """Check every anchored version of ``day``: each snapshot against its anchor, the newest
    also against the warehouse (as :func:`verify_partition`), and name the records that changed
    from each version to the next. Raises :class:`ChainUnavailable` when the chain cannot be
    asked; everything else is reported."""
    key = anchor_key(day)
    anchors = chain.anchor_versions(key)
    warehouse = collect_records(con, day, sources)
    if not anchors:
        report = VerificationReport(partition=day.isoformat(), anchor_key=key)
        report.warehouse_record_count = warehouse.record_count
        report.problems.append(
            Problem("not_anchored", f"partition {key} has never been anchored on this chain")
        )
        return DayVerification(day.isoformat(), [], unanchored=report)
    reports: list[VerificationReport] = []
    snapshots: list[DayRecords | None] = []
    for anchor in anchors:
        newest = anchor is anchors[-1]
        report, snapshot = check_version(ipfs, anchor, day, warehouse if newest else None, sources)
        reports.append(report)
        snapshots.append(snapshot)
    changes = []
    for k in range(1, len(anchors)):
        before, after = snapshots[k - 1], snapshots[k]
        diffs = diff_records(after, before) if before and after else None
        note = _change_note(before, after, diffs) if before and after and diffs else None
        changes.append(VersionChange(k, k + 1, anchors[k].reason or None, diffs, note))
    return DayVerification(day.isoformat(), reports, changes)
