"""Each gateway's current connection as the bridge last heard of it: the ``bdSeq`` of its latest
``NBIRTH``, kept in the twin store so it survives a restart of the bridge.

Sparkplug B numbers a gateway's connections (``bdSeq``, 0-255): the NBIRTH sent on a connection
and the last will (NDEATH) registered for it carry the same number. A will of an older connection
can reach the bridge after the gateway reconnected and was born again (a broker noticing the lost
connection late, another client id, a broker cluster); comparing its ``bdSeq`` with the one here
tells it apart, and the bridge ignores it (``twin_batch``).
"""

from __future__ import annotations

import sqlite3

from dt_platform.twin.db import ensure, transaction
from dt_platform.twin.state import now_iso

DDL = """
CREATE TABLE IF NOT EXISTS gateway_births (
    gateway      TEXT PRIMARY KEY,
    bd_seq       INTEGER,         -- of the latest NBIRTH; NULL: it had no valid bdSeq
    born_at      TEXT NOT NULL,   -- ISO 8601 UTC when the bridge received that NBIRTH
    updated_at   TEXT NOT NULL
);
"""


def open_births(con: sqlite3.Connection) -> sqlite3.Connection:
    """Create the table if it does not exist; returns ``con``."""
    ensure(con, DDL)
    return con


def current_bd_seq(con: sqlite3.Connection, gateway: str) -> int | None:
    """The ``bdSeq`` of the gateway's latest NBIRTH; ``None`` if the bridge never received one
    or the latest had no valid ``bdSeq``."""
    row = con.execute("SELECT bd_seq FROM gateway_births WHERE gateway = ?", (gateway,)).fetchone()
    return None if row is None else row[0]


def record_births(con: sqlite3.Connection, births: dict[str, tuple[int | None, str]]) -> None:
    """Store each gateway's latest NBIRTH: ``gateway -> (bdSeq or None, received at ISO)``."""
    if not births:
        return
    now = now_iso()
    with transaction(con):
        con.executemany(
            """INSERT INTO gateway_births (gateway, bd_seq, born_at, updated_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT (gateway) DO UPDATE SET
                   bd_seq = excluded.bd_seq, born_at = excluded.born_at,
                   updated_at = excluded.updated_at""",
            [(gw, bd_seq, at, now) for gw, (bd_seq, at) in births.items()],
        )
