"""The command tables of the twin store: ``commands`` (one row per command, its current state),
``command_events`` (every transition, signature, refusal and acknowledgement, append-only) and
``command_signatures`` (every accepted signature, so none is accepted twice)."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

from dt_platform.twin.commands import CommandEvent, CommandRefused, CommandStatus
from dt_platform.twin.db import ensure
from dt_platform.twin.state import open_state

DDL = """
CREATE TABLE IF NOT EXISTS commands (
    command_id   TEXT PRIMARY KEY,          -- 0x + 64 hex: the signed nonce
    machine_id   TEXT NOT NULL,
    gateway      TEXT NOT NULL,
    action       TEXT NOT NULL,
    value        INTEGER NOT NULL,          -- basis points for derate, else 0
    changes      TEXT NOT NULL,             -- JSON: desired-setting changes
    critical     INTEGER NOT NULL,
    issued_at    INTEGER NOT NULL,          -- unix seconds
    expires_at   INTEGER NOT NULL,          -- unix seconds
    typed_data   TEXT NOT NULL,             -- JSON: the EIP-712 typed data issued
    digest       TEXT NOT NULL,             -- 0x hex: the EIP-712 hash to sign
    state        TEXT NOT NULL,
    issuer       TEXT,
    approver     TEXT,
    version      INTEGER,                   -- desired version set (pending on)
    prev_settings TEXT,                     -- JSON: desired settings before it
    published_version INTEGER,
    reason       TEXT,
    updated_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_by_machine ON commands (machine_id, issued_at);
CREATE INDEX IF NOT EXISTS commands_open ON commands (state, expires_at);
CREATE TABLE IF NOT EXISTS command_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id   TEXT NOT NULL REFERENCES commands (command_id),
    machine_id   TEXT NOT NULL,
    at           TEXT NOT NULL,             -- ISO 8601 UTC
    event        TEXT NOT NULL,             -- issued, signed, approved, pending, published, ...
    state        TEXT NOT NULL,             -- the command's state after the event
    actor        TEXT,                      -- signer address, or the machine id for acks
    role         TEXT,
    signature    TEXT,
    reason       TEXT,
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS command_events_by_command ON command_events (command_id, seq);
CREATE INDEX IF NOT EXISTS command_events_by_time ON command_events (at);
CREATE TABLE IF NOT EXISTS command_signatures (
    signature    TEXT PRIMARY KEY,          -- 0x hex r || s || v (low s, v 27/28)
    command_id   TEXT NOT NULL REFERENCES commands (command_id),
    purpose      TEXT NOT NULL,             -- command or approval
    signer       TEXT NOT NULL,
    at           TEXT NOT NULL
);
"""

MAX_EVENTS_PER_COMMAND = 200
"""Refusals and acknowledgements past this many events of one command are not recorded (a
misbehaving client or machine cannot grow the store without bound)."""
MAX_LIST = 1000
_COMMAND_ID = re.compile(r"^0x[0-9a-f]{64}$")


def open_commands(con: sqlite3.Connection) -> sqlite3.Connection:
    """Create the twin-state and command tables if needed; returns ``con``."""
    open_state(con)
    ensure(con, DDL)
    return con


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def checked_command_id(command_id: str) -> str:
    text = command_id.strip().lower() if isinstance(command_id, str) else ""
    if not _COMMAND_ID.match(text):
        raise CommandRefused("not_issued", "a command id is 0x and 64 hex digits")
    return text


def status_from_row(row: sqlite3.Row) -> CommandStatus:
    return CommandStatus(
        command_id=row["command_id"],
        machine_id=row["machine_id"],
        gateway=row["gateway"],
        action=row["action"],
        value=int(row["value"]),
        changes=json.loads(row["changes"]),
        critical=bool(row["critical"]),
        state=row["state"],
        issued_at=int(row["issued_at"]),
        expires_at=int(row["expires_at"]),
        issuer=row["issuer"],
        approver=row["approver"],
        version=row["version"],
        published_version=row["published_version"],
        reason=row["reason"],
        updated_at=row["updated_at"],
    )


def command_row(con: sqlite3.Connection, command_id: str) -> sqlite3.Row | None:
    return con.execute(
        "SELECT * FROM commands WHERE command_id = ?", (checked_command_id(command_id),)
    ).fetchone()


def require_row(con: sqlite3.Connection, command_id: str) -> sqlite3.Row:
    row = command_row(con, command_id)
    if row is None:
        raise CommandRefused("not_issued", f"no command {command_id} was issued")
    return row


def update_command(con: sqlite3.Connection, command_id: str, at: str, **fields: Any) -> None:
    sets = ", ".join(f"{name} = ?" for name in fields)
    con.execute(
        f"UPDATE commands SET {sets}, updated_at = ? WHERE command_id = ?",
        (*fields.values(), at, command_id),
    )


def add_event(
    con: sqlite3.Connection,
    row: sqlite3.Row,
    at: str,
    event: str,
    state: str,
    *,
    actor: str | None = None,
    role: str | None = None,
    signature: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    capped: bool = False,
) -> None:
    """Append one event; ``capped`` events are dropped past :data:`MAX_EVENTS_PER_COMMAND`."""
    if capped:
        (count,) = con.execute(
            "SELECT count(*) FROM command_events WHERE command_id = ?", (row["command_id"],)
        ).fetchone()
        if count >= MAX_EVENTS_PER_COMMAND:
            return
    con.execute(
        """INSERT INTO command_events (command_id, machine_id, at, event, state, actor, role,
               signature, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            row["command_id"],
            row["machine_id"],
            at,
            event,
            state,
            actor,
            role,
            signature,
            reason,
            json.dumps(detail or {}, sort_keys=True, default=str),
        ),
    )


def signature_use(con: sqlite3.Connection, signature: str) -> sqlite3.Row | None:
    return con.execute(
        "SELECT * FROM command_signatures WHERE signature = ?", (signature,)
    ).fetchone()


def add_signature(
    con: sqlite3.Connection, signature: str, command_id: str, purpose: str, signer: str, at: str
) -> None:
    con.execute(
        "INSERT INTO command_signatures (signature, command_id, purpose, signer, at) "
        "VALUES (?, ?, ?, ?, ?)",
        (signature, command_id, purpose, signer, at),
    )


def list_commands(
    con: sqlite3.Connection, machine_id: str | None = None, *, limit: int = 200
) -> list[CommandStatus]:
    """Commands, newest first (of one machine if given)."""
    limit = max(1, min(int(limit), MAX_LIST))
    where, args = ("WHERE machine_id = ?", (machine_id,)) if machine_id else ("", ())
    rows = con.execute(
        f"SELECT * FROM commands {where} ORDER BY issued_at DESC, rowid DESC LIMIT ?",
        (*args, limit),
    )
    return [status_from_row(r) for r in rows]


def command_history(con: sqlite3.Connection, command_id: str) -> list[CommandEvent]:
    """Every event of a command, oldest first."""
    rows = con.execute(
        "SELECT * FROM command_events WHERE command_id = ? ORDER BY seq",
        (checked_command_id(command_id),),
    )
    return [
        CommandEvent(
            seq=r["seq"],
            command_id=r["command_id"],
            machine_id=r["machine_id"],
            at=r["at"],
            event=r["event"],
            state=r["state"],
            actor=r["actor"],
            role=r["role"],
            signature=r["signature"],
            reason=r["reason"],
            detail=json.loads(r["detail"]),
        )
        for r in rows
    ]


def get_status(con: sqlite3.Connection, command_id: str) -> CommandStatus:
    return status_from_row(require_row(con, command_id))
