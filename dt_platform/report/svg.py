"""Charts as inline SVG written by hand: no browser or JavaScript needed to draw them, the same
in the HTML, the e-mail and the PDF, and every label escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="11"'
INK, BAND, MARK, GRID = "#1f2937", "#93c5fd", "#1d4ed8", "#e5e7eb"


@dataclass(frozen=True)
class Interval:
    label: str
    low: float
    mid: float
    high: float
    alert: bool = False


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _decade(value: float) -> str:
    return f"{value:,.0f} h" if value >= 1 else f"{value:g} h"


def interval_chart(
    items: Sequence[Interval], title: str, *, marker_h: float | None = None, marker: str = ""
) -> str:
    """Horizontal 90 % intervals with their median on a log axis labelled at every decade
    (RULs span hours to months); ``marker_h`` draws a dashed reference line (e.g. one week)."""
    left, right, row, top = 110, 40, 22, 24
    width, height = 640, top + row * len(items) + 34
    values = [v for i in items for v in (i.low, i.high) if v > 0] or [1.0, 1000.0]
    if marker_h:
        values.append(marker_h)
    lo = 10 ** math.floor(math.log10(max(min(values), 0.1)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    hi = hi * 10 if hi <= lo else hi
    span = math.log10(hi) - math.log10(lo)

    def x(value: float) -> float:
        value = min(max(value, lo), hi)
        return left + (width - left - right) * (math.log10(value) - math.log10(lo)) / span

    body = [
        f'<text x="{left}" y="14" {FONT} font-weight="bold" fill="{INK}">{escape(title)}</text>'
    ]
    axis_y = top + row * len(items) + 4
    decade = lo
    while decade <= hi * 1.0001:
        gx = x(decade)
        body.append(f'<line x1="{gx:.1f}" y1="{top}" x2="{gx:.1f}" y2="{axis_y}" stroke="{GRID}"/>')
        body.append(
            f'<text x="{gx:.1f}" y="{axis_y + 14}" {FONT} text-anchor="middle" '
            f'fill="{INK}">{escape(_decade(decade))}</text>'
        )
        decade *= 10
    if marker_h:
        mx = x(marker_h)
        body.append(
            f'<line x1="{mx:.1f}" y1="{top - 4}" x2="{mx:.1f}" y2="{axis_y}" stroke="#dc2626" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{mx + 3:.1f}" y="{top - 6}" {FONT} fill="#dc2626">{escape(marker)}</text>'
        )
    for n, item in enumerate(items):
        cy = top + row * n + row / 2
        colour = "#dc2626" if item.alert else MARK
        body.append(
            f'<text x="{left - 8}" y="{cy + 4:.1f}" {FONT} text-anchor="end" '
            f'fill="{INK}">{escape(item.label)}</text>'
            f'<rect x="{x(item.low):.1f}" y="{cy - 5:.1f}" '
            f'width="{max(x(item.high) - x(item.low), 1):.1f}" height="10" fill="{BAND}"/>'
            f'<circle cx="{x(item.mid):.1f}" cy="{cy:.1f}" r="4" fill="{colour}"/>'
        )
    body.append(
        f'<text x="{left}" y="{height - 2}" {FONT} fill="{INK}">remaining useful life: '
        "median (dot) and 90 % interval (bar), log scale</text>"
    )
    return _svg(width, height, title, body)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, unit: str) -> str:
    """Vertical bars, one per label (e.g. the day's 24 hours), with the largest value marked."""
    left, right, top, bottom = 50, 10, 24, 30
    width, height = 640, 170
    peak = max([*values, 0]) or 1
    slot = (width - left - right) / max(len(values), 1)
    plot = height - top - bottom
    body = [
        f'<text x="{left}" y="14" {FONT} font-weight="bold" fill="{INK}">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot}" x2="{width - right}" y2="{top + plot}" '
        f'stroke="{INK}"/>',
        f'<text x="{left - 6}" y="{top + 8}" {FONT} text-anchor="end" fill="{INK}">'
        f"{escape(f'{peak:,.0f}')}</text>",
        f'<text x="{left - 6}" y="{top + plot}" {FONT} text-anchor="end" fill="{INK}">0</text>',
    ]
    step = max(1, math.ceil(len(labels) / 12))
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot * value / peak
        bx = left + slot * n + slot * 0.1
        body.append(
            f'<rect x="{bx:.1f}" y="{top + plot - h:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{MARK if value else "#fca5a5"}"/>'
        )
        if n % step == 0:
            body.append(
                f'<text x="{bx + slot * 0.4:.1f}" y="{top + plot + 14}" {FONT} '
                f'text-anchor="middle" fill="{INK}">{escape(label)}</text>'
            )
    body.append(f'<text x="{left}" y="{height - 2}" {FONT} fill="{INK}">{escape(unit)}</text>')
    return _svg(width, height, title, body)
