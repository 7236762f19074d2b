"""Why a CMMS export, or one of its lines, did not become a work order: the reason codes written
to ``maintenance_rejects.reason`` (and ``maintenance_files.reason``), and how much of a bad line
is copied there."""

from __future__ import annotations

# Whole files: the file counts as one row, rejected with one of these.
FILE_REASONS: dict[str, str] = {
    "not_a_regular_file": "the entry is a symlink, FIFO, device, socket or folder; it is not read",
    "vanished_file": "the file disappeared (deleted or renamed) between listing and reading",
    "unreadable_file": "the file could not be read (the system refused it)",
    "file_too_large": "larger than an export can be (64 MiB, or 200,000 lines); not loaded",
    "empty_file": "the file has no header (no bytes, or only blank lines)",
    "not_a_maintenance_log": "the header has fewer than half the CMMS columns: not an export",
    "bad_header": "the header misses, repeats, adds or reorders columns",
}

# Lines of a file whose header is right: each counts as one row. The first rule a line breaks
# gives its reason, in this order.
LINE_REASONS: dict[str, str] = {
    "bad_encoding": "the line is not UTF-8 (one bad byte rejects its line, not the file)",
    "malformed_line": "broken quoting (text after a closing quote) or a control character",
    "unbalanced_quote": "a quote opens and does not close before the next work order or the end",
    "repeated_header": "the header again, inside the file (two exports concatenated)",
    "wrong_column_count": "the line has a different number of fields than the header",
    "field_too_long": "a field is longer than 32768 characters (a work order id: 64)",
    "missing_field": "work_order, machine_id, started_at, kind or action is empty",
    "unknown_machine": "the machine id was never in the machine registry (machines.yaml)",
    "missing_timezone": "a timestamp has no UTC offset; local time is ambiguous",
    "unparseable_timestamp": "a timestamp is not ISO 8601 (YYYY-MM-DDThh:mm[:ss] and an offset)",
    "offset_out_of_range": "a timestamp's UTC offset is beyond ±14:00",
    "timestamp_out_of_range": "a timestamp is before 1970 or more than a day after ingestion",
    "inconsistent_times": "finished_at is before started_at",
    "unknown_kind": "kind is not corrective, preventive or inspection",
    "unknown_action": "action is not replace, repair, clean, adjust or inspect",
    "duplicate_work_order": "the same work order, with the same values, earlier in the same file",
    "conflicting_work_order": "the same work order, with other values, earlier in the same file",
    "unexpected_error": "checking the line raised an error (a bug): the line is kept here",
}

REASONS: dict[str, str] = {**FILE_REASONS, **LINE_REASONS}

RAW_CAP = 200
"""Characters of a rejected line copied into ``maintenance_rejects.raw``."""

SHOWN_CAP = 60
"""Characters of a value quoted in a reject's detail."""


def clip(text: str | None, cap: int = RAW_CAP) -> str | None:
    """``text`` cut to ``cap`` characters, with a marker saying how many were left out."""
    if text is None or len(text) <= cap:
        return text
    return f"{text[:cap]}…[+{len(text) - cap} chars]"


def show(value: str) -> str:
    """A field value for a detail message: quoted and capped."""
    return repr(clip(value, SHOWN_CAP))
