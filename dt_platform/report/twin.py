"""What the twin did that day: alarms opened, escalated, acknowledged, cleared or resolved (the
twin store's ``alarm_events``), the decisions the policy took (the warehouse's ``decisions``)
and the commands with events that day (the twin store's ``commands`` and ``command_events``).

An event belongs to the day when it is stamped after the day's start and up to its end: the
daily alarm sync of a day is stamped at the day's end (midnight)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter

import duckdb

from dt_platform.report.content import Section, Table, hours, interval, text
from dt_platform.report.db import day_window, missing_tables, rows, twin_rows, twin_tables

EVENT_TYPES = ("opened", "escalated", "acknowledged", "cleared", "resolved")
ACTIVE_AFTER = {"opened": True, "escalated": True, "acknowledged": True}

_ALARM_EVENTS = """
SELECT e.event_id, e.alarm_id, e.type, e.at, e.severity, e.actor, e.note, a.machine_id, a.kind
FROM alarm_events e JOIN alarms a USING (alarm_id)
WHERE e.at > ? AND e.at <= ? ORDER BY e.at, e.event_id"""
_LAST_EVENTS = """
SELECT alarm_id, type FROM alarm_events e
WHERE at <= ? AND event_id = (SELECT max(event_id) FROM alarm_events x
                              WHERE x.alarm_id = e.alarm_id AND x.at <= ?)"""
_COMMANDS = """
SELECT c.command_id, c.machine_id, c.action, c.value, c.state, c.issuer, c.approver,
       group_concat(e.event, ' → ') AS events
FROM commands c JOIN command_events e USING (command_id)
WHERE e.at > ? AND e.at <= ? GROUP BY c.command_id ORDER BY min(e.seq)"""
_DECISIONS = """
SELECT machine_id, action, derate_pct, mode, status, rul_fused_h, rul_fused_lo_h,
       rul_fused_hi_h, reason, command_id
FROM decisions WHERE day = $day ORDER BY machine_id, ts"""


def _bounds(day: dt.date) -> tuple[str, str]:
    start, end = day_window(day)
    return start.isoformat(timespec="microseconds"), end.isoformat(timespec="microseconds")


def _clock(at: str, day: dt.date) -> str:
    """HH:MM of an event of the day; the day's closing sync (next midnight) shows as 24:00."""
    return at[11:16] if at[:10] == day.isoformat() else "24:00"


def alarms_section(twin: sqlite3.Connection | None, day: dt.date) -> Section:
    section = Section("alarms", "Alarms")
    if twin is None or not {"alarms", "alarm_events"} <= twin_tables(twin):
        section.missing.append("no alarm store yet (the twin store holds no alarms)")
        return section
    start, end = _bounds(day)
    events = twin_rows(twin, _ALARM_EVENTS, (start, end))
    last = twin_rows(twin, _LAST_EVENTS, (end, end))
    active = sum(1 for r in last if ACTIVE_AFTER.get(r["type"], False))
    counts = Counter(e["type"] for e in events)
    section.facts = {"events": {t: counts.get(t, 0) for t in EVENT_TYPES}, "active_at_end": active}
    section.lines.append(
        ", ".join(f"{counts.get(t, 0)} {t}" for t in EVENT_TYPES)
        + f"; {active} alarm(s) active at the end of the day."
    )
    if events:
        section.tables.append(
            Table(
                "Alarm events of the day",
                ("time", "alarm", "machine", "condition", "event", "severity", "by", "note"),
                [
                    (
                        _clock(e["at"], day),
                        str(e["alarm_id"]),
                        e["machine_id"],
                        e["kind"],
                        e["type"],
                        e["severity"],
                        text(e["actor"]),
                        text(e["note"]),
                    )
                    for e in events
                ],
            )
        )
    return section


def _action(action: str, derate_pct: float | None) -> str:
    return f"derate {derate_pct:g} %" if action == "derate" and derate_pct else action


def decisions_section(
    con: duckdb.DuckDBPyConnection, twin: sqlite3.Connection | None, day: dt.date
) -> Section:
    section = Section("decisions", "Decisions and commands")
    decisions = [] if missing_tables(con, "decisions") else rows(con, _DECISIONS, {"day": day})
    has_commands = twin is not None and {"commands", "command_events"} <= twin_tables(twin)
    commands = twin_rows(twin, _COMMANDS, _bounds(day)) if has_commands else []
    section.facts = {
        "decisions": len(decisions),
        "by_action": dict(Counter(d["action"] for d in decisions)),
        "commands": len(commands),
    }
    if missing_tables(con, "decisions"):
        section.missing.append("no decisions table yet: the decision policy has not run")
    if not has_commands:
        section.missing.append("no command store yet: no command was ever issued")
    section.lines.append(
        f"{len(decisions)} decision(s) on the day's predictions; {len(commands)} command(s) "
        "with events that day."
    )
    if decisions:
        section.tables.append(
            Table(
                "Decisions",
                ("machine", "action", "mode", "status", "RUL", "90 % interval", "reason"),
                [
                    (
                        d["machine_id"],
                        _action(d["action"], d["derate_pct"]),
                        d["mode"],
                        d["status"],
                        hours(d["rul_fused_h"]),
                        interval(d["rul_fused_lo_h"], d["rul_fused_hi_h"]),
                        text(d["reason"]),
                    )
                    for d in decisions
                ],
                frozenset({4, 5}),
            )
        )
    if commands:
        section.tables.append(
            Table(
                "Commands",
                ("command", "machine", "action", "state now", "issued by", "events that day"),
                [
                    (
                        c["command_id"][:10] + "…",
                        c["machine_id"],
                        _action(c["action"], c["value"] / 100 if c["action"] == "derate" else None),
                        c["state"],
                        text(c["issuer"]),
                        text(c["events"]),
                    )
                    for c in commands
                ],
            )
        )
    return section
