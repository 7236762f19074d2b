"""What a daily report holds: sections of sentences, tables and charts, each saying what is
missing instead of failing, and the numbers behind them (``facts``) for tests and metadata."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Table:
    """A table of text cells (already formatted); ``numeric`` columns are right-aligned."""

    caption: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    numeric: frozenset[int] = frozenset()


@dataclass
class Section:
    """One part of the report. ``missing`` says which data the day lacks (shown, not raised);
    ``charts`` are SVG documents built by :mod:`dt_platform.report.svg` (escaped there)."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class DailyReport:
    """The report of one UTC day, built at ``generated_at``; the anchor of ``covering_day``
    covers it (it shows its own day's anchor, so that anchor cannot)."""

    day: dt.date
    generated_at: dt.datetime
    covering_day: dt.date
    sections: list[Section]
    content_sha256: str = ""
    """SHA-256 of the HTML with the build time and the covering day fixed: equal for two
    builds of a day whose figures did not change (set by ``build_report``)."""

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)

    @property
    def headline(self) -> str:
        """One line for an e-mail subject: machines at risk and the anchor."""
        fleet = self.section("fleet").facts
        anchor = self.section("anchor").facts
        alerting = fleet.get("alerting")
        risk = "no data" if alerting is None else f"{alerting} machine(s) alerting"
        anchored = "anchored" if anchor.get("anchored") else "not anchored"
        return f"dt-platform daily report {self.day}: {risk}, day {anchored}"


def hours(value: float | None) -> str:
    """A duration in hours for people: ``245 h``, ``1,898 h``; an en dash when unknown."""
    if value is None:
        return "–"
    return f"{value:,.0f} h" if abs(value) >= 10 else f"{value:,.1f} h"


def interval(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "–"
    return f"{hours(lo)[:-2]}–{hours(hi)}"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def moment(value: dt.datetime | None) -> str:
    """A time in UTC, to the minute."""
    if value is None:
        return "–"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def text(value: Any) -> str:
    """A cell: never the literal "None"."""
    return "–" if value is None or value == "" else str(value)
