"""What happens to a command after it is published: the machine's acknowledgements (through the
MQTT bridge) and expiry. Drift (a machine that does not reach its desired state in time) is an
alarm condition: :func:`dt_platform.twin.alarm_sources.twin_conditions`.

Expiry also restores the desired state when the expired command set the machine's latest
desired version: the settings before it become a new version (published if a publisher is
given), so the retained document never asks for something that is no longer valid. A command
that a later one built upon is left in the desired state (the later command carries it).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from dt_platform.twin.command_publish import publish_desired_state
from dt_platform.twin.command_store import (
    add_event,
    iso,
    open_commands,
    require_row,
    status_from_row,
    update_command,
)
from dt_platform.twin.commands import (
    ACK_STATUSES,
    APPLIED,
    DELIVERED,
    EXPIRED,
    OPEN_STATES,
    PENDING,
    REJECTED,
    CommandRefused,
    CommandStatus,
    DesiredPublisher,
    check_reject_reason,
    check_transition,
)
from dt_platform.twin.db import transaction
from dt_platform.twin.state import SETTINGS, desired, set_desired

__all__ = ["expire_due", "record_ack"]


def record_ack(
    con: sqlite3.Connection,
    machine_id: str,
    command_id: str,
    version: int,
    status: str,
    reason: str | None,
    at: datetime,
    *,
    detail: dict[str, Any] | None = None,
) -> CommandStatus:
    """Record a machine's acknowledgement of a command (a ``twin/ack`` metric).

    ``status`` is ``delivered``, ``applied`` or ``rejected`` (with the machine's ``reason``). A
    repeated or late acknowledgement (``delivered`` after ``applied``) is recorded and changes
    nothing; one that the state machine does not allow (``applied`` after ``expired``), for
    another machine or another desired version is recorded and refused
    (:class:`CommandRefused`).
    """
    open_commands(con)
    stamp = iso(at)
    if status not in ACK_STATUSES:
        raise CommandRefused(
            "bad_ack", f"status {status!r} is not one of {', '.join(ACK_STATUSES)}"
        )
    row = require_row(con, command_id)
    extra = {"version": version, "status": status, **(detail or {})}
    with transaction(con):
        row = require_row(con, command_id)
        state = row["state"]
        try:
            if row["machine_id"] != machine_id:
                raise CommandRefused(
                    "wrong_machine", f"command {command_id} is for {row['machine_id']}"
                )
            if isinstance(version, bool) or not isinstance(version, int):
                raise CommandRefused("bad_ack", f"version {version!r} is not an integer")
            if row["version"] is None or int(row["version"]) != version:
                raise CommandRefused(
                    "version_mismatch",
                    f"command {command_id} set desired version {row['version']}, not {version}",
                )
            why = check_reject_reason(reason) if status == REJECTED else None
            duplicate = status == state or (status == DELIVERED and state in (APPLIED, REJECTED))
            if not duplicate:
                check_transition(row["command_id"], state, status)
        except CommandRefused as exc:
            add_event(
                con, row, stamp, "ack_refused", state, actor=machine_id, role="machine",
                reason=exc.reason_code, detail={**extra, "detail": exc.detail}, capped=True,
            )  # fmt: skip
            refused = exc
        else:
            refused = None
            if not duplicate:
                fields: dict[str, Any] = {"state": status}
                if why is not None:
                    fields["reason"] = why
                update_command(con, row["command_id"], stamp, **fields)
            add_event(
                con, row, stamp, "ack", row["state"] if duplicate else status, actor=machine_id,
                role="machine", reason=why, detail={**extra, "duplicate": duplicate},
                capped=duplicate,
            )  # fmt: skip
    if refused is not None:
        raise refused
    return status_from_row(require_row(con, command_id))


def expire_due(
    con: sqlite3.Connection, now: datetime, publisher: DesiredPublisher | None = None
) -> list[CommandStatus]:
    """Mark every open command whose ``expiresAt`` has passed as ``expired`` (see the module
    docstring for the desired state); returns them."""
    open_commands(con)
    stamp = iso(now)
    unix = int(now.timestamp())
    restored: list[str] = []
    expired_ids: list[str] = []
    with transaction(con):
        rows = con.execute(
            f"SELECT * FROM commands WHERE state IN ({', '.join('?' * len(OPEN_STATES))}) "
            "AND expires_at <= ? ORDER BY expires_at",
            (*OPEN_STATES, unix),
        ).fetchall()
        for row in rows:
            check_transition(row["command_id"], row["state"], EXPIRED)
            update_command(con, row["command_id"], stamp, state=EXPIRED, reason="expired")
            detail: dict[str, Any] = {"expires_at": int(row["expires_at"]), "was": row["state"]}
            current = desired(con, row["machine_id"])
            if (
                row["state"] in (PENDING, DELIVERED)
                and current is not None
                and current.command_id == row["command_id"]
            ):
                before = json.loads(row["prev_settings"] or "null") or dict(SETTINGS)
                back = set_desired(con, row["machine_id"], before, None, stamp)
                detail["restored_version"] = back.version
                restored.append(row["machine_id"])
            add_event(con, row, stamp, "expired", EXPIRED, reason="expired", detail=detail)
            expired_ids.append(row["command_id"])
    if publisher is not None:
        for machine_id in sorted(set(restored)):
            publish_desired_state(con, machine_id, publisher, now)
    return [status_from_row(require_row(con, c)) for c in expired_ids]
