"""A landing folder with CMMS exports and a warehouse, for the maintenance-log tests."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from dt_platform.cmms import CMMS_COLUMNS
from dt_platform.ingest.maintenance import load_maintenance_log, unbalanced_exports
from dt_platform.ingest.registry import parse_registry, sync_registry
from dt_platform.warehouse import ensure_schema

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
HEADER = ",".join(CMMS_COLUMNS)
REGISTRY = """
machines:
  - {machine_id: CNC-01, type: cnc_spindle}
  - {machine_id: SMT-01, type: smt_placer}
  - {machine_id: OLD-01, type: cnc_spindle}
"""
STILL_LISTED = """
machines:
  - {machine_id: CNC-01, type: cnc_spindle}
  - {machine_id: SMT-01, type: smt_placer}
"""


def wo(number: int, **fields: str) -> str:
    """One export line of a plausible work order; ``fields`` override columns by name."""
    row = {
        "work_order": f"WO-{number:06d}",
        "machine_id": "CNC-01",
        "started_at": f"2026-11-{number % 20 + 1:02d}T09:12:00+08:00",
        "finished_at": f"2026-11-{number % 20 + 1:02d}T13:40:00+08:00",
        "kind": "corrective",
        "action": "replace",
        "component": "spindle_bearing",
        "notes": '"failure: vibration 4.9 mm/s"',
    }
    row.update(fields)
    return ",".join(row[c] for c in CMMS_COLUMNS)


def export(*lines: str, end: str = "\n") -> bytes:
    return (end.join([HEADER, *lines]) + end).encode()


class Cmms:
    """``landing/cmms`` and a warehouse whose registry knows CNC-01 and SMT-01, and OLD-01 as a
    retired machine; ``load()`` runs the loader like the asset does."""

    def __init__(self, root: Path) -> None:
        self.landing = root / "landing"
        self.folder = self.landing / "cmms"
        self.folder.mkdir(parents=True)
        # One in-memory warehouse per test: the loader only needs a connection.
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        ensure_schema(self.con)
        sync_registry(self.con, parse_registry(REGISTRY))
        sync_registry(self.con, parse_registry(STILL_LISTED))  # OLD-01 retires
        self._tick = 0

    def drop(self, name: str, content: bytes | str, *, mtime_ns: int | None = None) -> Path:
        path = self.folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        self._tick += 1
        stamp = mtime_ns or 1_700_000_000_000_000_000 + self._tick * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
        return path

    def load(self, now: dt.datetime = NOW):
        return load_maintenance_log(self.con, self.landing, now=now)

    def query(self, sql: str, params=None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    def orders(self) -> dict[str, tuple]:
        """work order -> (source file name, line, notes)"""
        rows = self.query("SELECT work_order, source_file, line, notes FROM maintenance_log")
        return {w: (f.removeprefix("cmms/"), line, notes) for w, f, line, notes in rows}

    def rejects(self, name: str | None = None) -> list[tuple]:
        """(line, reason) of the rejects, of one file or all."""
        where, params = ("WHERE source_file = ?", [f"cmms/{name}"]) if name else ("", [])
        return self.query(
            f"SELECT line, reason FROM maintenance_rejects {where} ORDER BY source_file, line",
            params,
        )

    def ledger(self) -> dict[str, tuple]:
        """path -> (status, reason, rows in, loaded, rejected, superseded) of current files"""
        rows = self.query(
            """SELECT path, status, reason, rows_in, rows_loaded, rows_rejected, rows_superseded
               FROM maintenance_files
               WHERE status IN ('loaded', 'duplicate_file', 'quarantined')"""
        )
        return {p.removeprefix("cmms/"): tuple(rest) for p, *rest in rows}

    def assert_balanced(self) -> None:
        """Every file: rows in = loaded + rejected + superseded, equal to the stored rows."""
        assert unbalanced_exports(self.con) == []
        for name, (_, _, rows_in, loaded, rejected, superseded) in self.ledger().items():
            assert rows_in == loaded + rejected + superseded, name
