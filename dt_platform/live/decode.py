"""One MQTT message of the live line → the JSON Lines it lands as, and what it tells the twin.

Pure and bounded: a payload larger than :data:`topics.MAX_PAYLOAD_BYTES` is not parsed. Nothing
is dropped silently and nothing is judged twice: every sensor metric becomes one line of the
landing dump (``{"ts", "machine", "sensor", "value", "unit", "gateway"}``) and the loader decides
whether it is a reading or a reject, with its reason. The bridge only makes sure that a bad
message still reaches the loader as lines it rejects:

- a payload that cannot be read (too large, not UTF-8, not JSON, not an object, a key twice) is
  one line starting ``{!`` — never JSON, so the loader rejects it as ``malformed_line`` — with
  what was wrong, the topic and the payload's text escaped onto that one line (its first
  :data:`RAW_CHARS` characters);
- a payload without a ``metrics`` list, or a metric without name or value, is a line with the
  field missing (``missing_field``), its ``problem`` key saying what was wrong.

``machine`` and ``gateway`` always come from the topic, never from the payload; the loader
rejects a machine the registry assigns to another gateway (``wrong_gateway``).

A gateway's ``NBIRTH`` and ``NDEATH`` carry no readings, only Sparkplug B's ``bdSeq`` metric (a
whole number 0-255 naming the gateway's connection); a missing or bad one is a problem of the
message (an ``NBIRTH`` must have one), and :attr:`Decoded.bd_seq` is then ``None``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from dt_platform.live import topics
from dt_platform.live.twin_metrics import TwinMetricError, ack_document, reported_update

BD_SEQ_METRIC = "bdSeq"
RAW_CHARS = 1000
"""Characters of an unreadable payload kept on its line (a reject keeps the first 200)."""
MAX_VALUE_CHARS = 4096
"""A metric value given as text is cut here (no number is that long)."""
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class Decoded:
    """What one message carries."""

    identity: str
    """(gateway, machine, kind, payload timestamp, seq), or the topic and a hash of the payload
    when those are not readable: a redelivered copy has the same identity."""
    topic: topics.Topic | None
    lines: list[str] = field(default_factory=list)
    """JSON Lines for the landing dump (readings, and lines the loader will reject)."""
    readings: dict[str, list] = field(default_factory=dict)
    """Numeric sensor metrics, tag -> [value, unit], for the twin's last readings."""
    reading_ts: str | None = None
    reported: dict[str, Any] | None = None
    """``record_reported`` keyword arguments from a valid ``twin/reported`` metric."""
    acks: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Why parts of the message were refused (the twin metrics, a gateway's bdSeq; readings go
    to the loader)."""
    bd_seq: int | None = None
    """A gateway's ``NBIRTH`` / ``NDEATH``: its valid ``bdSeq`` metric (0-255), else ``None``."""


def decode(topic: str, payload: bytes) -> Decoded:
    """Decode one message received on ``topic`` (a subscription of the live line)."""
    parsed = topics.parse_topic(topic)
    fallback = f"{topic}#{hashlib.sha256(payload).hexdigest()[:24]}"
    if parsed is None:
        return _unreadable(fallback, None, topic, "topic outside the live line's convention", b"")
    if len(payload) > topics.MAX_PAYLOAD_BYTES:
        why = f"payload of {len(payload)} bytes refused (limit {topics.MAX_PAYLOAD_BYTES})"
        return _unreadable(fallback, parsed, topic, why, payload[:RAW_CHARS])
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _unreadable(fallback, parsed, topic, "payload is not UTF-8 text", payload)
    try:
        body = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        why = f"payload is not JSON ({_short(exc)})"
        return _unreadable(fallback, parsed, topic, why, payload)
    if not isinstance(body, dict):
        return _unreadable(fallback, parsed, topic, "payload is not a JSON object", payload)
    stamp, seq = body.get("timestamp"), body.get("seq")
    identity = fallback
    if _is_int(stamp) and _is_int(seq):
        identity = f"{parsed.gateway}/{parsed.machine or ''}/{parsed.kind}/{stamp}/{seq}"
    decoded = Decoded(identity, parsed)
    if parsed.kind in ("DBIRTH", "DDATA"):
        _device_metrics(decoded, body)
    elif parsed.kind in topics.NODE_TYPES:
        _node_metrics(decoded, body)
    return decoded


def _node_metrics(decoded: Decoded, body: dict) -> None:
    """A gateway's birth or death: its ``bdSeq``, which also joins the message's identity (the
    wills of two connections may carry the same timestamp and seq)."""
    assert decoded.topic is not None
    kind, metrics = decoded.topic.kind, body.get("metrics")
    if not isinstance(metrics, list):
        decoded.problems.append(f"{kind}: the payload has no metrics list")
        return
    values = [
        m.get("value") for m in metrics if isinstance(m, dict) and m.get("name") == BD_SEQ_METRIC
    ]
    if not values:
        if kind == "NBIRTH":
            decoded.problems.append(f"NBIRTH has no {BD_SEQ_METRIC} metric")
        return
    if len(values) > 1:
        decoded.problems.append(f"{kind}: {BD_SEQ_METRIC} appears {len(values)} times")
        return
    value = values[0]
    if not _is_int(value) or not 0 <= value <= 255:
        shown = json.dumps(_capped(value), ensure_ascii=False)[:64]
        decoded.problems.append(f"{kind}: {BD_SEQ_METRIC} {shown} is not a whole number 0-255")
        return
    decoded.bd_seq = value
    decoded.identity = f"{decoded.identity}/bd{value}"


def _device_metrics(decoded: Decoded, body: dict) -> None:
    """A machine's metrics: readings become lines, twin metrics the twin's updates."""
    metrics = body.get("metrics")
    payload_ts = body.get("timestamp")
    if not isinstance(metrics, list):
        decoded.lines.append(
            _line(decoded, payload_ts, None, None, None, "the payload has no metrics list")
        )
        return
    for index, metric in enumerate(metrics):
        if not isinstance(metric, dict):
            decoded.lines.append(
                _line(decoded, payload_ts, None, None, None, f"metric {index} is not an object")
            )
            continue
        name, value = metric.get("name"), metric.get("value")
        if isinstance(name, str) and name.startswith(topics.TWIN_PREFIX):
            _twin_metric(decoded, name, value)
            continue
        ts = metric.get("timestamp", payload_ts)
        missing = [k for k, v in (("name", name), ("value", value)) if v is None]
        problem = f"metric {index} has no {' and no '.join(missing)}" if missing else None
        line = _line(decoded, ts, name, value, metric.get("unit"), problem)
        decoded.lines.append(line)
        if isinstance(name, str) and _is_number(value):
            decoded.readings[name] = [value, metric.get("unit")]
            iso = _iso(ts)
            if iso is not None and (decoded.reading_ts is None or iso > decoded.reading_ts):
                decoded.reading_ts = iso


def _twin_metric(decoded: Decoded, name: str, value: Any) -> None:
    try:
        if name == topics.REPORTED_METRIC:
            decoded.reported = reported_update(value)
        elif name == topics.ACK_METRIC:
            decoded.acks.append(ack_document(value))
        else:
            decoded.problems.append(f"unknown twin metric {name[:64]!r}")
    except TwinMetricError as exc:
        decoded.problems.append(f"{name}: {exc}")


def _line(decoded: Decoded, ts: Any, sensor: Any, value: Any, unit: Any, problem: str | None):
    assert decoded.topic is not None
    row = {
        "ts": _ts_text(ts),
        "machine": decoded.topic.machine,
        "sensor": sensor,
        "value": _capped(value),
        "unit": unit,
        "gateway": decoded.topic.gateway,
    }
    if problem:
        row["problem"] = problem
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _unreadable(
    identity: str, parsed: topics.Topic | None, topic: str, why: str, raw: bytes
) -> Decoded:
    text = raw.decode("utf-8", "backslashreplace")[:RAW_CHARS]
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    where = json.dumps(topic[:300], ensure_ascii=False)[1:-1]
    return Decoded(identity, parsed, lines=[f"{{!{why} on {where}: {escaped}"], problems=[why])


def _ts_text(ts: Any) -> str | None:
    """An ISO 8601 UTC text for a time in ms; a value that is not a number keeps its JSON text,
    which the loader rejects as a timestamp it cannot parse."""
    if ts is None:
        return None
    iso = _iso(ts)
    return iso if iso is not None else json.dumps(ts)[:200]


def _iso(ms: Any) -> str | None:
    if not _is_number(ms):
        return None
    try:
        stamp = _EPOCH + dt.timedelta(milliseconds=ms)
    except OverflowError:
        return None
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _capped(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return f"{value[:MAX_VALUE_CHARS]}…(+{len(value) - MAX_VALUE_CHARS} chars)"
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice in one object")
    return dict(pairs)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__)[:120]
