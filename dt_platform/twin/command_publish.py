"""Publishing a machine's desired state: the retained ``DCMD`` document (settings, version, the
command that set it and its expiry), sent through a :class:`DesiredPublisher` and recorded as an
event of that command. A failed publish leaves the command ``pending``; :func:`publish_unpublished`
sends what is still unsent once the broker is back."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from dt_platform.live import topics
from dt_platform.twin.command_store import (
    add_event,
    command_row,
    iso,
    open_commands,
    update_command,
)
from dt_platform.twin.commands import PENDING, DesiredPublisher
from dt_platform.twin.db import transaction
from dt_platform.twin.state import desired

__all__ = ["desired_payload", "publish_desired_state", "publish_unpublished"]


def desired_payload(con: sqlite3.Connection, machine_id: str, now: datetime) -> bytes | None:
    """The retained ``DCMD`` document of a machine's current desired state."""
    d = desired(con, machine_id)
    if d is None:
        return None
    row = command_row(con, d.command_id) if d.command_id else None
    return topics.encode(
        int(now.timestamp() * 1000), d.version, [],
        desired=d.settings, version=d.version, command_id=d.command_id,
        expires_at=int(row["expires_at"]) if row is not None else None,
    )  # fmt: skip


def _gateway(con: sqlite3.Connection, machine_id: str) -> str | None:
    found = con.execute(
        "SELECT gateway FROM commands WHERE machine_id = ? ORDER BY issued_at DESC LIMIT 1",
        (machine_id,),
    ).fetchone()
    return found["gateway"] if found else None


def publish_desired_state(
    con: sqlite3.Connection, machine_id: str, publisher: DesiredPublisher, now: datetime
) -> bool:
    """Publish a machine's current desired state; record ``published`` (or ``publish_failed``,
    the command stays pending and :func:`publish_unpublished` retries) on the command that set
    it. Returns whether it was published."""
    at = iso(now)
    d = desired(con, machine_id)
    payload = desired_payload(con, machine_id, now)
    gateway = _gateway(con, machine_id)
    if d is None or payload is None or gateway is None:
        return False
    row = command_row(con, d.command_id) if d.command_id else None
    try:
        publisher.publish_desired(gateway, machine_id, payload)
    except Exception as exc:  # any transport failure: the command stays pending, retried later
        if row is not None:
            with transaction(con):
                add_event(
                    con, row, at, "publish_failed", row["state"], reason="publish_failed",
                    detail={"version": d.version, "error": str(exc)[:500]}, capped=True,
                )  # fmt: skip
        return False
    if row is not None:
        with transaction(con):
            update_command(con, row["command_id"], at, published_version=d.version)
            add_event(
                con, row, at, "published", row["state"],
                detail={"version": d.version, "gateway": gateway},
            )  # fmt: skip
    return True


def publish_unpublished(
    con: sqlite3.Connection, publisher: DesiredPublisher, now: datetime
) -> list[str]:
    """Publish every desired state whose command is pending but not yet published (after an
    outage of the broker); returns the machines published."""
    open_commands(con)
    rows = con.execute(
        """SELECT c.machine_id FROM commands c JOIN desired_state d
               ON d.machine_id = c.machine_id AND d.command_id = c.command_id
           WHERE c.state = ? AND (c.published_version IS NULL OR c.published_version <> d.version)
           ORDER BY c.machine_id""",
        (PENDING,),
    ).fetchall()
    return [r["machine_id"] for r in rows if publish_desired_state(con, r[0], publisher, now)]
