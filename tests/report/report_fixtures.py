"""A hand-made day for the report tests: every number the report should show is chosen here,
in the platform's real tables (warehouse DDL of each module, the twin store's alarm and command
tables), so the tests compare the report with figures counted by hand.

Plain functions, not fixtures: each test module builds what it needs.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import duckdb
import polars as pl

from dt_platform.phm import tables
from dt_platform.phm.track_record_table import ensure_tables as ensure_track_record
from dt_platform.trust.audit import ensure_audit_table
from dt_platform.twin.alarms import Condition, acknowledge, sync_alarms
from dt_platform.twin.command_store import open_commands
from dt_platform.twin.db import connect as twin_connect
from dt_platform.twin.decisions import WAREHOUSE_COLUMNS
from dt_platform.twin.maturity_table import ensure_maturity_table
from tests.trust.audit_fixtures import DAY, day_start, insert_telemetry, telemetry_rows

PREV = DAY - dt.timedelta(days=1)
START, END = day_start(DAY), day_start(DAY + dt.timedelta(days=1))
MAINTAINER = "0x" + "15d34aaf54267db7d7c367839aaf71a00a2c6a65"
ROOT = "0x" + "ab" * 32
TX = "0x" + "cd" * 32
SNAPSHOT_CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
MACHINES = (
    (1, "SMT-01", "smt_placer", "gw-opcua"),
    (2, "CNC-01", "cnc_spindle", "gw-historian"),
    (3, "OVEN-01", "reflow_oven", "gw-mqtt"),
    (4, "SERVO-01", "servo_drive", "gw-quiet"),  # its gateway sends nothing that day
)
OVEN_QUIET_FROM = 12  # OVEN-01's readings stop at noon: gw-mqtt goes quiet
# (file_id, path, gateway, status, reason, rows_in, loaded, rejected, days, ingested_at)
FILES = (
    (1, "gw-opcua/a.csv", "gw-opcua", "loaded", None, 100, 97, 3, [DAY], END + dt.timedelta(minutes=10)),
    (2, "gw-historian/b.parquet", "gw-historian", "loaded", None, 50, 50, 0, [PREV, DAY], END + dt.timedelta(minutes=10)),
    (3, "gw-historian/late.parquet", "gw-historian", "loaded", None, 10, 9, 1, [DAY], END + dt.timedelta(hours=5)),
    (4, "gw-mqtt/old.jsonl", "gw-mqtt", "loaded", None, 20, 19, 1, [DAY - dt.timedelta(days=3)], START + dt.timedelta(hours=10)),
    (5, "gw-opcua/huge.csv", "gw-opcua", "quarantined", "file_too_large", 0, 0, 0, [], START + dt.timedelta(hours=11)),
    (6, "gw-opcua/prev.csv", "gw-opcua", "loaded", None, 40, 38, 2, [PREV], START),
)  # fmt: skip
REJECTS = (  # (file_id, reason): files 1 and 3 hold the day; 4 and 6 do not
    (1, "non_numeric_value"), (1, "non_numeric_value"), (1, "out_of_range"),
    (3, "missing_timezone"), (4, "unknown_sensor"), (6, "out_of_range"), (6, "out_of_range"),
)  # fmt: skip
FIRST_BUILD = END + dt.timedelta(minutes=40)


def _telemetry() -> list[tuple]:
    rows = telemetry_rows(DAY)
    return [r for r in rows if not (r[1] == "OVEN-01" and r[4].hour >= OVEN_QUIET_FROM)]


def _prediction(day, machine_id, machine_type, rul, lo, hi, note=None) -> dict:
    return {
        "machine_id": machine_id, "machine_type": machine_type,
        "ts": day_start(day + dt.timedelta(days=1)), "rul_fused_h": rul, "rul_fused_lo_h": lo,
        "rul_fused_hi_h": hi, "basis": "fused" if rul is not None else "none", "note": note,
    }  # fmt: skip


def build_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """The hand-made day in a writable warehouse (schema already ensured by ``write()``)."""
    con.executemany(
        "INSERT INTO machines (machine_key, machine_id, machine_type, line, gateway, installed, "
        "active) VALUES (?, ?, ?, 'L1', ?, DATE '2025-01-01', TRUE)",
        [list(m) for m in MACHINES],
    )
    insert_telemetry(con, _telemetry())
    con.executemany(
        "INSERT INTO file_ledger (file_id, path, gateway, status, reason, rows_in, rows_loaded, "
        "rows_rejected, days, ingested_at, sha256, size_bytes, mtime_ns, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ff', 1, 0, 1)",
        [list(f) for f in FILES],
    )
    con.executemany(
        "INSERT INTO telemetry_rejects (file_id, source_file, reason, rejected_at) "
        "VALUES (?, 'x', ?, ?)",
        [[f, r, START] for f, r in REJECTS],
    )
    predictions = {
        DAY: [
            _prediction(DAY, "SMT-01", "smt_placer", 40.0, 10.0, 120.0),
            _prediction(DAY, "CNC-01", "cnc_spindle", 500.0, 200.0, 900.0),
            _prediction(DAY, "OVEN-01", "reflow_oven", None, None, None, "no fitted damage law"),
        ],
        PREV: [
            _prediction(PREV, "SMT-01", "smt_placer", 60.0, 20.0, 150.0),
            _prediction(PREV, "CNC-01", "cnc_spindle", 520.0, 210.0, 950.0),
        ],
    }
    for day, rows in predictions.items():
        tables.replace_day(con, "rul_predictions", day, pl.DataFrame(rows))
    alerts = {
        DAY: [("SMT-01", "smt_placer", 0.8, "critical", "vacuum falls toward its limit")],
        PREV: [("CNC-01", "cnc_spindle", 0.65, "warning", "vibration rising")],
    }
    for day, rows in alerts.items():
        frame = pl.DataFrame(
            [
                {"machine_id": m, "machine_type": t, "ts": day_start(day) + dt.timedelta(hours=23),
                 "probability": p, "severity": s, "reason": r}
                for m, t, p, s, r in rows
            ]
        )  # fmt: skip
        tables.replace_day(con, "maintenance_alerts", day, frame)
    ensure_maturity_table(con)
    con.executemany(
        "INSERT INTO twin_maturity VALUES (?, ?, ?, ?, '{}', 'x')",
        [[PREV, "SMT-01", 2, "digital shadow"], [DAY, "SMT-01", 3, "digital twin"]],
    )
    con.executemany(
        "INSERT INTO maintenance_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'cmms/x.csv', ?)",
        [
            ["WO-1", "CNC-01", START + dt.timedelta(hours=8), START + dt.timedelta(hours=12),
             "corrective", "replace", "spindle_bearing", "failure: vibration 4.9 mm/s", 2],
            ["WO-2", "SMT-01", START - dt.timedelta(hours=3), None, "preventive", "clean",
             "nozzle", None, 3],
        ],
    )  # fmt: skip
    cols = ", ".join(f'"{c}" {t}' for c, t in WAREHOUSE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS decisions ({cols})")
    con.execute(
        "INSERT INTO decisions (day, machine_id, ts, action, derate_pct, reason, rul_fused_h, "
        "rul_fused_lo_h, rul_fused_hi_h, mode, status) VALUES (?, 'SMT-01', ?, 'derate', 20, "
        "'P(failure before Sunday) = 0.6: derate', 40, 10, 120, 'autonomous', 'applied')",
        [DAY, END],
    )
    ensure_audit_table(con)
    con.executemany(
        "INSERT INTO audit_snapshots (id, partition, version, root, record_count, snapshot_dir, "
        "manifest_sha256, cid, tx_hash, block_number, gas_used, status, built_at, anchored_at) "
        "VALUES (?, ?, 1, ?, 1234, 'x', 'y', ?, ?, ?, 59000, 'anchored', ?, ?)",
        [
            [1, DAY, ROOT, SNAPSHOT_CID, TX, 42, FIRST_BUILD, FIRST_BUILD + dt.timedelta(minutes=1)],
            # three days earlier, closed before gw-mqtt/old.jsonl arrived (a late file)
            [2, DAY - dt.timedelta(days=3), "0x" + "01" * 32, "bafyold", "0x" + "02" * 32, 7,
             START - dt.timedelta(days=2), START - dt.timedelta(days=2)],
        ],
    )  # fmt: skip
    ensure_track_record(con)
    con.execute(
        "INSERT INTO track_record_summary (day, model_version, machine_type, lead_band, lives, "
        "predictions, coverage_90, rmse_h, failures, warned, mean_lead_h, false_alarm_share) "
        "VALUES (?, 'v1abc', 'smt_placer', 'all', 2, 30, 0.9, 12.5, 2, 2, 100, 0.1), "
        "(?, 'v1abc', 'smt_placer', '0-24', 2, 5, 1.0, 3.0, 2, 2, 100, 0.1), "
        # a type whose closed life neither failed nor alerted: its alert counts are null
        "(?, 'v1abc', 'cnc_spindle', 'all', 1, 4, 1.0, 20.0, NULL, NULL, NULL, NULL)",
        [PREV, PREV, PREV],
    )


class Maintainers:
    def has_role(self, role: str, account: str) -> bool:
        return role == "MAINTAINER" and account == MAINTAINER


def reject_late_rows(con: duckdb.DuckDBPyConnection) -> None:
    """A late file's rejected rows: the day's figures change."""
    con.execute(
        "INSERT INTO telemetry_rejects (file_id, source_file, reason, rejected_at) "
        "VALUES (3, 'x', 'missing_timezone', ?)",
        [START],
    )


def build_twin_store(path: Path) -> None:
    """Alarms: CNC-01 opened at the previous day's sync (stamped at this day's midnight, so on
    the previous day), acknowledged at 06:00 and cleared at the day's sync; SMT-01 opened at it.
    A command issued and applied that day."""
    con = twin_connect(path)
    try:
        sync_alarms(con, [Condition("CNC-01", "rul_risk", "warning", START)], [], START,
                    kinds=["rul_risk"])  # fmt: skip
        cnc = con.execute("SELECT alarm_id FROM alarms WHERE machine_id = 'CNC-01'").fetchone()[0]
        acknowledge(con, cnc, MAINTAINER, "spare ordered", Maintainers(),
                    START + dt.timedelta(hours=6))  # fmt: skip
        sync_alarms(con, [Condition("SMT-01", "rul_risk", "critical", END)], [], END,
                    kinds=["rul_risk"])  # fmt: skip
        open_commands(con)
        command = "0x" + "12" * 32
        con.execute(
            "INSERT INTO commands (command_id, machine_id, gateway, action, value, changes, "
            "critical, issued_at, expires_at, typed_data, digest, state, issuer, updated_at) "
            "VALUES (?, 'SMT-01', 'gw-opcua', 'derate', 2000, '{}', 0, ?, ?, '{}', '0x', "
            "'applied', ?, ?)",
            (command, int(START.timestamp()) + 3600, int(START.timestamp()) + 4500, MAINTAINER,
             (START + dt.timedelta(hours=1)).isoformat()),
        )  # fmt: skip
        for n, event in enumerate(("issued", "pending", "applied")):
            con.execute(
                "INSERT INTO command_events (command_id, machine_id, at, event, state) "
                "VALUES (?, 'SMT-01', ?, ?, ?)",
                (command, (START + dt.timedelta(hours=1, minutes=n)).isoformat(), event, event),
            )
    finally:
        con.close()


def telemetry_of_the_day() -> list[tuple]:
    """The day's telemetry rows as inserted (for counts by hand)."""
    return _telemetry()


def twin_read_only(path: Path) -> sqlite3.Connection:
    return twin_connect(path, read_only=True)
