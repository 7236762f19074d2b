"""One export, from its bytes to checked work orders and rejected lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields

from dt_platform.cmms import CMMS_COLUMNS
from dt_platform.ingest.maintenance.csvtext import (
    decode,
    encoding_detail,
    lossy,
    physical_lines,
    records,
    split_line,
)
from dt_platform.ingest.maintenance.orders import Rejected, WorkOrder, check_fields, header_problem
from dt_platform.ingest.maintenance.reasons import clip

MAX_EXPORT_LINES = 200_000
"""Hundreds of work orders a year: a file with more lines is not an export, and each rejected
line would cost a row (a file of 64 MiB of line breaks would cost gigabytes)."""


@dataclass
class Parsed:
    """What one export holds: checked work orders ``(line, order, raw)`` and rejects
    ``(line, raw, reason, detail)``. A file rejected as a whole has ``file_reason`` set and
    counts as one row."""

    rows_in: int = 0
    orders: list[tuple[int, WorkOrder, str]] = field(default_factory=list)
    rejects: list[tuple[int | None, str | None, str, str]] = field(default_factory=list)
    file_reason: str | None = None

    @classmethod
    def whole_file(cls, reason: str, detail: str, line: int | None, raw: str | None) -> Parsed:
        return cls(1, [], [(line, clip(raw), reason, detail)], reason)

    def reject(self, line: int | None, raw: str | None, reason: str, detail: str) -> None:
        self.rejects.append((line, clip(raw), reason, detail))


def parse_export(data: bytes, machines: set[str], now: dt.datetime) -> Parsed:
    """Split, decode and check every line of an export; one bad line costs only itself."""
    breaks = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if breaks > MAX_EXPORT_LINES:
        detail = f"{breaks} lines; an export holds at most {MAX_EXPORT_LINES}"
        return Parsed.whole_file("file_too_large", detail, None, None)
    lines = physical_lines(data)
    if not any(line.strip(b" \t,\xef\xbb\xbf") for line in lines):
        detail = "no bytes" if not data else "only blank lines, no header"
        return Parsed.whole_file("empty_file", detail, None, None)
    header = decode(lines[0])
    if header is None:
        detail = f"the header is not UTF-8: {encoding_detail(lines[0])}"
        return Parsed.whole_file("bad_header", detail, 1, lossy(lines[0]))
    problem = header_problem(split_line(header))
    if problem is not None:
        return Parsed.whole_file(*problem, 1, header)
    parsed = Parsed()
    first_at: dict[str, tuple[int, WorkOrder]] = {}
    for record in records(lines, 1, len(CMMS_COLUMNS)):
        parsed.rows_in += 1
        if record.reason is not None:
            parsed.reject(record.line, record.raw, record.reason, record.detail or "")
            continue
        try:
            order = _check(record.fields or [], machines, now, first_at, record.line)
        except Rejected as exc:
            parsed.reject(record.line, record.raw, exc.reason, exc.detail)
            continue
        except Exception as exc:  # a bug must cost this line, not the file or the run
            detail = clip(f"{type(exc).__name__}: {exc}") or ""
            parsed.reject(record.line, record.raw, "unexpected_error", detail)
            continue
        parsed.orders.append((record.line, order, record.raw))
    return parsed


def _check(
    values: list[str],
    machines: set[str],
    now: dt.datetime,
    first_at: dict[str, tuple[int, WorkOrder]],
    line: int,
) -> WorkOrder:
    if tuple(v.strip() for v in values) == CMMS_COLUMNS:
        raise Rejected("repeated_header", "the header again: two exports joined into one file?")
    order = check_fields(values, machines, now)
    earlier = first_at.get(order.work_order)
    if earlier is None:
        first_at[order.work_order] = (line, order)
        return order
    other_line, other = earlier
    if other == order:
        raise Rejected(
            "duplicate_work_order", f"{order.work_order} is already on line {other_line}"
        )
    differs = [
        f.name for f in fields(WorkOrder) if getattr(other, f.name) != getattr(order, f.name)
    ]
    raise Rejected(
        "conflicting_work_order",
        f"{order.work_order} is on line {other_line} with other values ({', '.join(differs)}); "
        "the first line of a work order in a file is kept",
    )
