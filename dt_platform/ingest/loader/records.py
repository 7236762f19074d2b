"""What ingestion works on and reports: a landed file as read, each file's result, the run's
summary, and the errors that stop a file."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path


class IngestError(RuntimeError):
    """A file could not be accounted for; it stays in landing and is retried on the next run."""


class FileChangedDuringLoad(IngestError):
    """The file's bytes on disk changed between hashing and parsing (a gateway still writing, or
    a re-delivery landing at that moment). Nothing of it is kept; it is picked up next run."""


@dataclass
class FileResult:
    file_id: int
    path: str
    status: str
    version: int = 1
    reason: str | None = None
    detail: str | None = None
    duplicate_of: int | None = None
    records_in: int | None = None
    records_parsed: int = 0
    records_malformed: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    days: list[dt.date] = field(default_factory=list)
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)
    touched_days: set[dt.date] = field(default_factory=set)
    retry_later: list[str] = field(default_factory=list)
    """Files left for the next run because they changed while being loaded."""

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def _format_of(rel: str) -> str | None:
    """The dump format a file's suffix announces, or None for a file that is not a dump."""
    suffix = Path(rel).suffix.lower()
    return {
        ".csv": "wide_csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
    }.get(suffix)


class _Quarantine(Exception):
    """The file is not a usable dump: nothing of it is loaded, the ledger says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class _Delivery:
    """One landed file as read from disk: its bytes and their hash."""

    rel: str
    path: Path
    stat: os.stat_result
    data: bytes
    sha: str
    read_stat: tuple[int, int]  # (size, mtime_ns) right after the bytes were read
    prepared: tuple[str, list[tuple]] | BaseException | None = None
    """A wide CSV parsed ahead of its turn: (scratch table, refused lines), or what stopped the
    parse (re-raised when the file's turn comes), or None (parsed in turn)."""
