"""What ingestion works on and reports: a landed file as read, each file's result, the run's
summary, and the errors that stop a file."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from dt_platform.ingest.loader.rules import cap_text


class IngestError(RuntimeError):
    """A file could not be accounted for (a bug): nothing of it is kept, and it is quarantined
    (``loader_error``) until its content changes."""


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
        detail = cap_text(detail)
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class _Delivery:
    """One landed file as read from disk: its bytes and their hash."""

    rel: str
    path: Path
    stat: os.stat_result | None
    data: bytes
    sha: str
    read_stat: tuple[int, int]  # (size, mtime_ns) right after the bytes were read
    prepared: tuple[str, list[tuple]] | BaseException | None = None
    """A wide CSV parsed ahead of its turn: (scratch table, refused lines), or what stopped the
    parse (re-raised when the file's turn comes), or None (parsed in turn)."""
    refused: tuple[str, str] | None = None
    """(reason, detail) when the entry was not read at all: not a regular file, gone, too large,
    unreadable. Such a delivery has no bytes and no hash."""

    @classmethod
    def refused_entry(
        cls, rel: str, path: Path, stat: os.stat_result | None, reason: str, detail: str
    ) -> _Delivery:
        return cls(rel, path, stat, b"", "", (0, 0), refused=(reason, detail))

    @property
    def signature(self) -> tuple[int, int, int]:
        return signature_of(self.stat)


def signature_of(stat: os.stat_result | None) -> tuple[int, int, int]:
    """(size, mtime_ns, ctime_ns) of an entry (zeros when it could not be examined): an entry
    whose signature is what the ledger holds is not read again. The ctime changes with every
    write, even one that restores size and mtime."""
    if stat is None:
        return (0, 0, 0)
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
