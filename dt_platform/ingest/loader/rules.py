"""What the loader accepts as plausible: the time window, UTC offsets, numbers in ASCII decimal
notation, the largest file it reads, and how much raw text a reject keeps.

Each rule exists twice where it must: as SQL for the readings DuckDB parses, and in Python for the
lines parsed one by one. Both reject, never repair: a value outside a bound keeps its text in
``telemetry_rejects`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.config import Settings, load_settings

EPOCH_FLOOR = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""No reading is older than the Unix epoch, whatever its machine type: a year 1, year 0 or negative
year is a broken clock or a forged file."""

MAX_OFFSET_MINUTES = 14 * 60
"""UTC offsets in use run from -12:00 to +14:00; anything beyond ±14:00 is not a time zone."""

TEXT_CAP = 200
"""Characters of raw input kept in a reject's text columns (and a quarantine's detail)."""

CYCLE_TIME_TYPES: tuple[str, ...] = tuple(
    name for name, mtype in MACHINE_TYPES.items() if mtype.cycle_time
)


@dataclass(frozen=True)
class IngestLimits:
    """The configured bounds of one ingestion run (see ``DT_BACKFILL_DAYS``, ``DT_FUTURE_HOURS``,
    ``DT_MAX_DUMP_MB``)."""

    earliest: dt.datetime
    """Readings of clock-time machines stamped earlier are rejected (``early_timestamp``)."""
    ahead: dt.timedelta = dt.timedelta(days=1)
    """Readings stamped later than the ingestion time plus this are rejected."""
    max_file_bytes: int = 1024 * 2**20
    """Files larger than this are not read (``file_too_large``)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        first = dt.datetime.combine(settings.partitions_start, dt.time(), tzinfo=dt.UTC)
        # Never earlier than the epoch floor (nor past year 1, which Python cannot represent).
        backfill = min(settings.backfill_days, max((first - EPOCH_FLOOR).days, 0))
        return cls(
            earliest=max(EPOCH_FLOOR, first - dt.timedelta(days=backfill)),
            ahead=dt.timedelta(hours=settings.future_hours),
            max_file_bytes=int(settings.max_dump_mb * 2**20),
        )

    @classmethod
    def configured(cls) -> IngestLimits:
        """The bounds the ``DT_*`` environment sets (defaults on a fresh clone)."""
        return cls.from_settings(load_settings())

    def earliest_of(self, machine_type: str) -> dt.datetime:
        """The earliest accepted time of a reading of ``machine_type``."""
        return EPOCH_FLOOR if machine_type in CYCLE_TIME_TYPES else self.earliest

    def params(self, now: dt.datetime) -> dict:
        """SQL parameters: ``$future`` (latest accepted), ``$earliest`` and ``$floor``."""
        return {"future": now + self.ahead, "earliest": self.earliest, "floor": EPOCH_FLOOR}


def used_params(sql: str, params: dict) -> dict:
    """The entries of ``params`` that ``sql`` names (DuckDB refuses parameters a query does not
    use, and which bounds a generated query needs depends on the machine types of the file)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def earliest_sql(machine_type: str) -> str:
    """SQL for the earliest accepted time of a reading of ``machine_type`` (an SQL expression):
    ``$floor`` for machine types stamped by cycle, ``$earliest`` for the others."""
    if not CYCLE_TIME_TYPES:
        return "$earliest"
    listed = ", ".join(f"'{t}'" for t in CYCLE_TIME_TYPES)
    return f"(CASE WHEN {machine_type} IN ({listed}) THEN $floor ELSE $earliest END)"


def earliest_for(machine_type: str) -> str:
    """The SQL parameter holding the earliest accepted time for a known machine type."""
    return "$floor" if machine_type in CYCLE_TIME_TYPES else "$earliest"


# --- timestamps --------------------------------------------------------------------------------

# A timestamp carries an offset when its time part ends in Z or ±hh[:mm].
TZ_REGEX = r"\d\d:\d\d(:\d\d(\.\d*)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$"
_OFFSET_REGEX = r"[+-](\d\d):?(\d\d)?\s*$"


def offset_ok_fast_sql(ts: str) -> str:
    """Cheap SQL test, per row of a large file: ``ts`` ends in Z or in an offset ±hh:mm within
    ±14:00 (the digits are checked by the cast that goes with it). Any other row — the rarer
    forms ±hhmm and ±hh included — gets the full diagnosis of :func:`ts_problem_sql`. DuckDB
    evaluates every branch for every row, so each character test here costs on every reading."""
    return (
        f"(length({ts}) > 16 AND (suffix({ts}, 'Z') OR suffix({ts}, 'z') "
        f"OR ({ts}[-6] IN ('+', '-') AND right({ts}, 5) <= '14:00' AND {ts}[-2] <= '5')))"
    )


def ts_problem_sql(expr: str) -> str:
    """SQL giving why the timestamp text ``expr`` cannot be used, or NULL."""
    text = f"trim({expr})"
    hours = (
        f"coalesce(try_cast(nullif(regexp_extract({text}, '{_OFFSET_REGEX}', 1), '') AS INT), 0)"
    )
    minutes = (
        f"coalesce(try_cast(nullif(regexp_extract({text}, '{_OFFSET_REGEX}', 2), '') AS INT), 0)"
    )
    return f"""CASE
        WHEN {expr} IS NULL OR {text} = '' THEN 'unparseable_timestamp'
        WHEN NOT regexp_matches({text}, '{TZ_REGEX}') THEN
            CASE WHEN try_cast({text} AS TIMESTAMP) IS NULL THEN 'unparseable_timestamp'
                 ELSE 'missing_timezone' END
        WHEN try_cast({text} AS TIMESTAMPTZ) IS NULL THEN 'unparseable_timestamp'
        WHEN {minutes} > 59 OR {hours} * 60 + {minutes} > {MAX_OFFSET_MINUTES}
            THEN 'invalid_utc_offset'
    END"""


# --- numbers -----------------------------------------------------------------------------------

_DECIMAL = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
_NON_FINITE = r"[+-]?(nan|inf|infinity)"
_DECIMAL_RE = re.compile(rf"[ \t]*{_DECIMAL}[ \t]*", re.ASCII)
_NON_FINITE_RE = re.compile(rf"[ \t]*{_NON_FINITE}[ \t]*", re.ASCII | re.IGNORECASE)


def parse_number(text: str | None) -> float | None:
    """A value in ASCII decimal notation (optional sign, digits, point, exponent; spaces or tabs
    around), or NaN/Infinity spelled out (rejected later as non-finite); None for anything else:
    underscores, full-width or Arabic-Indic digits, hex, thousands separators."""
    if text is None:
        return None
    if _DECIMAL_RE.fullmatch(text) or _NON_FINITE_RE.fullmatch(text):
        return float(text)
    return None


def number_sql(text: str) -> str:
    """SQL twin of :func:`parse_number` for a text expression (RE2's ``\\d`` is ASCII only)."""
    return f"""CASE WHEN regexp_full_match({text}, '[ \\t]*{_DECIMAL}[ \\t]*')
                      OR regexp_full_match(lower({text}), '[ \\t]*{_NON_FINITE}[ \\t]*')
                    THEN try_cast({text} AS DOUBLE) END"""


# --- raw text kept in rejects ------------------------------------------------------------------


def cap_text(text: str | None, cap: int = TEXT_CAP) -> str | None:
    """``text`` cut to ``cap`` characters, with a marker saying how much was left out."""
    if text is None or len(text) <= cap:
        return text
    return f"{text[:cap]}…(+{len(text) - cap} chars)"


def cap_sql(expr: str, cap: int = TEXT_CAP) -> str:
    """SQL twin of :func:`cap_text`."""
    return (
        f"CASE WHEN length({expr}) > {cap} THEN left({expr}, {cap}) || '…(+' || "
        f"(length({expr}) - {cap}) || ' chars)' ELSE {expr} END"
    )
