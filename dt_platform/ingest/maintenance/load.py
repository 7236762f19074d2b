"""Rebuild the maintenance log from every export in ``landing/cmms/``, in one transaction.

Each run reads every export again (they are small) and checks it against the machine registry of
that run, so a machine added to ``machines.yaml`` lets its rejected work orders in at the next
run. Every file is read, hashed and parsed on its own: whatever goes wrong with one file
quarantines that file (or its lines) and the others load.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dt_platform.cmms import MAINTENANCE_FOLDER
from dt_platform.ingest.maintenance.files import Entry, open_folder, read_export, scan
from dt_platform.ingest.maintenance.ledger import (
    FileRow,
    assign_seqs,
    ensure_tables,
    history,
    write_ledger,
)
from dt_platform.ingest.maintenance.parse import Parsed, parse_export
from dt_platform.ingest.maintenance.reasons import clip
from dt_platform.ingest.safe_read import Refused


@dataclass
class MaintenanceSummary:
    files: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    superseded: int = 0
    duplicate_files: int = 0
    quarantined: list[str] = field(default_factory=list)


@dataclass
class _File:
    """One entry of the folder during a run: its ledger row and what its lines hold."""

    row: FileRow
    parsed: Parsed
    order: int  # arrival order of the entry in this run (mtime, name)


def load_maintenance_log(
    con: duckdb.DuckDBPyConnection, landing: Path, *, now: dt.datetime | None = None
) -> MaintenanceSummary:
    """Rebuild ``maintenance_log``, ``maintenance_rejects``, ``maintenance_superseded`` and the
    export ledger ``maintenance_files`` from every CMMS export in ``landing/cmms/``."""
    now = now or dt.datetime.now(dt.UTC)
    ensure_tables(con)
    machines = {m for (m,) in con.execute("SELECT machine_id FROM machines").fetchall()}
    files = _read_folder(landing / MAINTENANCE_FOLDER, machines, now)
    con.execute("BEGIN TRANSACTION")
    try:
        past = history(con)
        _order_contents(past, files)
        winners = _resolve(files)
        _write_log(con, files, winners)
        write_ledger(con, past, [f.row for f in files])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return _summary(files)


def _read_folder(folder: Path, machines: set[str], now: dt.datetime) -> list[_File]:
    """Every ``*.csv`` entry of the folder, read and parsed, in arrival order."""
    rel_folder = MAINTENANCE_FOLDER
    try:
        with open_folder(folder) as fd:
            if fd is None:
                return []
            parsed_by_sha: dict[str, Parsed] = {}
            return [
                _read_one(fd, entry, f"{rel_folder}/{entry.name}", k, machines, now, parsed_by_sha)
                for k, entry in enumerate(scan(fd))
            ]
    except Refused as exc:
        reason, detail = exc.reason, exc.detail
    except OSError as exc:  # the folder cannot be listed
        reason, detail = "unreadable_file", f"cannot list {rel_folder}/: {exc.strerror}"
    row = FileRow(rel_folder, None, None, None, None, "quarantined", reason, detail)
    row.checked_at = now
    return [_File(row, Parsed.whole_file(reason, detail, None, None), 0)]


def _read_one(
    fd: int,
    entry: Entry,
    rel: str,
    order: int,
    machines: set[str],
    now: dt.datetime,
    parsed_by_sha: dict[str, Parsed],
) -> _File:
    row = FileRow(rel, None, None, entry.size, entry.mtime_ns, "loaded", checked_at=now)
    try:
        export = read_export(fd, entry)
        row.sha256, row.size_bytes = export.sha256, len(export.data)
        parsed = parsed_by_sha.get(export.sha256)
        if parsed is None:
            parsed = parse_export(export.data, machines, now)
            parsed_by_sha[export.sha256] = parsed
    except Refused as exc:
        parsed = Parsed.whole_file(exc.reason, exc.detail, None, None)
    except Exception as exc:  # a bug while reading one file must not stop the others
        detail = clip(f"{type(exc).__name__}: {exc}") or ""
        parsed = Parsed.whole_file("unexpected_error", detail, None, None)
    if parsed.file_reason is not None:
        row.status, row.reason = "quarantined", parsed.file_reason
        row.detail = parsed.rejects[0][3]
    return _File(row, parsed, order)


def _order_contents(past: list[FileRow], files: list[_File]) -> None:
    """Number each read content by arrival, and keep one copy of each content: the others are
    ``duplicate_file`` (their lines count in the copy that is kept)."""
    read = [f for f in files if f.row.sha256 is not None]
    seqs = assign_seqs(past, [(f.row.path, f.row.sha256) for f in read])
    kept: dict[str, _File] = {}
    for f, seq in zip(read, seqs, strict=True):
        f.row.seq = seq
        first = kept.get(f.row.sha256)
        if first is None or seq > first.row.seq:
            kept[f.row.sha256] = f
    for f in read:
        primary = kept[f.row.sha256]
        if primary is not f:
            f.row.status, f.row.duplicate_of = "duplicate_file", primary.row.path
            f.row.detail = f"same bytes as {primary.row.path}; its lines count there"
            f.parsed = Parsed()


def _resolve(files: list[_File]) -> dict[str, tuple[_File, int]]:
    """Which line of which export each work order comes from: the latest export wins."""
    winners: dict[str, tuple[_File, int]] = {}
    loaded = [f for f in files if f.row.status == "loaded"]
    for f in sorted(loaded, key=lambda f: (f.row.seq, f.order)):
        for line, order, _raw in f.parsed.orders:
            winners[order.work_order] = (f, line)
    return winners


def _write_log(
    con: duckdb.DuckDBPyConnection, files: list[_File], winners: dict[str, tuple[_File, int]]
) -> None:
    """Write the log, the rejects and the superseded lines, and count them in each file's row."""
    log, rejects, superseded = [], [], []
    for f in files:
        path, row = f.row.path, f.row
        rejects += [(path, *reject) for reject in f.parsed.rejects]
        loaded_before, superseded_before = len(log), len(superseded)
        for line, order, raw in f.parsed.orders:
            winner, winner_line = winners[order.work_order]
            if winner is f and winner_line == line:
                log.append((*_values(order), path, line))
            else:
                superseded.append(
                    (order.work_order, path, line, clip(raw), winner.row.path, winner_line)
                )
        row.rows_in = f.parsed.rows_in
        row.rows_rejected = len(f.parsed.rejects)
        row.rows_loaded = len(log) - loaded_before
        row.rows_superseded = len(superseded) - superseded_before
    for table in ("maintenance_log", "maintenance_rejects", "maintenance_superseded"):
        con.execute(f"DELETE FROM {table}")
    for table, rows in (
        ("maintenance_log", log),
        ("maintenance_rejects", rejects),
        ("maintenance_superseded", superseded),
    ):
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _values(order) -> tuple:
    return (
        order.work_order,
        order.machine_id,
        order.started_at,
        order.finished_at,
        order.kind,
        order.action,
        order.component,
        order.notes,
    )


def _summary(files: list[_File]) -> MaintenanceSummary:
    summary = MaintenanceSummary(files=len(files))
    for f in files:
        row = f.row
        summary.rows_in += row.rows_in
        summary.rows_loaded += row.rows_loaded
        summary.rows_rejected += row.rows_rejected
        summary.superseded += row.rows_superseded
        summary.duplicate_files += row.status == "duplicate_file"
        if row.status == "quarantined":
            summary.quarantined.append(row.path)
    return summary
