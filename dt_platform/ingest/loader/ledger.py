"""The file ledger: decide whether a file is new, a new version of a known path, or bytes already
loaded, and record what became of it."""

from __future__ import annotations

import datetime as dt

from dt_platform.ingest.loader.dump import _load_dump
from dt_platform.ingest.loader.records import FileResult, _Delivery, _format_of


def _ingest_one(con, delivery: _Delivery, prev, now) -> FileResult | None:
    """Ledger and load one file inside the caller's transaction."""
    rel, stat, data, sha = delivery.rel, delivery.stat, delivery.data, delivery.sha
    if prev and prev[1] == sha:
        # Same content touched again: remember the new mtime so we do not hash it every time.
        con.execute(
            "UPDATE file_ledger SET mtime_ns=? WHERE file_id=?", [stat.st_mtime_ns, prev[0]]
        )
        return None
    file_id = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM file_ledger").fetchone()[0]
    version = prev[4] + 1 if prev else 1
    gateway = rel.split("/", 1)[0] if "/" in rel else None
    con.execute(
        """INSERT INTO file_ledger (file_id, path, sha256, size_bytes, mtime_ns, gateway, version,
           status, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'loading', ?)""",
        [file_id, rel, sha, len(data), stat.st_mtime_ns, gateway, version, now],
    )
    same = con.execute(
        "SELECT file_id FROM file_ledger WHERE sha256=? AND status='loaded' ORDER BY file_id LIMIT 1",
        [sha],
    ).fetchone()
    if same:
        result = FileResult(
            file_id,
            rel,
            "duplicate_file",
            version,
            duplicate_of=same[0],
            detail=f"same bytes as file {same[0]}; not loaded again",
        )
    else:
        superseded_days: list[dt.date] = []
        if prev:
            superseded_days = _supersede(con, prev[0], file_id)
        result = _load_dump(con, file_id, delivery, now, version)
        result.days = sorted(set(result.days) | set(superseded_days))
    _finish_ledger(con, result)
    return result


def _supersede(con, old_id: int, new_id: int) -> list[dt.date]:
    con.execute(
        "UPDATE file_ledger SET status='superseded', superseded_by=? WHERE file_id=?",
        [new_id, old_id],
    )
    days = con.execute("SELECT days FROM file_ledger WHERE file_id=?", [old_id]).fetchone()[0]
    return list(days or [])


def _finish_ledger(con, r: FileResult) -> None:
    fmt = _format_of(r.path)
    con.execute(
        """UPDATE file_ledger SET status=?, reason=?, detail=?, duplicate_of=?, format=?,
           records_in=?, records_parsed=?, records_malformed=?, rows_in=?, rows_loaded=?,
           rows_rejected=?, first_ts=?, last_ts=?, days=? WHERE file_id=?""",
        [
            r.status,
            r.reason,
            r.detail,
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
