"""Decisions of the twin in the twin store, their lifecycle and the advisory approval.

One row per machine and prediction time (``ts``): the action chosen, its expected costs and
reason, the prediction it rested on, its ``mode`` and ``status``::

    advisory:   advised ──MAINTAINER approves──▶ approved ──signed──▶ commanded ──ack──▶ applied
    autonomous: autonomous ──(sent at once)──▶ commanded ──ack──▶ applied
    either:     … ▶ rejected | expired (as the command ends);  advised ──newer decision──▶ superseded
    no command: no_action (nothing to do, or already in effect), scheduled (a job at a later stop)

Once a decision is linked to a command (``command_id``) its status follows the command's state
(issued → approved; awaiting_approval, pending, delivered → commanded; applied, rejected, expired).
Approving issues the command's draft through the signed flow
(:func:`~dt_platform.twin.command_flow.issue_draft`); the MAINTAINER's signature of that draft
(:func:`~dt_platform.twin.command_flow.submit_signature`) is the approval's proof.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dt_platform.ingest.registry import Machine
from dt_platform.twin import typed_data as td
from dt_platform.twin.command_flow import issue_draft
from dt_platform.twin.command_store import command_row, open_commands
from dt_platform.twin.commands import CommandRefused, Draft
from dt_platform.twin.db import ensure, transaction
from dt_platform.twin.state import reported

__all__ = [
    "DecisionRecord",
    "approve_decision",
    "command_for",
    "decision_id_for",
    "get_decision",
    "list_decisions",
    "open_decisions",
]

MAX_ADVICE_AGE_H = 26.0
"""An advisory decision older than this is not approved any more (a newer one stands)."""
COMMAND_TTL_S = 4 * 3600
FOLLOWS = {
    "issued": "approved",
    "awaiting_approval": "commanded",
    "pending": "commanded",
    "delivered": "commanded",
    "applied": "applied",
    "rejected": "rejected",
    "expired": "expired",
}

DDL = """
CREATE TABLE IF NOT EXISTS decisions (
    decision_id   TEXT PRIMARY KEY,         -- sha256(machine_id|ts)[:16]
    machine_id    TEXT NOT NULL,
    machine_type  TEXT NOT NULL,
    day           TEXT NOT NULL,            -- UTC date of ts
    ts            TEXT NOT NULL,            -- ISO UTC: the prediction time decided on
    action        TEXT NOT NULL,
    derate_pct    REAL NOT NULL,
    at            TEXT,                     -- when the action happens (ISO UTC)
    expected_cost TEXT NOT NULL,            -- JSON: per action
    reason        TEXT NOT NULL,
    rul_fused_h   REAL, rul_fused_lo_h REAL, rul_fused_hi_h REAL,
    model_version TEXT,
    prediction_ts TEXT NOT NULL,
    mode          TEXT NOT NULL,            -- advisory | autonomous
    status        TEXT NOT NULL,
    command_id    TEXT,
    limits_id     TEXT,
    detail        TEXT NOT NULL DEFAULT '{}',
    decided_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS decisions_by_machine ON decisions (machine_id, ts);
CREATE INDEX IF NOT EXISTS decisions_by_day ON decisions (day);
CREATE TABLE IF NOT EXISTS decision_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    status      TEXT NOT NULL,
    actor       TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
"""


@dataclass(frozen=True)
class DecisionRecord:
    decision_id: str
    machine_id: str
    machine_type: str
    day: str
    ts: str
    action: str
    derate_pct: float
    at: str | None
    expected_cost: dict[str, float]
    reason: str
    rul_fused_h: float | None
    rul_fused_lo_h: float | None
    rul_fused_hi_h: float | None
    model_version: str | None
    prediction_ts: str
    mode: str
    status: str
    """Effective: follows the linked command's state."""
    command_id: str | None
    limits_id: str | None
    detail: dict[str, Any]
    decided_at: str
    updated_at: str


def open_decisions(con: sqlite3.Connection) -> sqlite3.Connection:
    open_commands(con)
    ensure(con, DDL)
    return con


def decision_id_for(machine_id: str, ts: dt.datetime) -> str:
    key = f"{machine_id}|{ts.astimezone(dt.UTC).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _status(con: sqlite3.Connection, row: sqlite3.Row) -> str:
    if row["command_id"]:
        cmd = command_row(con, row["command_id"])
        if cmd is not None:
            return FOLLOWS.get(cmd["state"], row["status"])
    return row["status"]


def _record(con: sqlite3.Connection, row: sqlite3.Row) -> DecisionRecord:
    return DecisionRecord(
        row["decision_id"], row["machine_id"], row["machine_type"], row["day"], row["ts"],
        row["action"], float(row["derate_pct"]), row["at"], json.loads(row["expected_cost"]),
        row["reason"], row["rul_fused_h"], row["rul_fused_lo_h"], row["rul_fused_hi_h"],
        row["model_version"], row["prediction_ts"], row["mode"], _status(con, row),
        row["command_id"], row["limits_id"], json.loads(row["detail"]), row["decided_at"],
        row["updated_at"],
    )  # fmt: skip


def get_decision(con: sqlite3.Connection, decision_id: str) -> DecisionRecord:
    open_decisions(con)
    row = con.execute(
        "SELECT * FROM decisions WHERE decision_id = ?", (str(decision_id).strip().lower(),)
    ).fetchone()
    if row is None:
        raise CommandRefused("not_issued", f"no decision {decision_id}")
    return _record(con, row)


def list_decisions(
    con: sqlite3.Connection,
    *,
    day: dt.date | None = None,
    machine_id: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[DecisionRecord]:
    """Decisions, newest first (filtered by day, machine, effective status)."""
    open_decisions(con)
    where, args = [], []
    if day is not None:
        where.append("day = ?")
        args.append(day.isoformat())
    if machine_id:
        where.append("machine_id = ?")
        args.append(machine_id)
    sql = "SELECT * FROM decisions" + (" WHERE " + " AND ".join(where) if where else "")
    rows = con.execute(f"{sql} ORDER BY ts DESC, machine_id", args)
    out = []
    for row in rows:
        rec = _record(con, row)
        if status is None or rec.status == status:
            out.append(rec)
            if len(out) >= max(1, min(int(limit), 5000)):
                break
    return out


def add_event(
    con: sqlite3.Connection, decision_id: str, at: str, event: str, status: str,
    actor: str | None = None, detail: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    con.execute(
        "INSERT INTO decision_events (decision_id, at, event, status, actor, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (decision_id, at, event, status, actor, json.dumps(detail or {}, sort_keys=True)),
    )


def decision_history(con: sqlite3.Connection, decision_id: str) -> list[dict[str, Any]]:
    open_decisions(con)
    rows = con.execute(
        "SELECT * FROM decision_events WHERE decision_id = ? ORDER BY seq", (decision_id,)
    )
    return [dict(r) | {"detail": json.loads(r["detail"])} for r in rows]


def command_for(
    action: str, derate_pct: float, at: str | None, *, current_derate_pct: float,
    mode: str | None, now: dt.datetime,
) -> tuple[str, float | None] | None:  # fmt: skip
    """The command that carries a decision out now, or ``None`` (nothing to send now)."""
    if action == "inspect":
        return ("inspect", None)
    if action == "derate":
        return None if abs(derate_pct - current_derate_pct) < 1e-6 else ("derate", derate_pct)
    if action == "nothing":
        return ("derate", 0.0) if current_derate_pct > 0 else None
    if action in ("maintain_now", "maintain_at_next_stop"):
        if mode == "maintenance":
            return None
        due = at is None or dt.datetime.fromisoformat(at) <= now + dt.timedelta(minutes=5)
        return ("maintenance_on", None) if due else None
    return None


def approve_decision(
    con: sqlite3.Connection,
    decision_id: str,
    registry: Sequence[Machine],
    *,
    domain: td.Domain,
    now: dt.datetime,
    actor: str | None = None,
) -> Draft:
    """A MAINTAINER approves an advisory decision: the command that carries it out is issued
    (a draft to sign with the wallet) and linked to the decision."""
    rec = get_decision(con, decision_id)
    if rec.status != "advised":
        raise CommandRefused("invalid_transition", f"decision {rec.decision_id} is {rec.status}")
    age_h = (now - dt.datetime.fromisoformat(rec.ts)).total_seconds() / 3600.0
    if age_h > MAX_ADVICE_AGE_H:
        raise CommandRefused(
            "expired", f"decision {rec.decision_id} is {age_h:.0f} h old: a newer one stands"
        )
    rep = reported(con, rec.machine_id)
    current = float((rep.settings if rep else {}).get("derate_pct", 0.0) or 0.0)
    cmd = command_for(
        rec.action, rec.derate_pct, rec.at, current_derate_pct=current,
        mode=rep.mode if rep else None, now=now,
    )  # fmt: skip
    if cmd is None:
        raise CommandRefused(
            "bad_action", f"decision {rec.decision_id} ({rec.action}) needs no command now"
        )
    draft = issue_draft(
        con, registry, rec.machine_id, cmd[0], domain=domain, now=now, percent=cmd[1],
        ttl_s=COMMAND_TTL_S,
    )  # fmt: skip
    at = now.astimezone(dt.UTC).isoformat()
    with transaction(con):
        con.execute(
            "UPDATE decisions SET status = 'approved', command_id = ?, updated_at = ? "
            "WHERE decision_id = ?",
            (draft.command_id, at, rec.decision_id),
        )
        add_event(
            con, rec.decision_id, at, "approved", "approved", actor,
            {"command_id": draft.command_id, "command": cmd[0], "percent": cmd[1]},
        )  # fmt: skip
    return draft
