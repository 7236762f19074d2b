"""Reported and desired state of each machine, and the delta between them.

*Reported* is what the machine last said (through the MQTT bridge): its readings, mode, applied
settings, when it was last seen and whether it is online. *Desired* is what the platform last
commanded (a verified command sets it; the live line receives it retained on ``DCMD``). The
*delta* is every desired setting the machine has not reported as applied yet.

The settings a machine can be told, and their neutral values:

- ``derate_pct``: percent of rated speed taken off (0 = full speed, at most 90);
- ``maintenance``: maintenance mode (production stopped, component renewed on leaving it);
- ``inspection``: id of the inspection request last asked for (empty: none).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dt_platform.twin.db import ensure, transaction

SETTINGS: dict[str, Any] = {"derate_pct": 0.0, "maintenance": False, "inspection": ""}
"""Every desired setting and its neutral value (what a machine runs with before any command)."""

DDL = """
CREATE TABLE IF NOT EXISTS reported_state (
    machine_id   TEXT PRIMARY KEY,
    gateway      TEXT NOT NULL,
    online       INTEGER NOT NULL DEFAULT 0,
    last_seen    TEXT,            -- ISO 8601 UTC of the last message from the machine
    reading_ts   TEXT,            -- ISO 8601 UTC of the last reading (machine clock)
    mode         TEXT,
    settings     TEXT NOT NULL DEFAULT '{}',  -- JSON: applied settings (SETTINGS keys)
    applied_version INTEGER NOT NULL DEFAULT 0,
    readings     TEXT NOT NULL DEFAULT '{}',  -- JSON: tag -> [value, unit]
    updated_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS desired_state (
    machine_id   TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    settings     TEXT NOT NULL,   -- JSON: SETTINGS keys
    command_id   TEXT,            -- the command that set this version
    updated_at   TEXT NOT NULL
);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def open_state(con: sqlite3.Connection) -> sqlite3.Connection:
    ensure(con, DDL)
    return con


@dataclass(frozen=True)
class Reported:
    machine_id: str
    gateway: str
    online: bool
    last_seen: str | None
    reading_ts: str | None
    mode: str | None
    settings: dict[str, Any]
    applied_version: int
    readings: dict[str, list]


@dataclass(frozen=True)
class Desired:
    machine_id: str
    version: int
    settings: dict[str, Any]
    command_id: str | None
    updated_at: str


@dataclass(frozen=True)
class TwinState:
    machine_id: str
    reported: Reported | None
    desired: Desired | None
    delta: dict[str, Any] = field(default_factory=dict)
    """Desired settings the machine has not reported as applied: name -> desired value."""


def delta(desired: Desired | None, reported: Reported | None) -> dict[str, Any]:
    """The settings of ``desired`` that ``reported`` does not show (neutral when unreported)."""
    if desired is None:
        return {}
    applied = {**SETTINGS, **(reported.settings if reported else {})}
    return {k: v for k, v in desired.settings.items() if k in SETTINGS and not _same(applied[k], v)}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    return a == b


def _reported(row: sqlite3.Row | None) -> Reported | None:
    if row is None:
        return None
    return Reported(
        row["machine_id"],
        row["gateway"],
        bool(row["online"]),
        row["last_seen"],
        row["reading_ts"],
        row["mode"],
        json.loads(row["settings"]),
        int(row["applied_version"]),
        json.loads(row["readings"]),
    )


def _desired(row: sqlite3.Row | None) -> Desired | None:
    if row is None:
        return None
    return Desired(
        row["machine_id"],
        int(row["version"]),
        json.loads(row["settings"]),
        row["command_id"],
        row["updated_at"],
    )


def reported(con: sqlite3.Connection, machine_id: str) -> Reported | None:
    return _reported(
        con.execute("SELECT * FROM reported_state WHERE machine_id = ?", (machine_id,)).fetchone()
    )


def desired(con: sqlite3.Connection, machine_id: str) -> Desired | None:
    return _desired(
        con.execute("SELECT * FROM desired_state WHERE machine_id = ?", (machine_id,)).fetchone()
    )


def twin_state(con: sqlite3.Connection, machine_id: str) -> TwinState:
    r, d = reported(con, machine_id), desired(con, machine_id)
    return TwinState(machine_id, r, d, delta(d, r))


def all_states(con: sqlite3.Connection) -> list[TwinState]:
    reps = {r["machine_id"]: _reported(r) for r in con.execute("SELECT * FROM reported_state")}
    dess = {d["machine_id"]: _desired(d) for d in con.execute("SELECT * FROM desired_state")}
    return [
        TwinState(m, reps.get(m), dess.get(m), delta(dess.get(m), reps.get(m)))
        for m in sorted(set(reps) | set(dess))
    ]


def record_reported(
    con: sqlite3.Connection,
    machine_id: str,
    gateway: str,
    *,
    seen_at: str | None = None,
    online: bool | None = None,
    reading_ts: str | None = None,
    mode: str | None = None,
    settings: dict[str, Any] | None = None,
    applied_version: int | None = None,
    readings: dict[str, list] | None = None,
) -> None:
    """Merge what a machine just said into its reported state (``None`` = not said)."""
    seen_at = seen_at or now_iso()
    with transaction(con):
        old = reported(con, machine_id)
        merged_readings = {**(old.readings if old else {}), **(readings or {})}
        merged_settings = {**(old.settings if old else {}), **(settings or {})}
        con.execute(
            """INSERT INTO reported_state (machine_id, gateway, online, last_seen, reading_ts,
                   mode, settings, applied_version, readings, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (machine_id) DO UPDATE SET gateway = excluded.gateway,
                   online = excluded.online, last_seen = excluded.last_seen,
                   reading_ts = excluded.reading_ts, mode = excluded.mode,
                   settings = excluded.settings, applied_version = excluded.applied_version,
                   readings = excluded.readings, updated_at = excluded.updated_at""",
            (
                machine_id,
                gateway,
                int(online if online is not None else (old.online if old else True)),
                seen_at,
                reading_ts if reading_ts is not None else (old.reading_ts if old else None),
                mode if mode is not None else (old.mode if old else None),
                json.dumps(merged_settings, sort_keys=True),
                applied_version
                if applied_version is not None
                else (old.applied_version if old else 0),
                json.dumps(merged_readings, sort_keys=True),
                now_iso(),
            ),
        )


def set_desired(
    con: sqlite3.Connection,
    machine_id: str,
    changes: dict[str, Any],
    command_id: str | None,
    at: str | None = None,
) -> Desired:
    """Apply ``changes`` to the machine's desired settings as a new version (inside the caller's
    transaction if there is one), stamped ``at`` (ISO 8601 UTC; default now): drift is measured
    from that moment."""
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown desired setting(s): {', '.join(sorted(unknown))}")
    old = desired(con, machine_id)
    settings = {**SETTINGS, **(old.settings if old else {}), **changes}
    version = (old.version if old else 0) + 1
    stamp = at or now_iso()
    con.execute(
        """INSERT INTO desired_state (machine_id, version, settings, command_id, updated_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (machine_id) DO UPDATE SET version = excluded.version,
               settings = excluded.settings, command_id = excluded.command_id,
               updated_at = excluded.updated_at""",
        (machine_id, version, json.dumps(settings, sort_keys=True), command_id, stamp),
    )
    return Desired(machine_id, version, settings, command_id, stamp)
