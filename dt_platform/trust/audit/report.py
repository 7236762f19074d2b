"""What verifying a day found: :class:`Problem` codes and the :class:`VerificationReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dt_platform.trust.audit.diff import RecordDiff


@dataclass(frozen=True)
class Problem:
    """One reason a partition does not verify. ``code`` is stable, ``message`` is for people."""

    code: str
    message: str


@dataclass
class VerificationReport:
    """What :func:`verify_partition` found. ``ok`` only when nothing at all is wrong."""

    partition: str
    anchor_key: str
    version: int | None = None
    anchored_root: str | None = None
    anchored_cid: str | None = None
    anchored_record_count: int | None = None
    anchored_block: int | None = None
    anchored_at: str | None = None
    publisher: str | None = None
    reason: str | None = None
    warehouse_root: str | None = None
    warehouse_record_count: int = 0
    snapshot_root: str | None = None
    snapshot_record_count: int | None = None
    code_version: str | None = None
    problems: list[Problem] = field(default_factory=list)
    differences: list[RecordDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What a reader should know that is not a fault (e.g. a source the version predates)."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.differences

    def problem_codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def render(self, limit: int = 50) -> str:
        """A text report for people (at most ``limit`` differing records listed)."""
        if self.version is None:
            head = f"partition {self.partition}: NOT ANCHORED"
        else:
            state = "OK" if self.ok else "MISMATCH"
            head = (
                f"partition {self.partition}: {state} — version {self.version}, root "
                f"{self.anchored_root}, {self.anchored_record_count} records, CID "
                f"{self.anchored_cid}"
            )
        lines = [head]
        if self.version is not None:
            lines.append(
                f"  warehouse: {self.warehouse_record_count} records, root {self.warehouse_root}"
            )
            lines.append(
                f"  snapshot:  {self.snapshot_record_count} records, root {self.snapshot_root}"
            )
        lines += [f"  ! {p.code}: {p.message}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        shown = self.differences[:limit]
        if shown:
            lines.append(f"  {len(self.differences)} differing record(s):")
            lines += [f"    - {d.describe()}" for d in shown]
        if len(self.differences) > len(shown):
            lines.append(f"    … and {len(self.differences) - len(shown)} more (use --json)")
        return "\n".join(lines)
