"""Alarms with a lifecycle: one alarm per condition, from open to cleared or resolved.

A *condition* is something true about a machine now, named by ``kind``: ``rul_risk`` (the RUL
model's maintenance alert), ``drift`` (the machine has not applied what it was told), ``offline``
(the machine went silent). :func:`sync_alarms` is given every condition of some kinds that holds
*now*, and turns them into alarms:

- a condition without an active alarm **opens** one (severity ``warning`` or ``critical``, from
  the condition); the next day's same condition is the same alarm, not a new one;
- a condition whose severity rises **escalates** its alarm (an acknowledged alarm returns to
  ``open``: the new severity needs a new acknowledgement); a falling severity changes nothing,
  the alarm keeps the highest it reached;
- an active alarm whose condition is gone is **cleared**;
- an active ``rul_risk`` alarm is **resolved** by maintenance done on its machine after it
  opened: a ``repair`` or ``replace`` work order finished after ``opened_at`` and not after now;
- a condition that comes back after its alarm was cleared or resolved opens a **new** alarm
  (``previous_alarm_id`` links them).

:func:`acknowledge` records who (an account holding MAINTAINER, checked through a
:class:`RoleReader`, on chain in production) acknowledged an open alarm, when, and their note.
Every change is an :mod:`~dt_platform.twin.alarm_store` event; with webhook URLs configured each
event also queues one notification per URL (:mod:`dt_platform.twin.webhooks`) in the same
transaction, so no change is lost between the store and the outbox.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from dt_platform.twin import webhooks
from dt_platform.twin.alarm_store import (
    ACTIVE,
    SEVERITIES,
    Alarm,
    AlarmEvent,
    alarm_from_row,
    alarm_history,
    alarms,
    event_from_row,
    get_alarm,
    iso,
    open_alarm_store,
    open_alarms,
    open_counts,
    parse_iso,
)
from dt_platform.twin.db import transaction

__all__ = [
    "KINDS",
    "Alarm",
    "AlarmError",
    "AlarmEvent",
    "Condition",
    "NotAuthorized",
    "Repair",
    "RoleReader",
    "SyncResult",
    "acknowledge",
    "alarm_history",
    "alarms",
    "open_alarms",
    "open_counts",
    "sync_alarms",
]

KINDS = ("rul_risk", "drift", "offline")
"""The conditions the platform raises alarms for."""
RESOLVED_BY_REPAIR = frozenset({"rul_risk"})
"""Kinds that maintenance on the machine resolves (a repair does not fix a drifting command)."""
REPAIR_ACTIONS = frozenset({"repair", "replace"})
ACK_ROLE = "MAINTAINER"
MAX_NOTE_CHARS = 2_000
MAX_DETAIL_BYTES = 16_384
MAX_MACHINE_ID_CHARS = 64
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class AlarmError(ValueError):
    """An alarm operation that cannot be done, and why."""


class NotAuthorized(AlarmError):
    """The account does not hold the role the operation needs."""


class RoleReader(Protocol):
    """Who holds which role (``AuditChain.has_role`` reads it from the RoleHub contract)."""

    def has_role(self, role: str, account: str) -> bool: ...


@dataclass(frozen=True)
class Condition:
    """What is true about a machine now: ``kind`` since ``since``, with its ``detail``."""

    machine_id: str
    kind: str
    severity: str
    since: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Repair:
    """A work order of the maintenance log (only ``repair``/``replace`` resolve alarms)."""

    work_order: str
    machine_id: str
    action: str
    started_at: datetime
    finished_at: datetime | None


@dataclass
class SyncResult:
    """What one sync changed (alarm ids), or ``stale`` when it was older than the last one."""

    as_of: datetime
    kinds: tuple[str, ...]
    opened: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    notifications: int = 0
    stale: bool = False
    last_sync: datetime | None = None

    @property
    def changed(self) -> int:
        return len(self.opened) + len(self.escalated) + len(self.cleared) + len(self.resolved)


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def _check_condition(c: Condition, kinds: tuple[str, ...]) -> str:
    if c.kind not in kinds:
        raise AlarmError(f"condition of kind {c.kind!r} given to a sync of {list(kinds)}")
    if not isinstance(c.machine_id, str) or not 0 < len(c.machine_id) <= MAX_MACHINE_ID_CHARS:
        raise AlarmError(
            f"condition machine_id must be 1-{MAX_MACHINE_ID_CHARS} characters: {c.machine_id!r}"
        )
    if c.severity not in SEVERITIES:
        raise AlarmError(
            f"condition {c.machine_id}/{c.kind}: severity {c.severity!r} is not one of "
            f"{', '.join(SEVERITIES)}"
        )
    try:
        detail = json.dumps(dict(c.detail), sort_keys=True, default=str, allow_nan=False)
    except ValueError as exc:
        raise AlarmError(f"condition {c.machine_id}/{c.kind}: detail is not JSON ({exc})") from None
    if len(detail.encode()) > MAX_DETAIL_BYTES:
        raise AlarmError(
            f"condition {c.machine_id}/{c.kind}: detail is {len(detail.encode())} bytes of JSON, "
            f"more than {MAX_DETAIL_BYTES}"
        )
    iso(c.since)  # refuses a naive time
    return detail


def _merge(conditions: Iterable[Condition], kinds: tuple[str, ...]) -> dict[tuple, tuple]:
    """One condition per (machine, kind): the highest severity, the earliest ``since``; with
    its detail as JSON text."""
    merged: dict[tuple, tuple[Condition, str]] = {}
    for c in conditions:
        detail = _check_condition(c, kinds)
        key = (c.machine_id, c.kind)
        old = merged.get(key)
        if old is None:
            merged[key] = (c, detail)
            continue
        best, best_detail = (c, detail) if _rank(c.severity) > _rank(old[0].severity) else old
        merged[key] = (replace(best, since=min(c.since, old[0].since)), best_detail)
    return merged


def _record(
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
    """Insert one event and queue its notifications; returns how many were queued."""
    alarm = get_alarm(con, alarm_id)
    assert alarm is not None
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


def _stale(con: sqlite3.Connection, kinds: tuple[str, ...], now: datetime) -> datetime | None:
    marks = ",".join("?" * len(kinds))
    row = con.execute(f"SELECT max(as_of) FROM alarm_syncs WHERE kind IN ({marks})", kinds)
    last = row.fetchone()[0]
    return parse_iso(last) if last and parse_iso(last) > now else None


def sync_alarms(
    con: sqlite3.Connection,
    conditions: Iterable[Condition],
    repairs: Iterable[Repair],
    now: datetime,
    *,
    kinds: Iterable[str] | None = None,
    webhook_urls: Sequence[str] = (),
) -> SyncResult:
    """Bring the alarms of ``kinds`` (default: all :data:`KINDS`) in line with ``conditions``,
    everything that holds at ``now``, and with the maintenance ``repairs``; see the module doc.

    Only alarms of ``kinds`` are touched (a sync of ``rul_risk`` leaves ``drift`` alone). A sync
    older than the last one of any of its kinds changes nothing (``stale``): re-running a past
    day must not reopen what a later day closed. One transaction; idempotent for equal input.
    """
    scope = tuple(dict.fromkeys(kinds if kinds is not None else KINDS))
    if not scope:
        raise AlarmError("a sync needs at least one kind")
    stamp = iso(now)
    merged = _merge(conditions, scope)
    repairs = [r for r in repairs if r.action in REPAIR_ACTIONS and r.finished_at is not None]
    result = SyncResult(as_of=now, kinds=scope)
    open_alarm_store(con)
    webhooks.open_outbox(con)
    with transaction(con):
        last = _stale(con, scope, now)
        if last is not None:
            result.stale, result.last_sync = True, last
            return result
        marks = ",".join("?" * len(scope))
        active = {
            (a.machine_id, a.kind): a
            for a in map(
                alarm_from_row,
                con.execute(
                    f"SELECT * FROM alarms WHERE state IN ('open', 'acknowledged') "
                    f"AND kind IN ({marks})",
                    scope,
                ),
            )
        }
        for key, alarm in list(active.items()):
            repair = _resolving_repair(alarm, repairs, now)
            if repair is not None:
                result.notifications += _resolve(con, alarm, repair, now, webhook_urls)
                result.resolved.append(alarm.alarm_id)
                del active[key]
        for key, (cond, detail) in merged.items():
            alarm = active.pop(key, None)
            if alarm is None:
                alarm_id, n = _open(con, cond, detail, now, webhook_urls)
                result.opened.append(alarm_id)
            elif _rank(cond.severity) > _rank(alarm.severity):
                n = _escalate(con, alarm, cond, detail, now, webhook_urls)
                result.escalated.append(alarm.alarm_id)
            else:
                con.execute(
                    "UPDATE alarms SET last_seen_at = ?, detail = ? WHERE alarm_id = ?",
                    (stamp, detail, alarm.alarm_id),
                )
                n = 0
                result.unchanged.append(alarm.alarm_id)
            result.notifications += n
        for alarm in active.values():  # active, not resolved, condition gone
            con.execute(
                "UPDATE alarms SET state = 'cleared', closed_at = ? WHERE alarm_id = ?",
                (stamp, alarm.alarm_id),
            )
            result.notifications += _record(con, alarm.alarm_id, "cleared", now, webhook_urls)
            result.cleared.append(alarm.alarm_id)
        con.executemany(
            "INSERT INTO alarm_syncs (kind, as_of) VALUES (?, ?) "
            "ON CONFLICT (kind) DO UPDATE SET as_of = excluded.as_of",
            [(k, stamp) for k in scope],
        )
    return result


def _resolving_repair(alarm: Alarm, repairs: list[Repair], now: datetime) -> Repair | None:
    if alarm.kind not in RESOLVED_BY_REPAIR:
        return None
    done = [
        r
        for r in repairs
        if r.machine_id == alarm.machine_id
        and r.finished_at is not None
        and alarm.opened_at < r.finished_at <= now
    ]
    return min(done, key=lambda r: (r.finished_at, r.work_order)) if done else None


def _resolve(
    con: sqlite3.Connection, alarm: Alarm, repair: Repair, now: datetime, urls: Sequence[str]
) -> int:
    con.execute(
        "UPDATE alarms SET state = 'resolved', closed_at = ?, closed_by = ? WHERE alarm_id = ?",
        (iso(now), repair.work_order, alarm.alarm_id),
    )
    detail = {
        "work_order": repair.work_order,
        "action": repair.action,
        "started_at": iso(repair.started_at),
        "finished_at": iso(repair.finished_at) if repair.finished_at else None,
    }
    return _record(
        con, alarm.alarm_id, "resolved", now, urls, actor=repair.work_order, detail=detail
    )


def _open(
    con: sqlite3.Connection, cond: Condition, detail: str, now: datetime, urls: Sequence[str]
) -> tuple[int, int]:
    previous = con.execute(
        "SELECT max(alarm_id) FROM alarms WHERE machine_id = ? AND kind = ?",
        (cond.machine_id, cond.kind),
    ).fetchone()[0]
    cur = con.execute(
        "INSERT INTO alarms (machine_id, kind, severity, state, since, opened_at, last_seen_at, "
        "detail, previous_alarm_id) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?)",
        (
            cond.machine_id,
            cond.kind,
            cond.severity,
            iso(cond.since),
            iso(now),
            iso(now),
            detail,
            previous,
        ),
    )
    alarm_id = int(cur.lastrowid)
    return alarm_id, _record(con, alarm_id, "opened", now, urls, detail=json.loads(detail))


def _escalate(
    con: sqlite3.Connection,
    alarm: Alarm,
    cond: Condition,
    detail: str,
    now: datetime,
    urls: Sequence[str],
) -> int:
    con.execute(
        "UPDATE alarms SET severity = ?, state = 'open', last_seen_at = ?, detail = ?, "
        "acked_by = NULL, acked_at = NULL, ack_note = NULL WHERE alarm_id = ?",
        (cond.severity, iso(now), detail, alarm.alarm_id),
    )
    change = {"from": alarm.severity, "to": cond.severity, "was": alarm.state}
    return _record(con, alarm.alarm_id, "escalated", now, urls, detail=change)


def _check_note(note: str) -> str:
    text = (note or "").strip()
    if not text:
        raise AlarmError("an acknowledgement needs a note: what was seen, what will be done")
    if len(text) > MAX_NOTE_CHARS:
        raise AlarmError(f"the note has {len(text)} characters; at most {MAX_NOTE_CHARS}")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise AlarmError("the note contains control characters; write plain text")
    return text


def acknowledge(
    con: sqlite3.Connection,
    alarm_id: int,
    actor_address: str,
    note: str,
    roles: RoleReader,
    now: datetime,
    *,
    webhook_urls: Sequence[str] = (),
) -> Alarm:
    """Acknowledge an open alarm as ``actor_address``, who must hold MAINTAINER (asked of
    ``roles`` now, not trusted from a session), with a note. Returns the updated alarm.

    Raises :class:`NotAuthorized` without the role, :class:`AlarmError` for an empty or
    oversized note, an unknown alarm, or one that is not open (already acknowledged: by whom
    and when; cleared or resolved: nothing left to acknowledge).
    """
    text = _check_note(note)
    if not isinstance(actor_address, str) or not _ADDRESS.match(actor_address):
        raise AlarmError(f"not an account address (0x and 40 hex digits): {actor_address!r}")
    if not roles.has_role(ACK_ROLE, actor_address):
        raise NotAuthorized(
            f"{actor_address} does not hold {ACK_ROLE}: only maintainers acknowledge alarms "
            "(an ADMIN grants the role with `dt-platform roles grant`)"
        )
    open_alarm_store(con)
    webhooks.open_outbox(con)
    with transaction(con):
        alarm = get_alarm(con, alarm_id)
        if alarm is None:
            raise AlarmError(f"no alarm {alarm_id}")
        if alarm.state == "acknowledged":
            raise AlarmError(
                f"alarm {alarm_id} was already acknowledged by {alarm.acked_by} at "
                f"{iso(alarm.acked_at) if alarm.acked_at else '?'}"
            )
        if alarm.state not in ACTIVE:
            raise AlarmError(f"alarm {alarm_id} is {alarm.state}: nothing left to acknowledge")
        con.execute(
            "UPDATE alarms SET state = 'acknowledged', acked_by = ?, acked_at = ?, ack_note = ? "
            "WHERE alarm_id = ?",
            (actor_address, iso(now), text, alarm_id),
        )
        _record(con, alarm_id, "acknowledged", now, webhook_urls, actor=actor_address, note=text)
    updated = get_alarm(con, alarm_id)
    assert updated is not None
    return updated
