"""The canonical bytes of a record: what a Merkle leaf commits to.

Canonical record bytes (leaf encoding ``dt-canonical-json`` version 1)
---------------------------------------------------------------------
A record is the JSON object ``{"source": <source name>, <column>: <value>, ...}``:

* UTF-8, no whitespace at all, object keys sorted by Unicode code point (``"source"`` included;
  a column may not be called ``source``).
* strings: JSON strings; ``"`` and ``\\`` escaped, ``\\b \\f \\n \\r \\t`` as such, other code
  points below U+0020 as ``\\u00xx`` (lower-case hex), everything else as literal UTF-8.
* integers: decimal, no exponent. Booleans ``true``/``false``; SQL NULL ``null``.
* floats: the shortest decimal text that reads back as the same IEEE-754 double, as Python
  ``repr`` writes it (``1.0``, ``0.1``, ``1e-05``, ``1e+16``, ``-0.0``); ``NaN``, ``Infinity``
  and ``-Infinity`` as the JSON *strings* ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
* timestamps: UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fractional digits; a timestamp
  without time zone is taken as UTC). Dates: ``YYYY-MM-DD``. Times: ``HH:MM:SS.ffffff``.
* decimals: the JSON string of their plain (non-exponent) decimal text.
* binary: the JSON string ``"0x"`` + lower-case hex. Lists: JSON arrays; structs: JSON objects
  encoded by the same rules.

A record's Merkle leaf is ``keccak256(keccak256(record bytes))`` and the tree is OpenZeppelin's
``SimpleMerkleTree`` (sorted leaves, sorted pairs), see :mod:`dt_platform.trust.merkle`. The root
does not depend on record order; the Parquet files still hold rows in canonical order (sorted by
the source's key columns, ties by record bytes) so the same data gives the same file bytes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from dt_platform.trust.snapshot.errors import SnapshotError

LEAF_ENCODING: dict[str, Any] = {"name": "dt-canonical-json", "version": 1}


def format_timestamp(value: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (naive values are taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


def _float_text(value: float) -> str:
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    return repr(value)


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def canonical_value(value: Any) -> str:
    """The canonical JSON text of one value (see the module docstring)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.datetime):
        return f'"{format_timestamp(value)}"'
    if isinstance(value, dt.date):
        return f'"{value.year:04d}-{value.month:02d}-{value.day:02d}"'
    if isinstance(value, dt.time):
        return f'"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"'
    if isinstance(value, decimal.Decimal):
        return _string(format(value, "f"))
    if isinstance(value, bytes | bytearray | memoryview):
        return _string("0x" + bytes(value).hex())
    if isinstance(value, uuid.UUID):
        return _string(str(value))
    if isinstance(value, Mapping):
        return _object((str(k), v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_value(v) for v in value) + "]"
    raise SnapshotError(
        f"cannot encode a {type(value).__name__} ({value!r}) canonically: cast the column to "
        "a number, text, timestamp or date in the source query"
    )


def _object(items: Iterable[tuple[str, Any]]) -> str:
    pairs = sorted(items)
    return "{" + ",".join(f"{_string(k)}:{canonical_value(v)}" for k, v in pairs) + "}"


def canonical_record(source: str, row: Mapping[str, Any]) -> bytes:
    """The canonical bytes of one record: ``{"source": source, ...row}`` (leaf encoding v1)."""
    if "source" in row:
        raise SnapshotError(
            f"snapshot source {source!r} has a column named 'source', which the record envelope "
            "uses: rename it in the source query"
        )
    return _object([("source", source), *row.items()]).encode("utf-8")


def key_text(value: Any) -> str:
    """How a key value is written by ``verify``/``prove``: strings as-is, others canonically."""
    return value if isinstance(value, str) else canonical_value(value).strip('"')
