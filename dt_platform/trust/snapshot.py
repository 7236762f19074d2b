"""Daily audit snapshots: the records of a day, their canonical bytes, deterministic Parquet.

A day's audit snapshot is a folder with one Parquet file per *snapshot source* and a
``manifest.json``. Every row of every source is one *record*; every record is one Merkle leaf; the
root of those leaves is what the chain anchors. Anyone holding the folder (from IPFS) can rebuild
the root without our code, so the encoding is specified here, exactly.

Sources
-------
A :class:`SnapshotSource` is a name, a SQL query with a ``$day`` parameter and the key columns
that identify a record within the source. Defaults (:data:`SOURCES`):

* ``telemetry_digest`` — one record per (machine_id, sensor, UTC hour) of the day's
  ``telemetry``: reading counts (all, per quality flag), min, max, mean and ``readings_sha256``.
  Committing to a digest instead of every reading keeps a day at a few thousand leaves, and the
  digest still changes when any single reading changes (see "Reading digest" below).
* ``rul_predictions``, ``maintenance_alerts``, ``decisions`` — every row of the day
  (``WHERE day = $day``), keyed by ``machine_id`` and ``ts``. A source whose tables do not exist
  in the warehouse is skipped (and listed as skipped in the manifest).

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

Reading digest (``readings_sha256``)
------------------------------------
For one (machine_id, sensor, hour): take every reading of that hour ordered by (ts, value,
quality); write each as ``<ts as integer microseconds since 1970-01-01T00:00:00Z>,<value as
above (Python repr; nan, inf, -inf)>,<quality>``; join the lines with ``\\n`` (no trailing
newline); SHA-256 of the UTF-8 bytes, lower-case hex. ``mean_value`` is the left-to-right double
sum of the values in that order divided by the count. The quality flag is part of the digest,
so swapping two flags within an hour is seen too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform import __version__
from dt_platform.trust.merkle import MerkleTree, record_leaves
from dt_platform.warehouse import table_names

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "LEAF_ENCODING",
    "MANIFEST_NAME",
    "PARQUET_OPTIONS",
    "SOURCES",
    "DayRecords",
    "EmptySnapshot",
    "Snapshot",
    "SnapshotError",
    "SnapshotSource",
    "SourceRecords",
    "build_snapshot",
    "canonical_record",
    "canonical_value",
    "check_snapshot_dir",
    "code_version",
    "collect_records",
    "default_sources",
    "format_timestamp",
    "key_text",
    "parse_manifest",
    "reading_line",
    "records_from_parquet",
    "records_from_table",
    "register_source",
    "schema_hash",
    "write_snapshot",
]

FORMAT = "dt-platform/audit-snapshot"
FORMAT_VERSION = 1
LEAF_ENCODING: dict[str, Any] = {"name": "dt-canonical-json", "version": 1}
MANIFEST_NAME = "manifest.json"

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 1 << 20,
    "store_schema": True,
}
"""Fixed writer options: with the same pyarrow, the same table gives the same Parquet bytes."""


class SnapshotError(Exception):
    """A snapshot cannot be built or read as asked; the message says what to fix."""


class EmptySnapshot(SnapshotError):
    """The day has no records at all: there is no Merkle root to anchor."""


# --- sources ------------------------------------------------------------------------------------

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class SnapshotSource:
    """One kind of record in a day's snapshot.

    ``query`` is DuckDB SQL with a ``$day`` (DATE) parameter; ``key`` names the columns that
    identify a record (canonical order, and how ``verify``/``prove`` name records); ``tables``
    are the warehouse tables it reads: if any is missing the source is skipped.
    """

    name: str
    query: str
    key: tuple[str, ...]
    tables: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"snapshot source name {self.name!r} must be lower-case letters, digits and "
                "underscores (it becomes a file name)"
            )
        if not self.key:
            raise ValueError(f"snapshot source {self.name!r} needs at least one key column")
        if "source" in self.key:
            raise ValueError(f"snapshot source {self.name!r}: 'source' cannot be a key column")


TELEMETRY_DIGEST_SQL = """
SELECT machine_id,
       machine_type,
       sensor,
       to_timestamp(epoch_us(ts) // 3600000000 * 3600) AS hour,
       count(*) AS readings,
       count(*) FILTER (WHERE quality = 'ok') AS ok_readings,
       count(*) FILTER (WHERE quality = 'spike') AS spike_readings,
       count(*) FILTER (WHERE quality = 'stuck') AS stuck_readings,
       count(*) FILTER (WHERE quality NOT IN ('ok', 'spike', 'stuck')) AS other_quality_readings,
       min(value) AS min_value,
       max(value) AS max_value,
       avg(value ORDER BY ts, value, quality) AS mean_value,
       sha256(string_agg(epoch_us(ts)::VARCHAR || ',' || value::VARCHAR || ',' || quality,
                         chr(10) ORDER BY ts, value, quality)) AS readings_sha256
FROM telemetry
WHERE day = $day
GROUP BY machine_id, machine_type, sensor, hour
"""
# Why this SQL is exact: epoch_us avoids time-zone and ICU formatting; DuckDB's DOUBLE -> VARCHAR
# cast is the shortest round-trip text (identical to Python repr, checked by a test); avg with
# ORDER BY is a sequential sum in that order, so it is deterministic however many threads run.


def _table_source(name: str, key: tuple[str, ...], description: str) -> SnapshotSource:
    return SnapshotSource(
        name=name,
        query=f"SELECT * FROM {name} WHERE day = $day",
        key=key,
        tables=(name,),
        description=description,
    )


SOURCES: dict[str, SnapshotSource] = {}
"""The registry of snapshot sources, by name (see :func:`register_source`)."""


def register_source(source: SnapshotSource, *, replace: bool = False) -> None:
    """Add a source to :data:`SOURCES` (``replace=True`` to redefine an existing one).

    Changing a source changes every later snapshot's records: anchored days then verify against
    records the new definition computes, so bump the code version alongside (it is automatic).
    """
    if source.name in SOURCES and not replace:
        raise ValueError(f"snapshot source {source.name!r} is already registered")
    SOURCES[source.name] = source


for _source in (
    SnapshotSource(
        name="telemetry_digest",
        query=TELEMETRY_DIGEST_SQL,
        key=("machine_id", "sensor", "hour"),
        tables=("telemetry",),
        description="per machine, sensor and UTC hour: counts, min/max/mean, readings_sha256",
    ),
    _table_source("rul_predictions", ("machine_id", "ts"), "remaining-useful-life predictions"),
    _table_source("maintenance_alerts", ("machine_id", "ts"), "maintenance alerts raised"),
    _table_source("decisions", ("machine_id", "ts"), "decisions taken by the policy"),
):
    register_source(_source)


def default_sources() -> list[SnapshotSource]:
    """The registered sources in name order (the order used in manifests)."""
    return [SOURCES[name] for name in sorted(SOURCES)]


# --- canonical encoding -------------------------------------------------------------------------


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


def reading_line(ts: dt.datetime, value: float, quality: str) -> str:
    """One reading's line in ``readings_sha256`` (reference for rebuilding the digest)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    delta = ts - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros},{float(value)!r},{quality}"


# --- records of one source ----------------------------------------------------------------------


def _normalise_type(t: pa.DataType) -> pa.DataType:
    """Types as the snapshot stores them: UTC microsecond timestamps, plain strings and lists."""
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pa.types.is_dictionary(t):
        return _normalise_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_normalise_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _normalise_type(f.type)) for f in t])
    return t


def _normalise(table: pa.Table, source: str) -> pa.Table:
    schema = pa.schema([pa.field(f.name, _normalise_type(f.type)) for f in table.schema])
    try:
        return table.cast(schema, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SnapshotError(
            f"snapshot source {source!r}: cannot store its columns as {schema} ({exc}); cast "
            "them in the source query (e.g. nanosecond timestamps to microseconds)"
        ) from exc


def schema_hash(schema: pa.Schema) -> str:
    """``sha256:<hex>`` of the column names and (pyarrow) types, in column order."""
    columns = [[f.name, str(f.type)] for f in schema]
    text = json.dumps(columns, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _sort_value(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


@dataclass(frozen=True)
class SourceRecords:
    """The records of one source for one day, in canonical order."""

    name: str
    key_columns: tuple[str, ...]
    tables: tuple[str, ...]
    table: pa.Table
    records: list[bytes]
    keys: list[tuple[str, ...]]
    """Each record's key values as text (:func:`key_text`)."""

    @property
    def rows(self) -> int:
        return len(self.records)

    @property
    def schema_hash(self) -> str:
        return schema_hash(self.table.schema)

    def key_dict(self, index: int) -> dict[str, str]:
        return dict(zip(self.key_columns, self.keys[index], strict=True))

    def index(self) -> dict[tuple[str, ...], list[int]]:
        """Record positions by key (a key may repeat if the source's key is not unique)."""
        positions: dict[tuple[str, ...], list[int]] = {}
        for i, k in enumerate(self.keys):
            positions.setdefault(k, []).append(i)
        return positions


def records_from_table(
    name: str, key: Sequence[str], table: pa.Table, tables: Sequence[str] = ()
) -> SourceRecords:
    """Normalise ``table``, sort it canonically and encode every row as a record."""
    key = tuple(key)
    missing = [k for k in key if k not in table.column_names]
    if missing:
        raise SnapshotError(
            f"snapshot source {name!r} declares key columns {list(key)} but its rows have no "
            f"{missing} (columns: {table.column_names}): fix the source's key"
        )
    table = _normalise(table.replace_schema_metadata(None), name)
    rows = table.to_pylist()
    records = [canonical_record(name, row) for row in rows]
    order = sorted(
        range(len(rows)),
        key=lambda i: (tuple(_sort_value(rows[i][k]) for k in key), records[i]),
    )
    if order != list(range(len(rows))):
        table = table.take(pa.array(order, type=pa.int64()))
        records = [records[i] for i in order]
        rows = [rows[i] for i in order]
    keys = [tuple(key_text(row[k]) for k in key) for row in rows]
    return SourceRecords(name, key, tuple(tables), table, records, keys)


def records_from_parquet(
    name: str, key: Sequence[str], data: bytes, tables: Sequence[str] = ()
) -> SourceRecords:
    """The records of one snapshot Parquet file (as fetched from IPFS)."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SnapshotError(
            f"snapshot file of source {name!r} is not valid Parquet: {exc}"
        ) from exc
    return records_from_table(name, key, table, tables)


# --- records of one day -------------------------------------------------------------------------


@dataclass
class DayRecords:
    """Every record of one day, by source, with the Merkle tree over them."""

    day: dt.date
    sources: list[SourceRecords]
    skipped: dict[str, str] = field(default_factory=dict)
    """Sources not included, with why (e.g. their table does not exist yet)."""
    _tree: MerkleTree | None = field(default=None, repr=False)

    @property
    def record_count(self) -> int:
        return sum(s.rows for s in self.sources)

    def all_records(self) -> list[bytes]:
        return [r for s in self.sources for r in s.records]

    @property
    def tree(self) -> MerkleTree:
        if self._tree is None:
            if self.record_count == 0:
                raise EmptySnapshot(
                    f"{self.day}: no records in any snapshot source "
                    f"({', '.join(s.name for s in self.sources) or 'none present'}): there is "
                    "nothing to anchor; load the day's telemetry first"
                )
            self._tree = MerkleTree(record_leaves(self.all_records()))
        return self._tree

    @property
    def root(self) -> bytes:
        return self.tree.root

    def source(self, name: str) -> SourceRecords | None:
        return next((s for s in self.sources if s.name == name), None)

    @property
    def warehouse_tables(self) -> list[str]:
        return sorted({t for s in self.sources for t in s.tables})

    def locate(self, name: str, key: tuple[str, ...]) -> list[int]:
        """Global leaf indices (positions in :meth:`all_records`) of ``name``'s records ``key``."""
        offset = 0
        for s in self.sources:
            if s.name == name:
                return [offset + i for i in s.index().get(key, [])]
            offset += s.rows
        return []


def _fetch(con: duckdb.DuckDBPyConnection, source: SnapshotSource, day: dt.date) -> pa.Table:
    try:
        result = con.execute(source.query, {"day": day}).arrow()
    except duckdb.Error as exc:
        raise SnapshotError(f"snapshot source {source.name!r}: its query failed: {exc}") from exc
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def collect_records(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    sources: Sequence[SnapshotSource] | None = None,
) -> DayRecords:
    """Compute the records of ``day`` from the warehouse (read-only: nothing is written)."""
    chosen = sorted(sources if sources is not None else default_sources(), key=lambda s: s.name)
    names = [s.name for s in chosen]
    if len(set(names)) != len(names):
        raise SnapshotError(f"snapshot sources must have distinct names, got {names}")
    present = table_names(con)
    included: list[SourceRecords] = []
    skipped: dict[str, str] = {}
    for source in chosen:
        absent = [t for t in source.tables if t not in present]
        if absent:
            skipped[source.name] = f"table {', '.join(absent)} does not exist in the warehouse"
            continue
        table = _fetch(con, source, day)
        included.append(records_from_table(source.name, source.key, table, source.tables))
    return DayRecords(day, included, skipped)


# --- the snapshot folder ------------------------------------------------------------------------


@dataclass
class Snapshot:
    """A built snapshot folder and what it commits to."""

    day: dt.date
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    records: DayRecords

    @property
    def root(self) -> bytes:
        return self.records.root

    @property
    def root_hex(self) -> str:
        return "0x" + self.root.hex()

    @property
    def record_count(self) -> int:
        return self.records.record_count


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def write_snapshot(
    records: DayRecords,
    out_dir: str | os.PathLike[str],
    *,
    code_version: str,
    model_version: str | None,
) -> Snapshot:
    """Write ``records`` as Parquet files plus ``manifest.json`` into the empty ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise SnapshotError(
            f"{out} is not empty: a snapshot folder must hold nothing but the snapshot (its "
            "IPFS CID covers every file); choose a new folder"
        )
    root = records.root  # raises EmptySnapshot before anything is written
    out.mkdir(parents=True, exist_ok=True)
    sources: dict[str, Any] = {}
    for s in records.sources:
        file_name = f"{s.name}.parquet"
        pq.write_table(s.table, out / file_name, **PARQUET_OPTIONS)
        sources[s.name] = {
            "file": file_name,
            "rows": s.rows,
            "key": list(s.key_columns),
            "tables": list(s.tables),
            "schema_hash": s.schema_hash,
            "sha256": _sha256_file(out / file_name),
        }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "partition": records.day.isoformat(),
        "root": "0x" + root.hex(),
        "record_count": records.record_count,
        "leaf_encoding": dict(LEAF_ENCODING),
        "leaf_hash": "keccak256(keccak256(record))",
        "tree": "OpenZeppelin SimpleMerkleTree: sorted leaves, sorted-pair keccak256",
        "sources": sources,
        "skipped_sources": dict(records.skipped),
        "warehouse_tables": records.warehouse_tables,
        "code_version": code_version,
        "model_version": model_version,
        "parquet": {"writer": f"pyarrow {pa.__version__}", **PARQUET_OPTIONS},
    }
    data = _manifest_bytes(manifest)
    (out / MANIFEST_NAME).write_bytes(data)
    return Snapshot(records.day, out, manifest, hashlib.sha256(data).hexdigest(), records)


def build_snapshot(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    out_dir: str | os.PathLike[str],
    *,
    code_version: str,
    model_version: str | None,
    sources: Sequence[SnapshotSource] | None = None,
) -> Snapshot:
    """Compute ``day``'s records and write the snapshot folder ``out_dir`` (must be empty).

    The same warehouse content, code version and model version give a byte-identical folder,
    hence the same IPFS CID. Raises :class:`EmptySnapshot` for a day without records.
    """
    records = collect_records(con, day, sources)
    return write_snapshot(records, out_dir, code_version=code_version, model_version=model_version)


def parse_manifest(data: bytes) -> dict[str, Any]:
    """Parse and sanity-check a manifest; raises :class:`SnapshotError` naming the problem."""
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"manifest.json is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"manifest.json is not a {FORMAT} manifest")
    sources = manifest.get("sources")
    if not isinstance(sources, dict):
        raise SnapshotError("manifest.json has no 'sources' object")
    for name, entry in sources.items():
        file_name = entry.get("file") if isinstance(entry, dict) else None
        if (
            not isinstance(file_name, str)
            or not _NAME.match(str(name))
            or "/" in file_name
            or file_name.startswith(".")
        ):
            raise SnapshotError(f"manifest.json: source {name!r} has an invalid file entry")
    return manifest


def check_snapshot_dir(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Check a snapshot folder on disk against its manifest; return the manifest.

    Every listed file must exist with its recorded SHA-256 and no other (non-hidden) file may be
    present, so what gets published is exactly what was built.
    """
    folder = Path(path)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise SnapshotError(f"{folder} holds no {MANIFEST_NAME}: not a snapshot folder")
    manifest = parse_manifest(manifest_path.read_bytes())
    expected = {MANIFEST_NAME}
    for name, entry in manifest["sources"].items():
        file_path = folder / entry["file"]
        expected.add(entry["file"])
        if not file_path.is_file():
            raise SnapshotError(f"{file_path} (source {name!r}) is missing")
        if _sha256_file(file_path) != entry.get("sha256"):
            raise SnapshotError(
                f"{file_path} (source {name!r}) does not match the SHA-256 in the manifest: the "
                "folder was modified after it was built; rebuild the snapshot"
            )
    extra = sorted(p.name for p in folder.iterdir() if p.name not in expected and p.name[0] != ".")
    if extra:
        raise SnapshotError(f"{folder} holds files the manifest does not list: {extra}")
    return manifest


# --- code version -------------------------------------------------------------------------------


@functools.cache
def code_version() -> str:
    """``<package version>+src.<12 hex>``: the version plus a hash of the dt_platform sources.

    Hashes every ``.py`` file of the package (relative path and content, in path order), so it
    works in a wheel or a tarball without git and changes whenever the code that computed the
    records changes. Computed once per process: it describes the code that was loaded.
    """
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix()):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package).as_posix().encode()
        content = path.read_bytes()
        digest.update(len(rel).to_bytes(4, "big") + rel + len(content).to_bytes(8, "big"))
        digest.update(content)
    return f"{__version__}+src.{digest.hexdigest()[:12]}"
