"""Check one work order: the header it is read under, its fields, its timestamps and its codes.

Pure functions over text; the rules and their order are those of ``reasons.LINE_REASONS``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

from dt_platform.cmms import CMMS_COLUMNS
from dt_platform.ingest.maintenance.reasons import show

KINDS = {"corrective", "preventive", "inspection"}
ACTIONS = {"replace", "repair", "clean", "adjust", "inspect"}
REQUIRED = ("work_order", "machine_id", "started_at", "kind", "action")
MAX_FIELD_CHARS = 32_768
MAX_WORK_ORDER_CHARS = 64
MAX_OFFSET = dt.timedelta(hours=14)
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FUTURE_TOLERANCE = dt.timedelta(days=1)

# ISO 8601 in ASCII digits: date, T or space, hh:mm[:ss[.fraction]], then Z or an offset.
_TIMESTAMP = re.compile(
    r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?)"
    r"(?:([Zz])|([+-])(\d\d)(?::?(\d\d))?)?",
    re.ASCII,
)


class Rejected(ValueError):
    """A line is not a usable work order; ``reason`` is a code of ``reasons.LINE_REASONS``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class WorkOrder:
    """A checked work order, in ``maintenance_log`` column order (without file and line)."""

    work_order: str
    machine_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    kind: str
    action: str
    component: str | None
    notes: str | None


def header_problem(names: list[str] | None) -> tuple[str, str] | None:
    """Why a header is not the CMMS header (reason, detail), or None."""
    expected = ",".join(CMMS_COLUMNS)
    if names is None:
        return "bad_header", f"the header line cannot be split into columns; expected {expected}"
    names = [n.strip() for n in names]
    if tuple(names) == CMMS_COLUMNS:
        return None
    if 2 * len(set(names) & set(CMMS_COLUMNS)) < len(CMMS_COLUMNS):
        return "not_a_maintenance_log", f"expected the header {expected}"
    missing = [c for c in CMMS_COLUMNS if c not in names]
    extra = [n for n in dict.fromkeys(names) if n not in CMMS_COLUMNS]
    repeated = [n for n, k in Counter(names).items() if k > 1]
    parts = [
        f"{label}: {', '.join(show(n) for n in group)}"
        for label, group in (("missing", missing), ("unexpected", extra), ("repeated", repeated))
        if group
    ]
    return "bad_header", "; ".join(parts or ["columns in another order"]) + f"; expected {expected}"


def parse_timestamp(name: str, text: str, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 timestamp with its offset, in UTC, within the plausible window."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise Rejected("unparseable_timestamp", f"{name} {show(text)} is not ISO 8601")
    body, zulu, sign, hours, minutes = match.groups()
    if not (zulu or sign):
        raise Rejected("missing_timezone", f"{name} {show(text)} has no UTC offset")
    if int(minutes or 0) > 59:
        raise Rejected("unparseable_timestamp", f"{name} {show(text)}: offset minutes above 59")
    offset = dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    if offset > MAX_OFFSET:
        raise Rejected("offset_out_of_range", f"{name} {show(text)}: offsets lie within ±14:00")
    try:
        local = dt.datetime.fromisoformat(body.replace(" ", "T"))
    except ValueError as exc:
        raise Rejected("unparseable_timestamp", f"{name} {show(text)}: {exc}") from None
    if sign == "-":
        offset = -offset
    try:
        value = (local - offset).replace(tzinfo=dt.UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        value = None
    if value is None or value < EARLIEST or value > now + FUTURE_TOLERANCE:
        raise Rejected(
            "timestamp_out_of_range",
            f"{name} {show(text)} lies outside 1970-01-01 .. a day after ingestion "
            f"({now:%Y-%m-%d %H:%M}Z)",
        )
    return value


def check_fields(fields: list[str], known_machines: set[str], now: dt.datetime) -> WorkOrder:
    """The work order of one line's fields, or ``Rejected`` with the first rule it breaks."""
    if len(fields) != len(CMMS_COLUMNS):
        raise Rejected(
            "wrong_column_count", f"expected {len(CMMS_COLUMNS)} fields, found {len(fields)}"
        )
    row = dict(zip(CMMS_COLUMNS, (v.strip() for v in fields), strict=True))
    for name, value in row.items():
        cap = MAX_WORK_ORDER_CHARS if name == "work_order" else MAX_FIELD_CHARS
        if len(value) > cap:
            raise Rejected("field_too_long", f"{name} has {len(value)} characters; at most {cap}")
    for name in REQUIRED:
        if not row[name]:
            raise Rejected("missing_field", f"{name} is empty")
    if row["machine_id"] not in known_machines:
        raise Rejected(
            "unknown_machine", f"machine {show(row['machine_id'])} is not in the registry"
        )
    started = parse_timestamp("started_at", row["started_at"], now)
    finished = None
    if row["finished_at"]:
        finished = parse_timestamp("finished_at", row["finished_at"], now)
        if finished < started:
            raise Rejected("inconsistent_times", "finished_at is before started_at")
    if row["kind"] not in KINDS:
        raise Rejected("unknown_kind", f"kind {show(row['kind'])} is not one of {sorted(KINDS)}")
    if row["action"] not in ACTIONS:
        raise Rejected(
            "unknown_action", f"action {show(row['action'])} is not one of {sorted(ACTIONS)}"
        )
    return WorkOrder(
        row["work_order"],
        row["machine_id"],
        started,
        finished,
        row["kind"],
        row["action"],
        row["component"] or None,
        row["notes"] or None,
    )
