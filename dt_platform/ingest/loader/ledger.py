"""The file ledger: decide whether a file is new content, a new version of a document already
loaded, or bytes already seen, and record what became of every file — refused entries and files
the loader failed on included.

**Corrections always win.** Content is identified by its sha256, whatever the file's name:

* bytes seen before (in any file, loaded, superseded or quarantined) are a ``duplicate_file``:
  never loaded again, and never undo a later version (a re-send of an original after its
  correction leaves the correction in place);
* new bytes under a known name are a new *version* of the document that name held, and supersede
  what that document has loaded: the path's own loaded version and, when the name held a copy
  (the same bytes under another name, or a file whose every reading repeated one earlier file),
  the current version of the file it copied, following later versions whatever their names.

A copy is followed only to a file that loaded readings: two files that merely share contentless
bytes (an empty export, a header alone) are not one document. A version that cannot be loaded at
all (quarantined, refused, or failed) supersedes nothing: a truncated or garbled re-send does not
take a day's readings away.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from dt_platform.ingest.loader.dump import _load_dump, _quarantine
from dt_platform.ingest.loader.records import FileResult, _Delivery, _format_of, _Quarantine
from dt_platform.ingest.loader.rules import IngestLimits, cap_text


class _Known(NamedTuple):
    """The latest ledger entry of a path."""

    file_id: int
    sha: str
    signature: tuple[int, int, int | None]
    version: int


def _known_paths(con) -> dict[str, _Known]:
    return {
        path: _Known(file_id, sha, (size, mtime, ctime), version)
        for file_id, path, sha, size, mtime, ctime, version in con.execute(
            """SELECT file_id, path, sha256, size_bytes, mtime_ns, ctime_ns, version
               FROM file_ledger
               QUALIFY row_number() OVER (PARTITION BY path ORDER BY version DESC) = 1"""
        ).fetchall()
    }


def _known_shas(con) -> set[str]:
    return {sha for (sha,) in con.execute("SELECT DISTINCT sha256 FROM file_ledger").fetchall()}


def _ingest_one(con, delivery: _Delivery, prev: _Known | None, now, limits: IngestLimits):
    """Ledger and load one file inside the caller's transaction; None when nothing changed."""
    if delivery.refused is not None:
        file_id, version = _new_entry(con, delivery, prev, now)
        return _finish_ledger(
            con,
            _quarantine(con, file_id, delivery.rel, version, _Quarantine(*delivery.refused), now),
        )
    if prev and prev.sha == delivery.sha:
        # Same content touched again: remember how it looks so we do not read it every time.
        _, mtime, ctime = delivery.signature
        con.execute(
            "UPDATE file_ledger SET mtime_ns=?, ctime_ns=? WHERE file_id=?",
            [mtime, ctime, prev.file_id],
        )
        return None
    file_id, version = _new_entry(con, delivery, prev, now)
    # No bytes carry nothing to repeat: every empty file is reported as such.
    original = _first_with_content(con, delivery.sha, file_id) if delivery.data else None
    if original is not None:
        result = FileResult(
            file_id,
            delivery.rel,
            "duplicate_file",
            version,
            duplicate_of=original[0],
            detail=f"same bytes as file {original[0]}"
            + (f", superseded by file {original[1]}" if original[1] else "")
            + "; not loaded again",
        )
    else:
        # Superseded first, so that the new version's readings are not compared with them.
        targets = _superseded_by_new_content(con, prev)
        superseded_days = _supersede(con, targets, file_id)
        result = _load_dump(con, file_id, delivery, now, version, limits)
        if result.status == "quarantined":
            _restore(con, targets)  # a version that cannot be loaded takes nothing away
        else:
            result.days = sorted(set(result.days) | set(superseded_days))
    return _finish_ledger(con, result)


def _record_failure(con, delivery: _Delivery, prev: _Known | None, now, exc: Exception):
    """Record, in its own transaction, a file the loader failed on (a bug): quarantined with the
    error, so that the run goes on and the file is retried only when its content changes. What
    it would have superseded stays loaded."""
    con.execute("BEGIN TRANSACTION")
    file_id, version = _new_entry(con, delivery, prev, now)
    detail = f"the loader failed on this file ({type(exc).__name__}: {exc})"
    result = _quarantine(
        con, file_id, delivery.rel, version, _Quarantine("loader_error", detail), now
    )
    _finish_ledger(con, result)
    con.execute("COMMIT")
    return result


def _new_entry(con, delivery: _Delivery, prev: _Known | None, now) -> tuple[int, int]:
    file_id = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM file_ledger").fetchone()[0]
    version = prev.version + 1 if prev else 1
    rel = delivery.rel
    gateway = rel.split("/", 1)[0] if "/" in rel else None
    size, mtime, ctime = delivery.signature
    con.execute(
        """INSERT INTO file_ledger (file_id, path, sha256, size_bytes, mtime_ns, ctime_ns, gateway,
           version, status, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'loading', ?)""",
        [file_id, rel, delivery.sha, size, mtime, ctime, gateway, version, now],
    )
    return file_id, version


def _first_with_content(con, sha: str, file_id: int) -> tuple[int, int | None] | None:
    """(file id, superseded by) of the entry that first held these bytes — the loaded one if
    any — or None for bytes never seen."""
    return con.execute(
        """SELECT file_id, superseded_by FROM file_ledger
           WHERE sha256 = ? AND file_id <> ? AND status <> 'loading'
           ORDER BY status = 'loaded' DESC, status = 'duplicate_file', file_id LIMIT 1""",
        [sha, file_id],
    ).fetchone()


def _entry(con, file_id: int) -> tuple[str, int | None, int | None, int]:
    """(status, duplicate_of, superseded_by, rows_loaded) of a ledger entry."""
    status, duplicate_of, superseded_by, rows_loaded = con.execute(
        "SELECT status, duplicate_of, superseded_by, rows_loaded FROM file_ledger WHERE file_id=?",
        [file_id],
    ).fetchone()
    return status, duplicate_of, superseded_by, rows_loaded or 0


def _superseded_by_new_content(con, prev: _Known | None) -> list[int]:
    """The loaded entries new content under ``prev``'s name supersedes: the name's own loaded
    version, and the current version of the document the name's content stood for."""
    if prev is None:
        return []
    targets = [prev.file_id] if _entry(con, prev.file_id)[0] == "loaded" else []
    origin = _origin(con, prev.file_id)
    head = _current_version(con, origin) if origin is not None else None
    if head is not None and head not in targets:
        targets.append(head)
    return targets


def _origin(con, file_id: int) -> int | None:
    """The entry whose readings ``file_id``'s content stands for: itself, or, for a copy (same
    bytes, or every reading a repeat of one file), the file it copies if that one had readings."""
    start, seen = file_id, set()
    while file_id not in seen:
        seen.add(file_id)
        status, duplicate_of, _, rows_loaded = _entry(con, file_id)
        if duplicate_of is None or (status != "duplicate_file" and rows_loaded > 0):
            return file_id if file_id == start or rows_loaded > 0 else None
        file_id = duplicate_of
    return None


def _current_version(con, file_id: int) -> int | None:
    """The loaded entry that ``file_id`` became through its later versions, if any."""
    seen = set()
    while file_id not in seen:
        seen.add(file_id)
        status, _, superseded_by, _ = _entry(con, file_id)
        if status == "loaded":
            return file_id
        if status != "superseded" or superseded_by is None:
            return None
        file_id = superseded_by
    return None


def _supersede(con, targets: list[int], new_id: int) -> list[dt.date]:
    """Take ``targets`` out of telemetry (their readings stay on record); returns their days."""
    if not targets:
        return []
    days = con.execute(
        """UPDATE file_ledger SET status='superseded', superseded_by=$new
           WHERE list_contains($targets, file_id) AND status='loaded' RETURNING days""",
        {"new": new_id, "targets": targets},
    ).fetchall()
    return sorted({d for (ds,) in days for d in (ds or [])})


def _restore(con, targets: list[int]) -> None:
    if targets:
        con.execute(
            """UPDATE file_ledger SET status='loaded', superseded_by=NULL
               WHERE list_contains($targets, file_id)""",
            {"targets": targets},
        )


def _finish_ledger(con, r: FileResult) -> FileResult:
    fmt = _format_of(r.path)
    con.execute(
        """UPDATE file_ledger SET status=?, reason=?, detail=?, duplicate_of=?, format=?,
           records_in=?, records_parsed=?, records_malformed=?, rows_in=?, rows_loaded=?,
           rows_rejected=?, first_ts=?, last_ts=?, days=? WHERE file_id=?""",
        [
            r.status,
            r.reason,
            cap_text(r.detail),
            r.duplicate_of,
            fmt,
            r.records_in,
            r.records_parsed,
            r.records_malformed,
            r.rows_in,
            r.rows_loaded,
            r.rows_rejected,
            r.first_ts,
            r.last_ts,
            r.days,
            r.file_id,
        ],
    )
    return r
