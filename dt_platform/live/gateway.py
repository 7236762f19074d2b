"""One gateway of the live line: its own MQTT connection, births and deaths, readings up,
desired states down.

The gateway connects as its own user with NDEATH as last will, announces itself (NBIRTH) and
subscribes to its machines' retained desired states (``DCMD/<gw>/+``, QoS 1); received documents
go to the line's inbox, which the line's loop handles (so machine state has one owner). Every
message goes out with QoS 1; :attr:`acked` counts those the broker confirmed (PUBACK).

``bdSeq`` (Sparkplug B's birth/death sequence) counts connection attempts: the last will of
attempt *k* and the NBIRTH sent on it carry the same value, so the bridge can tell the will of an
older connection from that of the current one. paho reconnects by itself and sends the will it
was given before connecting; :meth:`Gateway._next_connection` (paho's ``on_pre_connect``) sets
the next value and the will that carries it before each reconnection attempt.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from dataclasses import dataclass

import numpy as np

from dt_platform.catalog import MACHINE_TYPES, QUANTITIES
from dt_platform.config import Settings
from dt_platform.live import mqtt, topics
from dt_platform.live.machine import LiveMachine
from dt_platform.sim.gateways import GATEWAYS


@dataclass(frozen=True)
class _Format:
    """How this gateway sends one sensor: its unit (the batch gateway's), scale and decimals."""

    tag: str
    unit: str
    scale: float
    offset: float
    decimals: int


def sensor_formats(machine: LiveMachine, gateway: str) -> list[_Format]:
    """Units as the batch gateway of that name sends them (gw-mqtt: °F), else canonical."""
    gw = next((g for g in GATEWAYS if g.name == gateway), None)
    mtype = MACHINE_TYPES[machine.model.type_name]
    out = []
    for spec in machine.model.sensors:
        sensor = mtype.sensor_by_tag(spec.tag)
        unit = gw.unit_for(sensor) if gw is not None else sensor.unit
        scale, offset = QUANTITIES[sensor.quantity].conversions[unit]
        decimals = max(0, spec.decimals + round(float(np.log10(scale))))
        out.append(_Format(spec.tag, unit, scale, offset, decimals))
    return out


def reading_metrics(formats: list[_Format], row: np.ndarray) -> list[dict]:
    """The sensor metrics of one instant (a NaN is a sensor that sent nothing)."""
    out = []
    for f, v in zip(formats, row, strict=True):
        if np.isfinite(v):
            out.append(
                topics.metric(
                    f.tag, round((float(v) - f.offset) / f.scale, f.decimals) + 0.0, f.unit
                )
            )
    return out


class Gateway:
    """The MQTT side of one gateway. Publishing is for the line's loop thread only."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        password: str,
        inbox: queue.Queue,
        client_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.password = password
        self.group = settings.mqtt_group
        self.client_id = client_id or f"{name}-line"
        self.inbox = inbox
        self.client = None
        self.bd_seq = -1
        self.t_ms = 0
        """The time of the latest message sent (the timestamp of a will set on reconnecting)."""
        self.seq = 0
        self.sent = 0
        self.acked = 0
        self.readings_sent = 0
        self.readings_acked = 0
        self.reconnected = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self._early: set[int] = set()

    # --- connection ----------------------------------------------------------------------------
    def open(self, t_ms: int) -> None:
        """Connect (NDEATH as last will), subscribe to DCMD, publish NBIRTH."""
        self.bd_seq += 1
        self.t_ms = t_ms
        will = (self._node("NDEATH"), self._node_payload(t_ms, 0))
        self.client = mqtt.connect(
            self.settings, self.client_id, self.name, self.password, will=will
        )
        self.client.reconnect_delay_set(0.2, 5)
        self.client.on_pre_connect = self._next_connection
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_connect = self._on_reconnect
        self._subscribe_and_birth(t_ms)

    def _subscribe_and_birth(self, t_ms: int) -> None:
        self.client.subscribe(topics.subscription(self.group, "DCMD", self.name), qos=1)
        self.seq = 0
        self.t_ms = t_ms
        self._send(self._node("NBIRTH"), self._node_payload(t_ms, 0))

    def rebirth(self, t_ms: int) -> None:
        """After the client reconnected by itself: subscriptions and NBIRTH again (the broker
        published our NDEATH; the line then sends every online machine's DBIRTH)."""
        self.reconnected.clear()
        self._subscribe_and_birth(t_ms)

    def drop(self) -> None:
        """Lose the connection abruptly (no DISCONNECT): the broker publishes the last will.
        paho reconnects by itself; :attr:`reconnected` is set when it did."""
        sock = self.client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self, t_ms: int, online: list[str], timeout: float = 5.0) -> None:
        """Graceful goodbye: DDEATH of every online machine, NDEATH, wait for the PUBACKs."""
        if self.client is None:
            return
        for machine_id in online:
            self.death(machine_id, t_ms)
        self._send(self._node("NDEATH"), self._node_payload(t_ms, self.seq))
        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()
        self.client = None

    # --- messages ------------------------------------------------------------------------------
    def birth(self, machine_id: str, t_ms: int, metrics: list[dict], readings: int) -> None:
        self._send(self._device("DBIRTH", machine_id), self._payload(t_ms, metrics), readings)

    def death(self, machine_id: str, t_ms: int) -> None:
        self._send(self._device("DDEATH", machine_id), self._payload(t_ms, []))

    def data(self, machine_id: str, t_ms: int, metrics: list[dict], readings: int) -> None:
        self._send(self._device("DDATA", machine_id), self._payload(t_ms, metrics), readings)

    def _node(self, kind: str) -> str:
        return topics.node_topic(self.group, kind, self.name)

    def _device(self, kind: str, machine_id: str) -> str:
        return topics.device_topic(self.group, kind, self.name, machine_id)

    def _node_payload(self, t_ms: int, seq: int) -> bytes:
        return topics.encode(t_ms, seq, [topics.metric("bdSeq", self.bd_seq % 256)])

    def _payload(self, t_ms: int, metrics: list[dict]) -> bytes:
        self.seq = (self.seq + 1) % 256
        self.t_ms = max(self.t_ms, t_ms)
        return topics.encode(t_ms, self.seq, metrics)

    def _send(self, topic: str, payload: bytes, readings: int = 0) -> None:
        info = self.client.publish(topic, payload, qos=1)
        self.sent += 1
        self.readings_sent += readings
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                self.acked += 1
                self.readings_acked += readings
            else:
                self._pending[info.mid] = readings

    # --- callbacks (paho's network thread) ------------------------------------------------------
    def _on_publish(self, _client, _userdata, mid, _rc, _props) -> None:
        with self._lock:
            readings = self._pending.pop(mid, None)
            if readings is None:
                self._early.add(mid)
                return
            self.acked += 1
            self.readings_acked += readings

    def _on_message(self, _client, _userdata, message) -> None:
        parsed = topics.parse_topic(message.topic)
        if parsed is None or parsed.kind != "DCMD" or parsed.gateway != self.name:
            return
        if len(message.payload) > topics.MAX_PAYLOAD_BYTES:
            return
        self.inbox.put((self.name, parsed.machine, bytes(message.payload)))

    def _next_connection(self, client, _userdata) -> None:
        """Before paho's reconnection attempt: the next bdSeq, and the will that carries it (the
        NBIRTH of :meth:`rebirth` then carries it too)."""
        self.bd_seq += 1
        client.will_set(self._node("NDEATH"), self._node_payload(self.t_ms, 0), qos=1, retain=False)

    def _on_reconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        if not getattr(reason_code, "is_failure", False):
            self.reconnected.set()
