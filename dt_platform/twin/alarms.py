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

:func:`acknowledge` (:mod:`~dt_platform.twin.alarm_ack`, re-exported here) records who (an
account holding MAINTAINER, checked through a :class:`RoleReader`, on chain in production)
acknowledged an open alarm, when, and their note.
Every change is an :mod:`~dt_platform.twin.alarm_store` event; with webhook URLs configured each
event also queues one notification per URL (:mod:`dt_platform.twin.webhooks`) in the same
transaction, so no change is lost between the store and the outbox.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dt_platform.twin import webhooks
from dt_platform.twin.alarm_ack import NotAuthorized, RoleReader, acknowledge
from dt_platform.twin.alarm_events import record_event
from dt_platform.twin.alarm_store import (
    SEVERITIES,
    Alarm,
    AlarmError,
    AlarmEvent,
    alarm_from_row,
    alarm_history,
    alarms,
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
MAX_DETAIL_BYTES = 16_384
MAX_MACHINE_ID_CHARS = 64


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
            result.notifications += record_event(con, alarm.alarm_id, "cleared", now, webhook_urls)
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
    return record_event(
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
    return alarm_id, record_event(con, alarm_id, "opened", now, urls, detail=json.loads(detail))


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
    return record_event(con, alarm.alarm_id, "escalated", now, urls, detail=change)
