"""The MQTT bridge: the live line's messages into the batch loader's landing folder and the twin.

It holds a *persistent session* as the platform user with a fixed client id, subscribed at QoS 1
to every ``DBIRTH``, ``DDEATH``, ``DDATA``, ``NBIRTH`` and ``NDEATH`` of the group, so the broker
queues what arrives while the bridge is down. Each message is decoded (``decode``), journaled
(``spool``) and acknowledged only once the journal is fsynced — at most every ``flush_s``
seconds, or sooner when many messages wait. Every ``batch_s`` seconds the journal is landed as a
JSON Lines dump in ``landing/stream/``, which the loader ingests like any other (ledger,
quarantine, rejects with reasons, ``rows_in = loaded + rejected``). A message delivered twice —
after a crash between fsync and acknowledgement, or an acknowledgement lost with the connection —
is recognised by its identity and stored once.

After each flush, what the messages said about the machines goes to the twin store in one batch
(``twin_batch``): readings, mode and settings, online on ``DBIRTH``/``DDATA``, offline on
``DDEATH`` and, for all of a gateway's machines, on its ``NDEATH`` — unless that NDEATH's
``bdSeq`` differs from the one of the gateway's latest ``NBIRTH`` (kept in the twin store,
``gateway_births``): the last will of an older connection, ignored and counted
(:attr:`BridgeStats.stale_deaths`). An NDEATH without ``bdSeq``, or of a gateway whose NBIRTH the
bridge never received, still takes its machines offline. Only a machine the registry assigns to
the topic's gateway has its twin updated (``owners``).

The machines' ``twin/ack`` metrics move their commands on (``record_ack``: delivered, applied,
rejected), and every few seconds the bridge, which holds the platform's connection, expires
commands past their ``expiresAt`` and publishes desired states a broker outage held back
(``housekeeping``).

A graceful stop (:meth:`Bridge.stop`, SIGTERM/SIGINT in the CLI) flushes, acknowledges, lands
the journal and disconnects; what arrived after the stop was asked is left to the next start.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho

from dt_platform.config import Settings
from dt_platform.live import topics
from dt_platform.live.decode import decode
from dt_platform.live.gateway_births import open_births
from dt_platform.live.mqtt import MqttDesiredPublisher, MqttError, connect, platform_credentials
from dt_platform.live.owners import Owners
from dt_platform.live.spool import WINDOW, Spool
from dt_platform.live.twin_batch import AckHandler, TwinBatch
from dt_platform.twin import db as twin_db
from dt_platform.twin.command_acks import expire_due, record_ack
from dt_platform.twin.command_publish import publish_unpublished
from dt_platform.twin.commands import CommandRefused
from dt_platform.twin.state import open_state

log = logging.getLogger(__name__)

CLIENT_ID = "dt-bridge"
KINDS = ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "DDATA")
MAX_UNACKED = 500
"""A flush comes sooner when this many messages wait for their acknowledgement (the broker has at
most 1,000 in flight to the bridge)."""
MAX_BATCH_S = 60.0
HOUSEKEEPING_S = 5.0
"""How often commands past their expiry are expired and held-back desired states published."""
QUEUE_SIZE = 10_000
"""Messages received and not yet journaled; beyond this the network thread waits (the broker
then holds the rest: QoS 1 is bounded by its in-flight limit anyway, this bounds QoS 0)."""


@dataclass
class BridgeStats:
    """Counters since :meth:`Bridge.start`."""

    received: int = 0
    """Messages delivered by the broker (redeliveries included)."""
    duplicates: int = 0
    """Messages recognised as already stored and only acknowledged."""
    messages_stored: int = 0
    """Messages durably journaled and acknowledged."""
    lines_spooled: int = 0
    """JSON Lines durably journaled (one per sensor metric, or per unreadable message)."""
    unreadable: int = 0
    """Messages that could not be read (too large, not UTF-8, not JSON): one malformed line each."""
    files_landed: int = 0
    """Dumps landed in ``landing/stream/`` (a crash's leftover included)."""
    flushes: int = 0
    twin_updates: int = 0
    """Machine states written to the twin store."""
    twin_refused: int = 0
    """Messages whose machine is unknown or belongs to another gateway, and births and deaths of
    gateways the registry gives no machine: the twin store is left alone."""
    stale_deaths: int = 0
    """NDEATHs ignored: their bdSeq is not that of the gateway's latest NBIRTH (an older
    connection's last will)."""
    reconnects: int = 0


@dataclass(frozen=True)
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    at: dt.datetime


class _Rotate:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.landed: Path | None = None


_STOP = object()


class Bridge:
    """The bridge process's engine; :meth:`start` it, :meth:`stop` it, read :attr:`stats`.

    ``on_ack`` receives the machines' command acknowledgements (default: recorded against their
    commands in the twin store). ``after_sync``
    is called after each fsync and before the acknowledgements are sent: a fault-injection point
    for tests (a crash there must lose and double nothing).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        flush_s: float = 0.5,
        batch_s: float = MAX_BATCH_S,
        on_ack: AckHandler | None = None,
        client_id: str = CLIENT_ID,
        window: int = WINDOW,
        after_sync: Callable[[], None] | None = None,
    ) -> None:
        if not 0 < flush_s <= batch_s <= MAX_BATCH_S:
            raise ValueError(f"need 0 < flush_s <= batch_s <= {MAX_BATCH_S:g} s")
        self.settings = settings
        self.flush_s, self.batch_s = flush_s, batch_s
        self.on_ack = on_ack or self._record_ack
        self.client_id, self.after_sync = client_id, after_sync
        self.spool = Spool(settings.stream_dir, settings.landing_dir, window)
        self.stats = BridgeStats()
        self.landed: list[Path] = []
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self._generation = 0
        self._acks: dict[tuple[int, int], int] = {}
        self._unsynced = (0, 0)  # messages, lines
        self._twin = TwinBatch()
        self._client: paho.Client | None = None
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self._owners: Owners | None = None
        self._problems_logged = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Land a crash's leftover journal, connect, subscribe and start storing."""
        for path in self.spool.recover():
            self._landed(path)
        self._db = open_births(open_state(twin_db.connect(self.settings.twin_db_path)))
        self._owners = Owners(self.settings.machine_registry_path)
        user, password = platform_credentials(self.settings)
        self._client = connect(
            self.settings,
            self.client_id,
            user,
            password,
            persistent=True,
            manual_ack=True,
            on_message=self._on_message,
        )
        self._client.on_connect = self._on_reconnect
        # Storing starts before the subscription is confirmed: the session's queued messages
        # are already arriving, and a full queue would hold up the confirmation.
        self._thread = threading.Thread(target=self._run, name="dt-bridge", daemon=True)
        self._thread.start()
        self._subscribe(wait=True)
        log.info("bridge connected as %s to %s", self.client_id, self.settings.effective_mqtt_url)

    def stop(self, timeout: float = 60.0) -> None:
        """Flush, acknowledge, land the journal and disconnect."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def rotate(self, timeout: float = 30.0) -> Path | None:
        """Land what was received so far now (flushed and acknowledged first); returns the file
        landed, if the journal held any reading line."""
        if not self.running:
            raise RuntimeError("the bridge is not running") from self.error
        request = _Rotate()
        self._queue.put(request)
        if not request.done.wait(timeout):
            raise TimeoutError(f"the bridge did not rotate its journal within {timeout} s")
        return request.landed

    # --- MQTT callbacks (network thread) -------------------------------------------------------

    def _on_message(self, _client, _userdata, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")
        self.stats.received += 1
        self._queue.put(
            _Received(
                topic,
                message.payload,
                message.mid,
                message.qos,
                self._generation,
                dt.datetime.now(dt.UTC),
            )
        )

    def _on_reconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if getattr(reason_code, "is_failure", False):
            log.warning("the broker refused the bridge's reconnection: %s", reason_code)
            return
        # Messages of the old connection are delivered again on this one, with new packet ids.
        self._generation += 1
        self.stats.reconnects += 1
        self._subscribe(wait=False)

    def _subscribe(self, wait: bool) -> None:
        assert self._client is not None
        group = self.settings.mqtt_group
        filters = [
            (topics.subscription(group, k, machine=None if k in topics.NODE_TYPES else "+"), 1)
            for k in KINDS
        ]
        acked = threading.Event()
        self._client.on_subscribe = lambda *_a: acked.set()
        rc, _ = self._client.subscribe(filters)
        if rc != paho.MQTT_ERR_SUCCESS or (wait and not acked.wait(10)):
            raise MqttError(f"the broker did not accept the bridge's subscriptions ({rc})")

    # --- the worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.error = exc
            log.exception("the bridge stopped on an error; unacknowledged messages stay queued")
            self.spool.close()

    def _loop(self) -> None:
        next_flush = time.monotonic() + self.flush_s
        next_rotation = time.monotonic() + self.batch_s
        next_housekeeping = time.monotonic()
        while True:
            timeout = max(0.0, min(next_flush, next_rotation) - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            stopping, request = item is _STOP, item if isinstance(item, _Rotate) else None
            if isinstance(item, _Received):
                self._take(item)
            now = time.monotonic()
            rotating = stopping or request is not None or now >= next_rotation
            if rotating or now >= next_flush or len(self._acks) >= MAX_UNACKED:
                self._flush()
                next_flush = now + self.flush_s
            if rotating:
                landed = self.spool.rotate()
                if landed is not None:
                    self._landed(landed)
                next_rotation = now + self.batch_s
                if request is not None:
                    request.landed = landed
                    request.done.set()
            if stopping:
                return
            if now >= next_housekeeping:
                self._housekeeping()
                next_housekeeping = now + HOUSEKEEPING_S

    def _take(self, item: _Received) -> None:
        decoded = decode(item.topic, item.payload)
        if item.qos > 0:
            self._acks[(item.generation, item.mid)] = item.qos
        if decoded.identity in self.spool.seen:
            self.stats.duplicates += 1
            return
        self.spool.append(decoded.identity, decoded.lines)
        messages, lines = self._unsynced
        self._unsynced = (messages + 1, lines + len(decoded.lines))
        if decoded.lines and decoded.lines[0].startswith("{!"):
            self.stats.unreadable += 1
        if decoded.problems and self._problems_logged < 100:
            self._problems_logged += 1
            log.warning("%s: %s", item.topic[:200], "; ".join(decoded.problems))
        assert self._db is not None and self._owners is not None
        taken = self._twin.take(self._db, decoded, item.at, self._owners)
        if taken == "refused":
            self.stats.twin_refused += 1
        elif taken == "stale_death":
            self.stats.stale_deaths += 1

    def _flush(self) -> None:
        """fsync the journal, then acknowledge, then write the twin batch."""
        if self._acks or self._unsynced != (0, 0):
            self.spool.sync()
            if self.after_sync is not None:
                self.after_sync()
            self._send_acks()
            messages, lines = self._unsynced
            self.stats.messages_stored += messages
            self.stats.lines_spooled += lines
            self._unsynced = (0, 0)
            self.stats.flushes += 1
        assert self._owners is not None and self._db is not None
        self._owners.refresh()
        if len(self._twin):
            try:
                self.stats.twin_updates += self._twin.apply(self._db, self.on_ack)
            except sqlite3.Error:
                log.exception("the twin store could not be written; this batch of states is lost")
                self._twin = TwinBatch()

    def _record_ack(self, machine_id: str, _gateway: str, ack: dict, at: dt.datetime) -> None:
        assert self._db is not None
        try:
            status = record_ack(
                self._db,
                machine_id,
                str(ack.get("command_id") or ""),
                int(ack.get("version") or 0),
                str(ack.get("status") or ""),
                ack.get("reason"),
                at,
                detail={"detail": ack["detail"]} if ack.get("detail") else None,
            )
        except CommandRefused as exc:
            log.warning("ack of %s not recorded: %s", machine_id, exc)
            return
        log.info("command %s on %s: %s", status.command_id, machine_id, status.state)

    def _housekeeping(self) -> None:
        """Expire commands past their expiry; publish desired states an outage held back."""
        if self._db is None or self._client is None:
            return
        publisher = MqttDesiredPublisher(self._client, self.settings.mqtt_group)
        now = dt.datetime.now(dt.UTC)
        try:
            for status in expire_due(self._db, now, publisher):
                log.info("command %s on %s expired", status.command_id, status.machine_id)
            for machine_id in publish_unpublished(self._db, publisher, now):
                log.info("desired state of %s published after a delay", machine_id)
        except (sqlite3.Error, MqttError):
            log.exception("command housekeeping failed; it runs again in %.0f s", HOUSEKEEPING_S)

    def _send_acks(self) -> None:
        client, generation = self._client, self._generation
        for (gen, mid), qos in self._acks.items():
            # A packet id of an earlier connection may name another message now: the broker
            # delivers that message again on this connection, and it is acknowledged then.
            if client is not None and gen == generation:
                client.ack(mid, qos)
        self._acks = {}

    def _landed(self, path: Path) -> None:
        self.stats.files_landed += 1
        self.landed.append(path)
        self._problems_logged = 0
        log.info("landed %s", path)
