"""Recording one alarm event: the ``alarm_events`` row and, in the same transaction, its
webhook notifications (one outbox row per URL)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dt_platform.twin import webhooks
from dt_platform.twin.alarm_store import event_from_row, get_alarm, iso


def record_event(
    con: sqlite3.Connection,
    alarm_id: int,
    type_: str,
    at: datetime,
    urls: Sequence[str],
    *,
    actor: str | None = None,
    note: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Insert one event of ``alarm_id`` (after its row was updated, so the notification shows
    the alarm as it now is) and queue its notifications for ``urls``, inside the caller's
    transaction; returns how many were queued. ``event_key`` is random and never changes."""
    alarm = get_alarm(con, alarm_id)
    if alarm is None:
        raise LookupError(f"no alarm {alarm_id}")
    cur = con.execute(
        "INSERT INTO alarm_events (event_key, alarm_id, type, at, severity, actor, note, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            uuid.uuid4().hex,
            alarm_id,
            type_,
            iso(at),
            alarm.severity,
            actor,
            note,
            json.dumps(dict(detail or {}), sort_keys=True, default=str),
        ),
    )
    row = con.execute("SELECT * FROM alarm_events WHERE event_id = ?", (cur.lastrowid,)).fetchone()
    return webhooks.enqueue(con, event_from_row(row), alarm, urls, now=at)
