"""The plausibility bounds as the settings configure them, and the Python twins of the SQL rules."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest

from dt_platform.config import Settings
from dt_platform.ingest.loader.rules import (
    CYCLE_TIME_TYPES,
    EPOCH_FLOOR,
    IngestLimits,
    cap_sql,
    cap_text,
    number_sql,
    parse_number,
)


def test_the_window_follows_the_settings() -> None:
    limits = IngestLimits.from_settings(Settings())
    assert limits.earliest == dt.datetime(2025, 12, 25, tzinfo=dt.UTC)
    assert limits.ahead == dt.timedelta(hours=24) and limits.max_file_bytes == 1024 * 2**20
    custom = IngestLimits.from_settings(
        Settings(
            partitions_start=dt.date(2026, 3, 1), backfill_days=0, future_hours=0.5, max_dump_mb=2
        )
    )
    assert custom == IngestLimits(
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.timedelta(minutes=30), 2 * 2**20
    )
    # However far back the settings reach, the window never opens before 1970.
    far = Settings(partitions_start=dt.date(1, 1, 1), backfill_days=36_500)
    assert IngestLimits.from_settings(far).earliest == EPOCH_FLOOR
    assert CYCLE_TIME_TYPES == ("turbofan",)


NUMBERS = {
    "70": 70.0,
    " 62.5\t": 62.5,
    "-0.5": -0.5,
    "+5": 5.0,
    ".25": 0.25,
    "62.": 62.0,
    "1e3": 1000.0,
    "1E-2": 0.01,
    "NaN": math.nan,
    "-Infinity": -math.inf,
    "inf": math.inf,
    "1e400": math.inf,
    "6_2.8": None,
    "1_000": None,
    "７０": None,
    "٥٠": None,
    "१२": None,
    "\u00a062": None,
    "0x10": None,
    "1,5": None,
    "": None,
    " ": None,
    "true": None,
    "62 kPa": None,
    "--5": None,
}


@pytest.mark.parametrize("text,expected", NUMBERS.items(), ids=[repr(k) for k in NUMBERS])
def test_numbers_in_ascii_decimal_notation_only(text: str, expected: float | None) -> None:
    in_sql = duckdb.execute(f"SELECT {number_sql('$v')}", {"v": text}).fetchone()[0]
    for got in (parse_number(text), in_sql):
        if expected is None or got is None:
            assert got is expected
        else:
            assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_raw_text_is_capped_with_a_marker() -> None:
    assert cap_text("x" * 200) == "x" * 200 and cap_text(None) is None
    capped = cap_text("é" * 1000)
    assert capped == "é" * 200 + "…(+800 chars)"
    assert duckdb.execute(f"SELECT {cap_sql('$v')}", {"v": "é" * 1000}).fetchone()[0] == capped
