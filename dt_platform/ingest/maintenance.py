"""The maintenance log: work orders exported by the CMMS into ``landing/cmms/*.csv``.

Work orders are few (hundreds a year) and authoritative: corrective ones mark failures, which is
what the prognostics learn from. The whole log is rebuilt from all export files on each run, so a
re-exported or corrected work order simply replaces the old row (the latest export wins). Rows
that cannot be used go to ``maintenance_rejects`` with a reason; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dt_platform.cmms import CMMS_COLUMNS, MAINTENANCE_FOLDER

KINDS = {"corrective", "preventive", "inspection"}
ACTIONS = {"replace", "repair", "clean", "adjust", "inspect"}


@dataclass
class MaintenanceSummary:
    files: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    superseded: int = 0


def _parse_ts(text: str) -> dt.datetime | None:
    """An ISO 8601 timestamp with its offset, in UTC; None if absent or without offset."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value.astimezone(dt.UTC)


def _check_row(row: dict[str, str], machines: set[str]) -> tuple[str, str] | None:
    """The reason a work order cannot be used, or None."""
    if not row["work_order"].strip():
        return "missing_field", "work_order is empty"
    if row["machine_id"] not in machines:
        return "unknown_machine", f"machine {row['machine_id']!r} is not in the registry"
    started = _parse_ts(row["started_at"])
    if started is None:
        return (
            "unparseable_timestamp",
            f"started_at {row['started_at']!r} needs ISO 8601 with an offset",
        )
    if row["finished_at"].strip():
        finished = _parse_ts(row["finished_at"])
        if finished is None:
            return (
                "unparseable_timestamp",
                f"finished_at {row['finished_at']!r} needs ISO 8601 with an offset",
            )
        if finished < started:
            return "inconsistent_times", "finished_at is before started_at"
    if row["kind"] not in KINDS:
        return "unknown_kind", f"kind {row['kind']!r} is not one of {sorted(KINDS)}"
    if row["action"] not in ACTIONS:
        return "unknown_action", f"action {row['action']!r} is not one of {sorted(ACTIONS)}"
    return None


def load_maintenance_log(con: duckdb.DuckDBPyConnection, landing: Path) -> MaintenanceSummary:
    """Rebuild ``maintenance_log`` and ``maintenance_rejects`` from every CMMS export."""
    files = export_files(landing / MAINTENANCE_FOLDER)
    machines = {
        m for (m,) in con.execute("SELECT machine_id FROM machines WHERE active").fetchall()
    }
    summary = MaintenanceSummary(files=len(files))
    orders: dict[str, tuple] = {}
    rejects: list[tuple] = []
    for path in files:
        rel = path.relative_to(landing).as_posix()
        _read_export(path, rel, machines, summary, orders, rejects)
    con.execute("DELETE FROM maintenance_log")
    con.execute("DELETE FROM maintenance_rejects")
    if orders:
        con.executemany(
            "INSERT INTO maintenance_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            list(orders.values()),
        )
    if rejects:
        con.executemany("INSERT INTO maintenance_rejects VALUES (?, ?, ?, ?, ?)", rejects)
    summary.rows_loaded = len(orders)
    summary.rows_rejected = len(rejects)
    return summary


def export_files(folder: Path) -> list[Path]:
    """The export files, oldest first, so that the latest export of a work order wins."""
    if not folder.exists():
        return []
    return sorted(
        (p for p in folder.glob("*.csv") if not p.name.startswith(".")),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
    )


def _read_export(
    path: Path,
    rel: str,
    machines: set[str],
    summary: MaintenanceSummary,
    orders: dict[str, tuple],
    rejects: list[tuple],
) -> None:
    """Add one export's usable work orders to ``orders`` (replacing earlier rows of the same work
    order) and its other rows to ``rejects``, counting them in ``summary``."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != CMMS_COLUMNS:
        summary.rows_in += 1
        rejects.append(
            (
                rel,
                1,
                ",".join(header or [])[:500],
                "not_a_maintenance_log",
                f"expected header {','.join(CMMS_COLUMNS)}",
            )
        )
        return
    for row_values in reader:
        line = reader.line_num
        if not any(v.strip() for v in row_values):
            continue
        summary.rows_in += 1
        if len(row_values) != len(CMMS_COLUMNS):
            rejects.append(
                (
                    rel,
                    line,
                    ",".join(row_values)[:500],
                    "wrong_column_count",
                    f"expected {len(CMMS_COLUMNS)} fields, found {len(row_values)}",
                )
            )
            continue
        row = dict(zip(CMMS_COLUMNS, (v.strip() for v in row_values), strict=True))
        problem = _check_row(row, machines)
        if problem:
            rejects.append((rel, line, ",".join(row_values)[:500], *problem))
            continue
        if row["work_order"] in orders:
            summary.superseded += 1
        orders[row["work_order"]] = (
            row["work_order"],
            row["machine_id"],
            _parse_ts(row["started_at"]),
            _parse_ts(row["finished_at"]) if row["finished_at"] else None,
            row["kind"],
            row["action"],
            row["component"] or None,
            row["notes"] or None,
            rel,
            line,
        )
