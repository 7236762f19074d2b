"""How the twin's alarms, states and commands read on a page: ordering, one-line summaries and
table rows. Plain functions of the library's records, no Streamlit, so they are unit-tested."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from dt_platform.twin.alarm_store import SEVERITIES, Alarm, AlarmEvent
from dt_platform.twin.commands import AWAITING_APPROVAL, CommandEvent, CommandStatus
from dt_platform.twin.state import SETTINGS, TwinState

__all__ = [
    "action_text",
    "alarm_summary",
    "alarms_now",
    "command_rows",
    "event_rows",
    "publish_note",
    "readings_rows",
    "settings_rows",
    "short",
]

KIND_TITLES = {
    "rul_risk": "likely to fail",
    "drift": "has not applied its commanded settings",
    "offline": "offline",
}


def short(address: str | None) -> str:
    """``0x1234…abcd`` for an address, ``–`` for none."""
    return f"{address[:6]}…{address[-4:]}" if address else "–"


def alarms_now(alarms: Iterable[Alarm]) -> list[Alarm]:
    """Active alarms most severe first, then the newest first (what to look at first on top)."""
    ranked = sorted(alarms, key=lambda a: (a.opened_at, a.alarm_id), reverse=True)
    return sorted(ranked, key=lambda a: -SEVERITIES.index(a.severity))


def alarm_summary(alarm: Alarm) -> str:
    """One line on what the alarm is about, from its kind and its condition's detail."""
    d = alarm.detail
    what = KIND_TITLES.get(alarm.kind, alarm.kind)
    if alarm.kind == "rul_risk":
        parts = [what]
        if d.get("probability") is not None and d.get("horizon_h") is not None:
            parts.append(f"P(failure within {d['horizon_h']:.0f} h) = {d['probability']:.2f}")
        if d.get("rul_fused_h") is not None:
            band = ""
            if d.get("rul_fused_lo_h") is not None and d.get("rul_fused_hi_h") is not None:
                band = f" [{d['rul_fused_lo_h']:.0f} – {d['rul_fused_hi_h']:.0f}]"
            parts.append(f"RUL {d['rul_fused_h']:.0f} h{band}")
        return " · ".join(parts)
    if alarm.kind == "drift" and d.get("delta"):
        return f"{what}: {json.dumps(d['delta'], sort_keys=True)}"
    return what


def action_text(action: str, value: int) -> str:
    """``derate 20 %`` or the action's name (``value`` is in basis points for a derate)."""
    return f"derate {value / 100:g} %" if action == "derate" else action.replace("_", " ")


def _time(unix: int) -> str:
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def command_rows(commands: Iterable[CommandStatus]) -> list[dict[str, Any]]:
    """One row per command, newest first as given: what, state, who signed, what was sent."""
    return [
        {
            "issued (UTC)": _time(c.issued_at),
            "command": action_text(c.action, c.value),
            "state": c.state,
            "critical": c.critical,
            "signed by": c.issuer or "–",
            "approved by": c.approver or ("needed" if c.state == AWAITING_APPROVAL else "–"),
            "desired version": c.version,
            "published": c.published,
            "reason": c.reason or "",
            "expires (UTC)": _time(c.expires_at),
            "command id": c.command_id,
        }
        for c in commands
    ]


def event_rows(events: Iterable[CommandEvent | AlarmEvent]) -> list[dict[str, Any]]:
    """A command's or an alarm's events, oldest first: when, what, by whom, why."""
    rows = []
    for e in events:
        if isinstance(e, CommandEvent):
            rows.append(
                {
                    "at": e.at,
                    "event": e.event,
                    "state": e.state,
                    "by": e.actor or "",
                    "role": e.role or "",
                    "reason": e.reason or "",
                    "detail": json.dumps(e.detail, sort_keys=True) if e.detail else "",
                }
            )
        else:
            rows.append(
                {
                    "at": e.at.isoformat(timespec="seconds"),
                    "event": e.type,
                    "severity": e.severity,
                    "by": e.actor or "",
                    "note": e.note or "",
                }
            )
    return rows


def settings_rows(state: TwinState) -> list[dict[str, Any]]:
    """Each setting: what the machine reports applied, what is desired, whether they differ."""
    reported = {**SETTINGS, **(state.reported.settings if state.reported else {})}
    desired = state.desired.settings if state.desired else {}
    return [
        {
            "setting": name,
            "reported": _plain(reported.get(name)),
            "desired": _plain(desired[name]) if name in desired else "–",
            "delta": "yes" if name in state.delta else "",
        }
        for name in SETTINGS
    ]


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if value not in (None, "") else "–"


def readings_rows(state: TwinState) -> list[dict[str, Any]]:
    """The machine's last readings (tag, value, unit), by tag."""
    if state.reported is None:
        return []
    rows = []
    for tag, reading in sorted(state.reported.readings.items()):
        pair = list(reading) if isinstance(reading, list | tuple) else [reading]
        value, unit = [*pair, None, None][:2]
        rows.append({"tag": tag, "value": value, "unit": unit or ""})
    return rows


def publish_note(status: CommandStatus) -> str | None:
    """Why a pending command has not reached the broker yet (``None`` when it has, or when it
    is not meant to be published yet)."""
    if status.version is None or status.published or status.state not in ("pending", "delivered"):
        return None
    return (
        f"Desired version {status.version} is recorded but not published: the MQTT broker could "
        "not be reached. The command stays pending; it is sent with `Retry publishing` here or "
        "`dt-platform twin publish` once the broker is back."
    )
