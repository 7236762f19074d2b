"""The alarm tables of the twin store and the queries the dashboard and the CLI read them with.

``alarms`` holds one row per alarm: one *condition* (``machine_id`` + ``kind``) from the moment
it opened until it was cleared or resolved; a unique partial index allows at most one *active*
(``open`` or ``acknowledged``) alarm per condition, so a condition reported day after day stays
one alarm. ``alarm_events`` keeps every change of every alarm (opened, escalated, acknowledged,
cleared, resolved), each with a random ``event_key`` that stays the same wherever the event is
sent (the webhooks' idempotency key). ``alarm_syncs`` remembers, per kind, the time of the last
sync, so an older evaluation (a re-run of a past day) cannot move alarms backwards.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dt_platform.twin.db import ensure

STATES = ("open", "acknowledged", "cleared", "resolved")
ACTIVE = ("open", "acknowledged")
SEVERITIES = ("warning", "critical")
"""In rising order: an active alarm's severity only ever rises (escalation)."""
EVENT_TYPES = ("opened", "escalated", "acknowledged", "cleared", "resolved")

DDL = """
CREATE TABLE IF NOT EXISTS alarms (
    alarm_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    state           TEXT NOT NULL
                    CHECK (state IN ('open', 'acknowledged', 'cleared', 'resolved')),
    since           TEXT NOT NULL,   -- ISO 8601 UTC: when the condition became true
    opened_at       TEXT NOT NULL,   -- the sync that opened the alarm
    last_seen_at    TEXT NOT NULL,   -- the last sync that still saw the condition
    detail          TEXT NOT NULL DEFAULT '{}',  -- JSON: the condition's latest detail
    acked_by        TEXT,
    acked_at        TEXT,
    ack_note        TEXT,
    closed_at       TEXT,            -- cleared or resolved
    closed_by       TEXT,            -- the work order that resolved it
    previous_alarm_id INTEGER REFERENCES alarms (alarm_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_active
    ON alarms (machine_id, kind) WHERE state IN ('open', 'acknowledged');
CREATE INDEX IF NOT EXISTS alarms_by_state ON alarms (state, machine_id);
CREATE TABLE IF NOT EXISTS alarm_events (
    event_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key   TEXT NOT NULL UNIQUE,  -- stable id of the event (webhook idempotency key)
    alarm_id    INTEGER NOT NULL REFERENCES alarms (alarm_id),
    type        TEXT NOT NULL
                CHECK (type IN ('opened', 'escalated', 'acknowledged', 'cleared', 'resolved')),
    at          TEXT NOT NULL,
    severity    TEXT NOT NULL,
    actor       TEXT,              -- the acknowledging account, or the resolving work order
    note        TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alarm_events_by_alarm ON alarm_events (alarm_id, event_id);
CREATE TABLE IF NOT EXISTS alarm_syncs (
    kind   TEXT PRIMARY KEY,
    as_of  TEXT NOT NULL
);
"""

MAX_LIST = 10_000
"""The most alarms one query returns (newest first)."""


class AlarmError(ValueError):
    """An alarm operation that cannot be done, and why."""


def open_alarm_store(con: sqlite3.Connection) -> sqlite3.Connection:
    """Create the alarm tables if needed (any process may come first)."""
    ensure(con, DDL)
    return con


def iso(moment: datetime) -> str:
    """A timezone-aware moment as fixed-width ISO 8601 UTC text (sorts as it compares)."""
    if moment.tzinfo is None:
        raise ValueError(f"a time without a timezone is ambiguous: {moment!r}; pass UTC")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class Alarm:
    alarm_id: int
    machine_id: str
    kind: str
    severity: str
    state: str
    since: datetime
    opened_at: datetime
    last_seen_at: datetime
    detail: dict[str, Any]
    acked_by: str | None
    acked_at: datetime | None
    ack_note: str | None
    closed_at: datetime | None
    closed_by: str | None
    previous_alarm_id: int | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO text), e.g. for a webhook body."""
        out = dict(self.__dict__)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = iso(value)
        return out


@dataclass(frozen=True)
class AlarmEvent:
    event_id: int
    event_key: str
    alarm_id: int
    type: str
    at: datetime
    severity: str
    actor: str | None
    note: str | None
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": iso(self.at)}


def _opt_time(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def alarm_from_row(row: sqlite3.Row) -> Alarm:
    return Alarm(
        alarm_id=int(row["alarm_id"]),
        machine_id=row["machine_id"],
        kind=row["kind"],
        severity=row["severity"],
        state=row["state"],
        since=parse_iso(row["since"]),
        opened_at=parse_iso(row["opened_at"]),
        last_seen_at=parse_iso(row["last_seen_at"]),
        detail=json.loads(row["detail"]),
        acked_by=row["acked_by"],
        acked_at=_opt_time(row["acked_at"]),
        ack_note=row["ack_note"],
        closed_at=_opt_time(row["closed_at"]),
        closed_by=row["closed_by"],
        previous_alarm_id=row["previous_alarm_id"],
    )


def event_from_row(row: sqlite3.Row) -> AlarmEvent:
    return AlarmEvent(
        event_id=int(row["event_id"]),
        event_key=row["event_key"],
        alarm_id=int(row["alarm_id"]),
        type=row["type"],
        at=parse_iso(row["at"]),
        severity=row["severity"],
        actor=row["actor"],
        note=row["note"],
        detail=json.loads(row["detail"]),
    )


_SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 0 ELSE 1 END"


def get_alarm(con: sqlite3.Connection, alarm_id: int) -> Alarm | None:
    row = con.execute("SELECT * FROM alarms WHERE alarm_id = ?", (alarm_id,)).fetchone()
    return alarm_from_row(row) if row else None


def open_alarms(con: sqlite3.Connection) -> list[Alarm]:
    """The active alarms (open or acknowledged): critical first, then the oldest first."""
    open_alarm_store(con)
    rows = con.execute(
        f"SELECT * FROM alarms WHERE state IN ('open', 'acknowledged') "
        f"ORDER BY {_SEVERITY_ORDER}, opened_at, alarm_id LIMIT {MAX_LIST}"
    )
    return [alarm_from_row(r) for r in rows]


def alarms(
    con: sqlite3.Connection, state: str | None = None, machine_id: str | None = None
) -> list[Alarm]:
    """Alarms of any state (or of ``state``, of ``machine_id``), newest first."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown alarm state {state!r}: expected one of {', '.join(STATES)}")
    open_alarm_store(con)
    where, params = [], []
    if state is not None:
        where.append("state = ?")
        params.append(state)
    if machine_id is not None:
        where.append("machine_id = ?")
        params.append(machine_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = con.execute(
        f"SELECT * FROM alarms {clause} ORDER BY alarm_id DESC LIMIT {MAX_LIST}", params
    )
    return [alarm_from_row(r) for r in rows]


def alarm_history(con: sqlite3.Connection, alarm_id: int) -> list[AlarmEvent]:
    """Every event of one alarm, in the order they happened."""
    open_alarm_store(con)
    rows = con.execute(
        "SELECT * FROM alarm_events WHERE alarm_id = ? ORDER BY event_id", (alarm_id,)
    )
    return [event_from_row(r) for r in rows]


def open_counts(con: sqlite3.Connection) -> dict[str, int]:
    """Active alarms by severity (every severity present, zero included)."""
    open_alarm_store(con)
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, n in con.execute(
        "SELECT severity, count(*) FROM alarms WHERE state IN ('open', 'acknowledged') "
        "GROUP BY severity"
    ):
        counts[severity] = int(n)
    return counts
