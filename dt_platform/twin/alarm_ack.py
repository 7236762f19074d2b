"""Acknowledging an alarm: a maintainer says they have seen it and what will be done.

The role is asked of a :class:`RoleReader` at the moment of acknowledging (on chain in
production: ``AuditChain.has_role``), never taken from a session; the note is required. Who,
when and the note are kept on the alarm and in its ``acknowledged`` event.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from dt_platform.twin import webhooks
from dt_platform.twin.alarm_events import record_event
from dt_platform.twin.alarm_store import ACTIVE, Alarm, AlarmError, get_alarm, iso, open_alarm_store
from dt_platform.twin.db import transaction

ACK_ROLE = "MAINTAINER"
MAX_NOTE_CHARS = 2_000
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class NotAuthorized(AlarmError):
    """The account does not hold the role the operation needs."""


class RoleReader(Protocol):
    """Who holds which role (``AuditChain.has_role`` reads it from the RoleHub contract)."""

    def has_role(self, role: str, account: str) -> bool: ...


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
        record_event(
            con, alarm_id, "acknowledged", now, webhook_urls, actor=actor_address, note=text
        )
    updated = get_alarm(con, alarm_id)
    assert updated is not None
    return updated
