"""Topic and payload convention of the live line: the Sparkplug B namespace with JSON payloads.

Why Sparkplug B: it is the convention industrial gateways already speak. Its topic carries the
*edge node* (our gateway) that owns the connection, so the broker's ACL can bind a gateway's
credentials to its own subtree (``%u`` in Mosquitto's patterns); its BIRTH/DEATH messages with the
MQTT last will say when a machine or a whole gateway goes offline; every payload carries a
``timestamp`` and a ``seq``, which the bridge uses to drop a redelivered message.

Two deliberate deviations, both because the platform is a twin and not only a historian:

- payloads are JSON with Sparkplug B's field names (``timestamp`` in ms, ``seq``, ``metrics`` of
  ``name`` / ``value`` / ``timestamp``), plus a ``unit`` per metric, instead of protobuf: readable
  with ``mosquitto_sub`` and checked by the same rules as a JSON Lines dump;
- ``DCMD`` carries the machine's *desired state* (device-shadow style, as in Eclipse Ditto or AWS
  IoT) and is **retained**, so a machine that was offline finds it when it reconnects. Sparkplug
  sends commands unretained; a desired state is a document, not a one-shot message.

::

    spBv1.0/<group>/NBIRTH/<gateway>            gateway online; metric bdSeq (its connection)
    spBv1.0/<group>/NDEATH/<gateway>            gateway offline (its MQTT last will; same bdSeq)
    spBv1.0/<group>/DBIRTH/<gateway>/<machine>  machine online; metrics: readings + twin/reported
    spBv1.0/<group>/DDEATH/<gateway>/<machine>  machine offline
    spBv1.0/<group>/DDATA/<gateway>/<machine>   readings (QoS 1); twin/reported, twin/ack metrics
    spBv1.0/<group>/DCMD/<gateway>/<machine>    desired state, retained, written by the platform only

``bdSeq`` (0-255) numbers a gateway's connections: the NBIRTH sent on a connection and the
NDEATH registered as its last will carry the same value, the next connection the next one. An
NDEATH whose ``bdSeq`` is not that of the gateway's latest NBIRTH is an older connection's will
arriving late, and the bridge ignores it (Sparkplug B 3.0's rule for host applications).

Metrics whose name starts with ``twin/`` are the twin's own (reported state, command
acknowledgements); every other metric is a sensor reading named by its catalogue tag.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

NAMESPACE = "spBv1.0"
NODE_TYPES = ("NBIRTH", "NDEATH")
DEVICE_TYPES = ("DBIRTH", "DDEATH", "DDATA", "DCMD")
TWIN_PREFIX = "twin/"
REPORTED_METRIC = "twin/reported"
ACK_METRIC = "twin/ack"
MAX_PAYLOAD_BYTES = 256 * 1024
"""A message larger than this is not read (the broker is configured with the same limit)."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def valid_id(text: str) -> bool:
    """A group, gateway or machine id usable as one topic level (no ``/``, ``+``, ``#``)."""
    return bool(_ID.match(text))


def _check(*ids: str) -> None:
    for part in ids:
        if not valid_id(part):
            raise ValueError(f"{part!r} cannot be a topic level (letters, digits, _ . - only)")


def node_topic(group: str, kind: str, gateway: str) -> str:
    if kind not in NODE_TYPES:
        raise ValueError(f"unknown node message type {kind!r}")
    _check(group, gateway)
    return f"{NAMESPACE}/{group}/{kind}/{gateway}"


def device_topic(group: str, kind: str, gateway: str, machine: str) -> str:
    if kind not in DEVICE_TYPES:
        raise ValueError(f"unknown device message type {kind!r}")
    _check(group, gateway, machine)
    return f"{NAMESPACE}/{group}/{kind}/{gateway}/{machine}"


def subscription(group: str, kind: str, gateway: str = "+", machine: str | None = "+") -> str:
    """A subscription filter, e.g. every machine's DDATA of the group."""
    tail = "" if machine is None else f"/{machine}"
    return f"{NAMESPACE}/{group}/{kind}/{gateway}{tail}"


@dataclass(frozen=True)
class Topic:
    group: str
    kind: str
    gateway: str
    machine: str | None


def parse_topic(topic: str) -> Topic | None:
    """The parts of a topic of this convention, or ``None`` for any other topic."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        return None
    _, group, kind, gateway, *rest = parts
    machine = rest[0] if rest else None
    if (machine is None) != (kind in NODE_TYPES) or kind not in NODE_TYPES + DEVICE_TYPES:
        return None
    if not all(valid_id(p) for p in (group, gateway, *([machine] if machine else []))):
        return None
    return Topic(group, kind, gateway, machine)


def encode(timestamp_ms: int, seq: int, metrics: list[dict[str, Any]], **extra: Any) -> bytes:
    """A payload: ``{"timestamp", "seq", "metrics", ...extra}`` as compact UTF-8 JSON."""
    body = {"timestamp": int(timestamp_ms), "seq": int(seq) % 256, "metrics": metrics, **extra}
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")


def metric(name: str, value: Any, unit: str | None = None, timestamp_ms: int | None = None):
    """One metric; ``unit`` for sensor readings, ``timestamp`` when it differs from the
    payload's."""
    m: dict[str, Any] = {"name": name, "value": value}
    if unit is not None:
        m["unit"] = unit
    if timestamp_ms is not None:
        m["timestamp"] = int(timestamp_ms)
    return m
