"""The NASA C-MAPSS text layout, read strictly: every refusal names the file, the line and the
column, and nothing a file does not say is made up.

``train_``/``test_`` files hold 26 whitespace-separated numbers a line (unit, cycle, three
operating settings, 21 sensors); ``RUL_`` files one number a line. Files written by other tools
in the same layout are read too: CRLF line ends, tabs, a UTF-8 byte-order mark, units numbered
sparsely, rows in any order.

What a file may not do, and is refused for (:class:`CmapssFormatError`): be other than ASCII /
UTF-8 text; hold a token that is not a number; give a unit or cycle that is not a whole number
from 0 to 2^53; give a setting or sensor as infinite; list one unit's cycle twice (which of two
readings is the engine's is not for the reader to guess, and the model's folds must keep a
unit whole); give a RUL that is negative or not finite.

A sensor or setting written ``nan`` is a reading that is missing: it is kept as null. The
prognostics take it as such: rolling features use the readings there are, the health index counts
it as its regime's mean (no evidence of wear either way), XGBoost sends what stays missing (the
reading itself, its exponentially smoothed value) down its missing-value branch; an import into
the warehouse sends no reading for it.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import polars as pl

SETTINGS = tuple(f"setting{i}" for i in range(1, 4))
SENSORS = tuple(f"s{i}" for i in range(1, 22))
COLUMNS = ("unit", "cycle", *SETTINGS, *SENSORS)
MAX_ID = 2**53
"""Largest unit or cycle number read: beyond it a float no longer holds every whole number."""
SHOWN_CHARS = 40
"""A refused token is quoted up to this many characters (a hostile field can be megabytes)."""


class CmapssFormatError(ValueError):
    """A C-MAPSS file does not have the documented layout."""


def read_text(path: Path) -> str:
    """The file as text: ASCII or UTF-8, with or without a byte-order mark."""
    raw = Path(path).read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CmapssFormatError(f"{path}: UTF-16 text; save it as ASCII or UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CmapssFormatError(
            f"{path}: not ASCII / UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def _shown(token: str) -> str:
    return repr(token if len(token) <= SHOWN_CHARS else token[:SHOWN_CHARS] + "…")


def _numbers(path: Path, rows: list[list[str]], linenos: list[int]) -> np.ndarray:
    """The tokens as float64; a token that is not a number is refused with its place."""
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        for parts, lineno in zip(rows, linenos, strict=True):
            for column, token in zip(COLUMNS, parts, strict=True):
                try:
                    float(token)
                except ValueError:
                    raise CmapssFormatError(
                        f"{path}:{lineno}: {column} is {_shown(token)}, not a number"
                    ) from None
        raise


def _check_values(path: Path, values: np.ndarray, linenos: list[int]) -> None:
    """Refuse units and cycles that are not whole numbers in range, and infinite readings."""
    ids = values[:, :2]
    bad_id = ~(np.isfinite(ids) & (ids == np.floor(ids)) & (ids >= 0) & (ids <= MAX_ID))
    infinite = np.isinf(values[:, 2:])
    for bad, offset, what in (
        (bad_id, 0, "not a whole number from 0 to 2^53"),
        (infinite, 2, "infinite (write nan for a missing reading)"),
    ):
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise CmapssFormatError(
                f"{path}:{linenos[row]}: {COLUMNS[col + offset]} {values[row, col + offset]:g} "
                f"is {what}"
            )


def _check_unique(path: Path, frame: pl.DataFrame, linenos: list[int]) -> None:
    """Refuse a (unit, cycle) listed twice, naming both lines."""
    dup = (
        frame.with_columns(pl.Series("__line", linenos))
        .filter(pl.struct("unit", "cycle").is_duplicated())
        .sort("unit", "cycle", "__line")
    )
    if dup.height:
        unit, cycle = dup["unit"][0], dup["cycle"][0]
        lines = dup.filter((pl.col("unit") == unit) & (pl.col("cycle") == cycle))["__line"]
        first, second = lines[0], lines[1]
        raise CmapssFormatError(
            f"{path}:{second}: unit {unit} cycle {cycle} again (first on line {first}); "
            "one reading per unit and cycle"
        )


def read_cmapss_file(path: Path) -> pl.DataFrame:
    """One train_/test_ file as ``unit, cycle, setting1..3, s1..s21`` (unit and cycle Int64,
    the rest Float64 with null for a reading written ``nan``), in file order."""
    rows: list[list[str]] = []
    linenos: list[int] = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(COLUMNS):
            raise CmapssFormatError(
                f"{path}:{lineno}: expected {len(COLUMNS)} values (unit, cycle, 3 settings, "
                f"21 sensors), found {len(parts)}"
            )
        rows.append(parts)
        linenos.append(lineno)
    if not rows:
        raise CmapssFormatError(f"{path} holds no data")
    values = _numbers(path, rows, linenos)
    _check_values(path, values, linenos)
    frame = layout_frame(values)
    _check_unique(path, frame, linenos)
    return frame


def layout_frame(values: np.ndarray) -> pl.DataFrame:
    """Rows of the layout (one per line, :data:`COLUMNS` in order) as the reader gives them:
    unit and cycle Int64, settings and sensors Float64 with a NaN reading as null (missing)."""
    return pl.DataFrame({c: values[:, i] for i, c in enumerate(COLUMNS)}).with_columns(
        pl.col("unit").cast(pl.Int64),
        pl.col("cycle").cast(pl.Int64),
        pl.col(*SETTINGS, *SENSORS).fill_nan(None),
    )


def read_rul_file(path: Path) -> list[float]:
    """An ``RUL_`` file: the true RUL after each test unit's last cycle, in unit order."""
    values: list[float] = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        for token in line.split():
            try:
                value = float(token)
            except ValueError:
                raise CmapssFormatError(
                    f"{path}:{lineno}: RUL {_shown(token)} is not a number"
                ) from None
            if not (np.isfinite(value) and value >= 0):
                raise CmapssFormatError(
                    f"{path}:{lineno}: RUL {_shown(token)} is not a finite number of cycles ≥ 0"
                )
            values.append(value)
    return values
