"""Daily audit snapshots: the records of a day, their canonical bytes, deterministic Parquet.

A day's audit snapshot is a folder with one Parquet file per *snapshot source* and a
``manifest.json``. Every row of every source is one *record*; every record is one Merkle leaf; the
root of those leaves is what the chain anchors. Anyone holding the folder (from IPFS) can rebuild
the root without our code, so the encoding is specified here, exactly.

Modules: :mod:`.sources` (the source registry and the telemetry digest), :mod:`.encoding` (the
canonical record bytes), :mod:`.records` (a day's records and Merkle tree), :mod:`.folder` (the
snapshot folder and its manifest), :mod:`.documents` (documents such as a daily report that a
day's anchor covers as records), :mod:`.version` (:func:`code_version`), :mod:`.errors`.
"""

from dt_platform.trust.snapshot.documents import (
    attach_document,
    attached_documents,
    covering_day,
    ensure_documents_table,
)
from dt_platform.trust.snapshot.encoding import (
    LEAF_ENCODING,
    canonical_record,
    canonical_value,
    format_timestamp,
    key_text,
)
from dt_platform.trust.snapshot.errors import EmptySnapshot, SnapshotError
from dt_platform.trust.snapshot.folder import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    PARQUET_OPTIONS,
    Snapshot,
    build_snapshot,
    check_snapshot_dir,
    parse_manifest,
    write_snapshot,
)
from dt_platform.trust.snapshot.records import (
    DayRecords,
    SourceRecords,
    collect_records,
    records_from_parquet,
    records_from_table,
    schema_hash,
)
from dt_platform.trust.snapshot.sources import (
    SOURCE_FILES_SQL,
    SOURCES,
    TELEMETRY_DIGEST_SQL,
    SnapshotSource,
    default_sources,
    file_reading_line,
    reading_line,
    register_source,
)
from dt_platform.trust.snapshot.version import code_version

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "LEAF_ENCODING",
    "MANIFEST_NAME",
    "PARQUET_OPTIONS",
    "SOURCES",
    "SOURCE_FILES_SQL",
    "TELEMETRY_DIGEST_SQL",
    "DayRecords",
    "EmptySnapshot",
    "Snapshot",
    "SnapshotError",
    "SnapshotSource",
    "SourceRecords",
    "attach_document",
    "attached_documents",
    "build_snapshot",
    "canonical_record",
    "canonical_value",
    "check_snapshot_dir",
    "code_version",
    "collect_records",
    "covering_day",
    "default_sources",
    "ensure_documents_table",
    "file_reading_line",
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
