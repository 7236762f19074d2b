"""The snapshot folder: deterministic Parquet files and ``manifest.json``, written and checked.

The same records, code version and model version give a byte-identical folder, hence the same
IPFS CID; :func:`check_snapshot_dir` makes sure nothing changed before it is published.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform.trust.snapshot.encoding import LEAF_ENCODING
from dt_platform.trust.snapshot.errors import SnapshotError
from dt_platform.trust.snapshot.records import DayRecords, collect_records
from dt_platform.trust.snapshot.sources import SOURCE_NAME_PATTERN, SnapshotSource

FORMAT = "dt-platform/audit-snapshot"
FORMAT_VERSION = 1
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
            or not SOURCE_NAME_PATTERN.match(str(name))
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
