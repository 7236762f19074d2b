"""The records of a day: each source's rows in canonical order, and the Merkle tree over them.

Records come from the warehouse (:func:`collect_records`) or from a snapshot's Parquet files
(:func:`records_from_parquet`); both go through :func:`records_from_table`, so the same rows give
the same records whichever way they were read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform.trust.merkle import MerkleTree, record_leaves
from dt_platform.trust.snapshot.encoding import canonical_record, key_text
from dt_platform.trust.snapshot.errors import EmptySnapshot, SnapshotError
from dt_platform.trust.snapshot.sources import SnapshotSource, default_sources
from dt_platform.warehouse import table_names


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
        if absent and source.omit_when_empty:
            continue
        if absent:
            skipped[source.name] = f"table {', '.join(absent)} does not exist in the warehouse"
            continue
        table = _fetch(con, source, day)
        if source.omit_when_empty and table.num_rows == 0:
            continue
        included.append(records_from_table(source.name, source.key, table, source.tables))
    return DayRecords(day, included, skipped)
