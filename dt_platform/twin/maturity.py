"""The maturity level a twin has earned, from what actually runs (DESIGN §8: earned, not declared).

Levels are cumulative; each needs the one below it, so a twin whose data stop drops back:

1. **digital model** — the machine is in the registry;
2. **digital shadow** — data arrive by themselves: readings delivered by a gateway or the live
   stream (a landing folder, not a file dropped by hand) within ``freshness_h`` of the as-of time;
3. **digital twin** — state both ways within ``period_days``: live data (the machine's reported
   state seen, or its telemetry landed by the MQTT bridge) *and* a command acknowledged by the
   machine as ``applied`` or ``rejected``;
4. **intelligent twin** — within the period, predictions *and* decisions that are acted on: a
   decision that led to a command the machine applied.

:func:`assess` is pure: it takes a machine's :class:`MachineFacts` (gathered by
:mod:`dt_platform.twin.maturity_evidence`), the as-of time and the :class:`Windows`, and returns
the level with an evidence document listing, per level, what was seen (counts, timestamps, ids)
and what is missing. The document's canonical JSON (the snapshot's leaf encoding, so keys sorted,
timestamps in UTC with microseconds) and its sha256 are what the warehouse keeps, the content
store publishes and the ``TwinRegistry`` contract points to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from dt_platform.trust.snapshot.encoding import canonical_value, format_timestamp

FORMAT = "dt-twin-maturity/1"
LEVELS = {1: "digital model", 2: "digital shadow", 3: "digital twin", 4: "intelligent twin"}
"""The levels, as the ``TwinRegistry`` contract numbers them."""
PERIOD_DAYS = 7.0
"""How far back commands, predictions and decisions count (a week of operation)."""
LISTED = 5
"""Ids listed per kind of evidence (the counts cover all of them)."""
ACK_FINAL = ("applied", "rejected")


@dataclass(frozen=True)
class Windows:
    """How recent evidence must be: data for the shadow, everything else for levels 3 and 4."""

    freshness_h: float = 26.0
    period_days: float = PERIOD_DAYS

    def __post_init__(self) -> None:
        if not (self.freshness_h > 0 and self.period_days > 0):
            raise ValueError("the maturity windows must be positive")


@dataclass(frozen=True)
class ShadowFacts:
    """Readings from gateway or stream files with a timestamp in ``(as_of - freshness, as_of]``."""

    readings: int = 0
    files: int = 0
    gateways: tuple[str, ...] = ()
    last_reading_at: dt.datetime | None = None
    last_landed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Ack:
    """A machine's final acknowledgement of a command (``applied`` or ``rejected``)."""

    command_id: str
    action: str
    status: str
    at: dt.datetime


@dataclass(frozen=True)
class LiveFacts:
    """What the machine said over the live line, and the commands it acknowledged."""

    reported_seen_at: dt.datetime | None = None
    """The twin store's last sighting of the machine (only while the day is running: the store
    keeps no history, so a closed day is judged from the stream files and the acks alone)."""
    online: bool | None = None
    stream_readings: int = 0
    """Readings landed by the MQTT bridge (``landing/stream``) within the period."""
    stream_last_reading_at: dt.datetime | None = None
    acks: tuple[Ack, ...] = ()


@dataclass(frozen=True)
class DecisionFact:
    """A decision of the policy and, if it led to a command the machine applied, when."""

    ts: dt.datetime
    action: str
    status: str
    command_id: str | None = None
    applied_at: dt.datetime | None = None


@dataclass(frozen=True)
class IntelligenceFacts:
    predictions: int = 0
    last_prediction_at: dt.datetime | None = None
    model_versions: tuple[str, ...] = ()
    decisions_unavailable: str | None = None
    """Why decisions cannot be read (e.g. no ``decisions`` table yet); ``None`` when they can."""
    decisions: tuple[DecisionFact, ...] = ()


@dataclass(frozen=True)
class MachineFacts:
    machine_id: str
    machine_type: str
    active: bool = True
    shadow: ShadowFacts = field(default_factory=ShadowFacts)
    live: LiveFacts = field(default_factory=LiveFacts)
    intelligence: IntelligenceFacts = field(default_factory=IntelligenceFacts)


@dataclass(frozen=True)
class Assessment:
    """One machine's level with its evidence document, canonical JSON and sha256."""

    machine_id: str
    machine_type: str
    level: int
    document: dict[str, Any]
    evidence_json: str
    evidence_sha256: str

    @property
    def level_name(self) -> str:
        return LEVELS[self.level]

    @property
    def missing(self) -> list[str]:
        """What the next level still needs (empty at the top)."""
        nxt = self.document["next"]
        return list(nxt["missing"]) if nxt else []


def canonical_evidence(document: dict[str, Any]) -> str:
    """The document's canonical JSON text (see :mod:`dt_platform.trust.snapshot.encoding`)."""
    return canonical_value(document)


def evidence_sha256(evidence_json: str) -> str:
    return hashlib.sha256(evidence_json.encode("utf-8")).hexdigest()


def _utc(ts: dt.datetime) -> dt.datetime:
    if ts.tzinfo is None:
        raise ValueError("maturity times must be timezone-aware (UTC)")
    return ts.astimezone(dt.UTC)


def _within(ts: dt.datetime | None, start: dt.datetime, as_of: dt.datetime) -> bool:
    return ts is not None and start < _utc(ts) <= as_of


def _when(ts: dt.datetime | None) -> str:
    return format_timestamp(_utc(ts)) if ts is not None else "never"


def _shadow(f: ShadowFacts, as_of: dt.datetime, w: Windows) -> tuple[dict, list[str]]:
    start = as_of - dt.timedelta(hours=w.freshness_h)
    evidence = {
        "readings": f.readings,
        "files": f.files,
        "gateways": sorted(f.gateways)[: LISTED * 2],
        "last_reading_at": f.last_reading_at,
        "last_landed_at": f.last_landed_at,
    }
    if f.readings > 0 and _within(f.last_reading_at, start, as_of):
        return evidence, []
    return evidence, [
        f"a reading delivered by a gateway or the live stream within {w.freshness_h:g} h "
        f"(last: {_when(f.last_reading_at)})"
    ]


def _live(f: LiveFacts, as_of: dt.datetime, w: Windows) -> tuple[dict, list[str]]:
    start = as_of - dt.timedelta(days=w.period_days)
    acks = sorted(
        (a for a in f.acks if a.status in ACK_FINAL and _within(a.at, start, as_of)),
        key=lambda a: (_utc(a.at), a.command_id),
        reverse=True,
    )
    reported = _within(f.reported_seen_at, start, as_of)
    streamed = f.stream_readings > 0 and _within(f.stream_last_reading_at, start, as_of)
    evidence = {
        "reported_seen_at": f.reported_seen_at if reported else None,
        "online": f.online if reported else None,
        "stream_readings": f.stream_readings if streamed else 0,
        "stream_last_reading_at": f.stream_last_reading_at if streamed else None,
        "acks": len(acks),
        "applied": sum(a.status == "applied" for a in acks),
        "rejected": sum(a.status == "rejected" for a in acks),
        "last_acks": [
            {"command_id": a.command_id, "action": a.action, "status": a.status, "at": a.at}
            for a in acks[:LISTED]
        ],
    }
    missing = []
    if not (reported or streamed):
        missing.append(
            f"live data within {w.period_days:g} days: the machine's reported state or its "
            f"telemetry over the live line (last: {_when(f.stream_last_reading_at)})"
        )
    if not acks:
        missing.append(
            f"a command acknowledged (applied or rejected) by the machine within "
            f"{w.period_days:g} days"
        )
    return evidence, missing


def _intelligence(f: IntelligenceFacts, as_of: dt.datetime, w: Windows) -> tuple[dict, list[str]]:
    start = as_of - dt.timedelta(days=w.period_days)
    predicted = f.predictions > 0 and _within(f.last_prediction_at, start, as_of)
    recent = [d for d in f.decisions if _within(d.ts, start, as_of)]
    acted = sorted(
        (d for d in f.decisions if d.command_id and _within(d.applied_at, start, as_of)),
        key=lambda d: (_utc(d.ts), d.command_id or ""),
        reverse=True,
    )
    statuses: dict[str, int] = {}
    for d in recent:
        statuses[d.status] = statuses.get(d.status, 0) + 1
    evidence = {
        "predictions": f.predictions if predicted else 0,
        "last_prediction_at": f.last_prediction_at if predicted else None,
        "model_versions": sorted(f.model_versions)[:LISTED] if predicted else [],
        "decisions_unavailable": f.decisions_unavailable,
        "decisions": len(recent),
        "decisions_by_status": statuses,
        "acted_on": len(acted),
        "last_acted_on": [
            {"ts": d.ts, "action": d.action, "command_id": d.command_id, "applied_at": d.applied_at}
            for d in acted[:LISTED]
        ],
    }
    missing = []
    if not predicted:
        missing.append(f"a RUL prediction within {w.period_days:g} days")
    if f.decisions_unavailable:
        missing.append(f"decisions of the policy: {f.decisions_unavailable}")
    else:
        if not recent:
            missing.append(f"a decision of the policy within {w.period_days:g} days")
        if not acted:
            missing.append(
                f"a decision acted on: one that led to a command the machine applied within "
                f"{w.period_days:g} days"
            )
    return evidence, missing


def assess(facts: MachineFacts, as_of: dt.datetime, windows: Windows | None = None) -> Assessment:
    """The level ``facts`` earn at ``as_of``, with the evidence of every level."""
    w = windows or Windows()
    as_of = _utc(as_of)
    checks = [
        ({"registered": True, "active": facts.active}, []),
        _shadow(facts.shadow, as_of, w),
        _live(facts.live, as_of, w),
        _intelligence(facts.intelligence, as_of, w),
    ]
    level = 0
    for evidence_missing in checks:
        if evidence_missing[1]:
            break
        level += 1
    levels = [
        {"level": n, "name": LEVELS[n], "met": not missing, "evidence": ev, "missing": missing}
        for n, (ev, missing) in enumerate(checks, start=1)
    ]
    nxt = None
    if level < len(LEVELS):
        nxt = {"level": level + 1, "name": LEVELS[level + 1], "missing": checks[level][1]}
    document = {
        "format": FORMAT,
        "machine_id": facts.machine_id,
        "machine_type": facts.machine_type,
        "as_of": as_of,
        "windows": {"freshness_h": float(w.freshness_h), "period_days": float(w.period_days)},
        "level": level,
        "level_name": LEVELS[level],
        "levels": levels,
        "next": nxt,
    }
    text = canonical_evidence(document)
    return Assessment(
        facts.machine_id, facts.machine_type, level, document, text, evidence_sha256(text)
    )
