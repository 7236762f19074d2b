"""The platform's production plan: when machines produce (shifts), when they are planned to stand
(weekly planned stops, dated shutdowns) and when a customer order runs. The decision policy asks
it how many producing hours lie between two times and when the next planned stop is.

Default (the plant's own local time, UTC+08:00 like the simulated line): two shifts, early
06:00-14:00 and late 14:00-22:00, Monday to Saturday; a planned stop every Sunday 00:00-24:00.
Maintenance crews work the shifts and staff the planned stops.

``DT_HOME/production_plan.yaml`` (optional) replaces it::

    utc_offset_h: 8
    shifts:
      - {name: early, start: "06:00", end: "14:00", days: [Mon, Tue, Wed, Thu, Fri, Sat]}
      - {name: night, start: "22:00", end: "06:00", days: [Mon, Tue, Wed, Thu, Fri]}
    planned_stops:
      - {day: Sun, start: "00:00", hours: 24}
    extra_stops:            # dated shutdowns (ISO times; machines: optional, default all)
      - {start: "2026-05-01T00:00:00+08:00", end: "2026-05-03T00:00:00+08:00"}
    customer_orders:        # no production stop during these if the MANAGER's limits say so
      - {start: "2026-03-02T06:00:00+08:00", end: "2026-03-04T22:00:00+08:00", machines: [CNC-01]}
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dt_platform.twin.costs import PolicyConfigError, read_config_yaml

__all__ = ["ProductionPlan", "Shift", "WeeklyStop", "Window", "load_plan"]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_SPAN_DAYS = 400
"""Longest span the plan is asked about (bounds the work of a hostile query)."""
STOP_LOOKAHEAD_DAYS = 120
MAX_ENTRIES = 500

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Shift:
    """A producing shift on the given weekdays (0 = Monday), local hours; an ``end_h`` at or
    before ``start_h`` runs past midnight."""

    name: str
    start_h: float
    end_h: float
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class WeeklyStop:
    """A planned stop every week: weekday (0 = Monday), local start hour, duration."""

    day: int
    start_h: float
    hours: float


@dataclass(frozen=True)
class Window:
    """A dated interval (aware times); ``machines`` empty = every machine."""

    start: dt.datetime
    end: dt.datetime
    machines: tuple[str, ...] = ()

    def applies(self, machine_id: str | None) -> bool:
        return not self.machines or machine_id is None or machine_id in self.machines


DEFAULT_SHIFTS = (Shift("early", 6.0, 14.0), Shift("late", 14.0, 22.0))


def _merge(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(base: list[Interval], cut: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in base:
        pieces = [(a, b)]
        for c, d in cut:
            pieces = [p for x, y in pieces for p in ((x, min(y, c)), (max(x, d), y)) if p[1] > p[0]]
        out.extend(pieces)
    return out


def _hours(intervals: list[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals) / 3600.0


@dataclass(frozen=True)
class ProductionPlan:
    """Shifts, planned stops and customer orders of the plant (see the module docstring)."""

    utc_offset_h: float = 8.0
    shifts: tuple[Shift, ...] = DEFAULT_SHIFTS
    weekly_stops: tuple[WeeklyStop, ...] = (WeeklyStop(6, 0.0, 24.0),)
    extra_stops: tuple[Window, ...] = ()
    customer_orders: tuple[Window, ...] = field(default=())

    @property
    def tz(self) -> dt.timezone:
        return dt.timezone(dt.timedelta(hours=self.utc_offset_h))

    def _days(self, a: dt.datetime, b: dt.datetime) -> list[dt.datetime]:
        """Local midnights from the day before ``a`` to the day of ``b``."""
        if a.tzinfo is None or b.tzinfo is None:
            raise ValueError("plan times must be timezone-aware")
        if (b - a).days > MAX_SPAN_DAYS:
            raise ValueError(f"the plan is asked about at most {MAX_SPAN_DAYS} days at once")
        first = dt.datetime.combine(a.astimezone(self.tz).date(), dt.time(), self.tz)
        first -= dt.timedelta(days=1)
        n = (b.astimezone(self.tz).date() - first.date()).days + 1
        return [first + dt.timedelta(days=i) for i in range(max(n, 0))]

    def stop_windows(
        self, a: dt.datetime, b: dt.datetime, machine_id: str | None = None
    ) -> list[Interval]:
        """Planned stops overlapping [a, b), merged (whole windows, not clipped)."""
        found = [
            (d + dt.timedelta(hours=s.start_h), d + dt.timedelta(hours=s.start_h + s.hours))
            for d in self._days(a, b)
            for s in self.weekly_stops
            if d.weekday() == s.day
        ]
        found += [(w.start, w.end) for w in self.extra_stops if w.applies(machine_id)]
        return [(x, y) for x, y in _merge(found) if y > a and x < b]

    def producing(
        self, a: dt.datetime, b: dt.datetime, machine_id: str | None = None
    ) -> list[Interval]:
        """Producing intervals within [a, b): shifts minus planned stops."""
        if b <= a:
            return []
        spans = []
        for d in self._days(a, b):
            for s in self.shifts:
                if d.weekday() in s.days:
                    end_h = s.end_h if s.end_h > s.start_h else s.end_h + 24.0
                    spans.append((d + dt.timedelta(hours=s.start_h), d + dt.timedelta(hours=end_h)))
        clipped = [(max(x, a), min(y, b)) for x, y in _merge(spans)]
        return _subtract([c for c in clipped if c[1] > c[0]], self.stop_windows(a, b, machine_id))

    def producing_hours(
        self, a: dt.datetime, b: dt.datetime, machine_id: str | None = None
    ) -> float:
        return _hours(self.producing(a, b, machine_id))

    def producing_fraction(self) -> float:
        """Share of a week's hours that are producing."""
        start = dt.datetime(2026, 1, 5, tzinfo=self.tz)  # a Monday
        return self.producing_hours(start, start + dt.timedelta(days=7)) / 168.0

    def next_stops(
        self, after: dt.datetime, min_hours: float = 0.0, machine_id: str | None = None,
        count: int = 2,
    ) -> list[Interval]:  # fmt: skip
        """The next ``count`` planned stops with at least ``min_hours`` left after ``after``:
        (first usable time, end); a stop under way counts from ``after``."""
        out: list[Interval] = []
        horizon = after + dt.timedelta(days=STOP_LOOKAHEAD_DAYS)
        for x, y in self.stop_windows(after, horizon, machine_id):
            start = max(x, after)
            if (y - start).total_seconds() / 3600.0 >= min_hours - 1e-9:
                out.append((start, y))
                if len(out) == count:
                    break
        return out

    def next_shift_start(self, after: dt.datetime) -> dt.datetime | None:
        """When the next shift (a fresh crew) starts after ``after``, within two weeks."""
        starts = [
            d + dt.timedelta(hours=s.start_h)
            for d in self._days(after, after + dt.timedelta(days=14))
            for s in self.shifts
            if d.weekday() in s.days
        ]
        later = [t for t in starts if t > after]
        return min(later) if later else None

    def in_customer_order(self, machine_id: str, at: dt.datetime) -> bool:
        return any(w.applies(machine_id) and w.start <= at < w.end for w in self.customer_orders)

    def to_dict(self) -> dict[str, Any]:
        def hhmm(h: float) -> str:
            return f"{int(h) % 24:02d}:{round((h % 1) * 60):02d}"

        def window(w: Window) -> dict[str, Any]:
            doc: dict[str, Any] = {"start": w.start.isoformat(), "end": w.end.isoformat()}
            return doc | ({"machines": list(w.machines)} if w.machines else {})

        return {
            "utc_offset_h": self.utc_offset_h,
            "shifts": [
                {
                    "name": s.name,
                    "start": hhmm(s.start_h),
                    "end": hhmm(s.end_h),
                    "days": [WEEKDAYS[d] for d in s.days],
                }
                for s in self.shifts
            ],
            "planned_stops": [
                {"day": WEEKDAYS[s.day], "start": hhmm(s.start_h), "hours": s.hours}
                for s in self.weekly_stops
            ],
            "extra_stops": [window(w) for w in self.extra_stops],
            "customer_orders": [window(w) for w in self.customer_orders],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ProductionPlan:
        known = {"utc_offset_h", "shifts", "planned_stops", "extra_stops", "customer_orders"}
        if not isinstance(doc, dict) or set(doc) - known:
            raise PolicyConfigError(f"a production plan has only the keys {sorted(known)}")
        offset = doc.get("utc_offset_h", 8.0)
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float)
            or not -14 <= offset <= 14
        ):
            raise PolicyConfigError(f"utc_offset_h must be between -14 and 14, not {offset!r}")
        shifts = tuple(_shift(s) for s in _entries(doc, "shifts", None))
        stops = tuple(_weekly(s) for s in _entries(doc, "planned_stops", None))
        return cls(
            utc_offset_h=float(offset),
            shifts=shifts if "shifts" in doc else DEFAULT_SHIFTS,
            weekly_stops=stops if "planned_stops" in doc else cls.weekly_stops,
            extra_stops=tuple(_window(w) for w in _entries(doc, "extra_stops", None)),
            customer_orders=tuple(_window(w) for w in _entries(doc, "customer_orders", None)),
        )


def _entries(doc: dict, key: str, default: Any) -> list:
    value = doc.get(key) or []
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise PolicyConfigError(f"{key}: a list of at most {MAX_ENTRIES} entries")
    return value


def _clock(text: Any, what: str) -> float:
    try:
        h, m = str(text).split(":")
        hours = int(h) + int(m) / 60.0
    except ValueError:
        raise PolicyConfigError(f"{what}: a time is HH:MM, not {text!r}") from None
    if not 0 <= hours <= 24:
        raise PolicyConfigError(f"{what}: {text!r} is not a time of day")
    return hours


def _day(text: Any, what: str) -> int:
    if text not in WEEKDAYS:
        raise PolicyConfigError(f"{what}: a day is one of {', '.join(WEEKDAYS)}, not {text!r}")
    return WEEKDAYS.index(text)


def _shift(doc: Any) -> Shift:
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"a shift is a mapping (name, start, end, days), not {doc!r}")
    name = str(doc.get("name", "shift"))[:40]
    days = doc.get("days", list(WEEKDAYS[:6]))
    if not isinstance(days, list):
        raise PolicyConfigError(f"shift {name}: days is a list such as [Mon, Tue]")
    return Shift(
        name,
        _clock(doc.get("start"), f"shift {name}"),
        _clock(doc.get("end"), f"shift {name}"),
        tuple(sorted({_day(d, f"shift {name}") for d in days})),
    )


def _weekly(doc: Any) -> WeeklyStop:
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"a planned stop is a mapping (day, start, hours), not {doc!r}")
    hours = doc.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 168:
        raise PolicyConfigError(f"a planned stop lasts 0-168 hours, not {hours!r}")
    if not math.isfinite(hours):
        raise PolicyConfigError("a planned stop's hours must be finite")
    return WeeklyStop(
        _day(doc.get("day"), "planned stop"), _clock(doc.get("start", "00:00"), "planned stop"),
        float(hours),
    )  # fmt: skip


def _when(value: Any, what: str) -> dt.datetime:
    try:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise PolicyConfigError(f"{what}: not an ISO time: {value!r}") from None
    if moment.tzinfo is None:
        raise PolicyConfigError(f"{what}: {value!r} needs a UTC offset (e.g. +08:00)")
    return moment


def _window(doc: Any) -> Window:
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"a window is a mapping (start, end, machines), not {doc!r}")
    start, end = _when(doc.get("start"), "window start"), _when(doc.get("end"), "window end")
    if end <= start:
        raise PolicyConfigError(f"a window ends after it starts ({start} → {end})")
    machines = doc.get("machines") or []
    if not isinstance(machines, list):
        raise PolicyConfigError("machines: a list of machine ids")
    return Window(start, end, tuple(str(m) for m in machines))


def load_plan(path: Path) -> ProductionPlan:
    """The plan in ``path`` (``DT_HOME/production_plan.yaml``); the default if it is missing."""
    doc = read_config_yaml(path)
    if doc is None:
        return ProductionPlan()
    try:
        return ProductionPlan.from_dict(doc)
    except PolicyConfigError as exc:
        raise PolicyConfigError(f"{path}: {exc}") from None
