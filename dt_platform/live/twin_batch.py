"""What the messages of one flush tell the twin store, merged per machine and written at once.

At hundreds of messages a second the bridge cannot write SQLite per message: each flush merges
what every machine said, in arrival order (the last mode, online flag and value of a tag win),
and writes one ``record_reported`` per machine that spoke. Acknowledgements of commands go to the
injected :class:`AckHandler` (the commands module records them) after the state is written.

A gateway's ``NDEATH`` takes all its machines offline, unless it is the last will of an older
connection (Sparkplug B): its ``bdSeq`` differs from that of the gateway's latest ``NBIRTH``
(``gateway_births``, kept across restarts; an ``NBIRTH`` earlier in the same batch counts). Such
an NDEATH is ignored and logged. An NDEATH without a valid ``bdSeq``, or of a gateway whose
NBIRTH the bridge never received (or whose latest NBIRTH had no valid ``bdSeq``), takes the
machines offline: with nothing to compare, offline is the safe side.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from dt_platform.live import gateway_births
from dt_platform.live.decode import Decoded
from dt_platform.twin.state import record_reported

log = logging.getLogger(__name__)

_ONLINE = {"DBIRTH": True, "DDATA": True, "DDEATH": False}
"""What a machine's message says of its connection (a gateway's NDEATH: all its machines off)."""

Taken = Literal["taken", "refused", "stale_death"]
"""What :meth:`TwinBatch.take` made of a message: merged; ``refused`` (a machine the registry does
not give to the topic's gateway, or a gateway it gives no machine); ``stale_death`` (an older
connection's NDEATH, ignored)."""


class Registry(Protocol):
    """What the batch asks of the machine registry (:class:`~dt_platform.live.owners.Owners`)."""

    def owns(self, gateway: str, machine_id: str) -> bool: ...

    def knows_gateway(self, gateway: str) -> bool: ...


class AckHandler(Protocol):
    """Receives a machine's acknowledgement of a command (a checked ``twin/ack`` value:
    ``command_id``, ``version``, ``status``, ``reason``, ``detail``) and when the bridge received
    it. It must tolerate the same acknowledgement twice (a redelivery in the rare case the twin
    was written but the spool not yet synced)."""

    def __call__(
        self, machine_id: str, gateway: str, ack: dict[str, Any], at: dt.datetime
    ) -> None: ...


@dataclass
class _Pending:
    gateway: str
    seen_at: str
    online: bool | None = None
    reading_ts: str | None = None
    mode: str | None = None
    applied_version: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    readings: dict[str, list] = field(default_factory=dict)


@dataclass
class TwinBatch:
    """The twin updates of one flush."""

    machines: dict[str, _Pending] = field(default_factory=dict)
    acks: list[tuple[str, str, dict[str, Any], dt.datetime]] = field(default_factory=list)
    births: dict[str, tuple[int | None, str]] = field(default_factory=dict)
    """Gateways born in this batch: their latest NBIRTH's bdSeq (``None``: not valid) and when."""

    def __len__(self) -> int:
        return len(self.machines) + len(self.acks) + len(self.births)

    def said(
        self,
        machine_id: str,
        gateway: str,
        at: dt.datetime,
        *,
        online: bool | None = None,
        reading_ts: str | None = None,
        readings: dict[str, list] | None = None,
        reported: dict[str, Any] | None = None,
    ) -> None:
        """Merge one message of a machine into the batch."""
        pending = self.machines.get(machine_id)
        if pending is None or pending.gateway != gateway:
            pending = self.machines[machine_id] = _Pending(gateway, _iso(at))
        pending.seen_at = _iso(at)
        if online is not None:
            pending.online = online
        if reading_ts is not None and (pending.reading_ts or "") < reading_ts:
            pending.reading_ts = reading_ts
        pending.readings.update(readings or {})
        if reported:
            pending.mode = reported.get("mode", pending.mode)
            pending.applied_version = reported.get("applied_version", pending.applied_version)
            pending.settings.update(reported.get("settings", {}))

    def take(
        self,
        con: sqlite3.Connection,
        decoded: Decoded,
        at: dt.datetime,
        registry: Registry,
    ) -> Taken:
        """Merge what one message says, in arrival order. ``refused``: it speaks for a machine
        that the registry does not give to the topic's gateway, whose twin is then left alone,
        or is the birth or death of a gateway the registry gives no machine (not stored, so the
        births table holds only real gateways); ``stale_death``: an NDEATH whose bdSeq is not
        that of the gateway's latest NBIRTH, ignored (see the module's docstring)."""
        t = decoded.topic
        if t is None:
            return "taken"
        if t.kind in ("NBIRTH", "NDEATH") and not registry.knows_gateway(t.gateway):
            return "refused"
        if t.kind == "NBIRTH":
            self.births[t.gateway] = (decoded.bd_seq, _iso(at))
            return "taken"
        if t.kind == "NDEATH":
            current = self.current_bd_seq(con, t.gateway)
            if decoded.bd_seq is not None and current is not None and decoded.bd_seq != current:
                log.info(
                    "NDEATH of %s ignored: its bdSeq %d is not %d, that of the gateway's latest "
                    "NBIRTH (the last will of an older connection)",
                    t.gateway,
                    decoded.bd_seq,
                    current,
                )
                return "stale_death"
            self.gateway_died(con, t.gateway, at)
            return "taken"
        if t.machine is None or t.kind not in _ONLINE:
            return "taken"
        if not registry.owns(t.gateway, t.machine):
            return "refused"
        self.said(
            t.machine,
            t.gateway,
            at,
            online=_ONLINE[t.kind],
            reading_ts=decoded.reading_ts,
            readings=decoded.readings,
            reported=decoded.reported,
        )
        for ack in decoded.acks:
            self.ack(t.machine, t.gateway, ack, at)
        return "taken"

    def current_bd_seq(self, con: sqlite3.Connection, gateway: str) -> int | None:
        """The bdSeq of the gateway's latest NBIRTH: of this batch, else of the store."""
        if gateway in self.births:
            return self.births[gateway][0]
        return gateway_births.current_bd_seq(con, gateway)

    def gateway_died(self, con: sqlite3.Connection, gateway: str, at: dt.datetime) -> None:
        """Every machine of ``gateway`` (known to the store or in this batch) goes offline."""
        known = {
            row[0]
            for row in con.execute(
                "SELECT machine_id FROM reported_state WHERE gateway = ?", (gateway,)
            )
        }
        known |= {m for m, p in self.machines.items() if p.gateway == gateway}
        for machine_id in sorted(known):
            self.said(machine_id, gateway, at, online=False)

    def ack(self, machine_id: str, gateway: str, ack: dict[str, Any], at: dt.datetime) -> None:
        self.acks.append((machine_id, gateway, ack, at))

    def apply(self, con: sqlite3.Connection, on_ack: AckHandler) -> int:
        """Write the batch (the gateways' births, one ``record_reported`` per machine), then hand
        over the acknowledgements; returns the machines updated. A failing handler is logged.
        ``con`` must have the ``gateway_births`` table (:func:`gateway_births.open_births`)."""
        gateway_births.record_births(con, self.births)
        for machine_id, p in self.machines.items():
            record_reported(
                con,
                machine_id,
                p.gateway,
                seen_at=p.seen_at,
                online=p.online,
                reading_ts=p.reading_ts,
                mode=p.mode,
                settings=p.settings or None,
                applied_version=p.applied_version,
                readings=p.readings or None,
            )
        for machine_id, gateway, ack, at in self.acks:
            try:
                on_ack(machine_id, gateway, ack, at)
            except Exception:
                log.exception("the ack handler failed on %s's %s", machine_id, ack)
        updated = len(self.machines)
        self.machines, self.acks, self.births = {}, [], {}
        return updated


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds")
