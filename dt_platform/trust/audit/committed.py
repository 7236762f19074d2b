"""The records a recorded build committed to, read back from its snapshot folder or from IPFS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dt_platform.trust.audit.errors import AuditError
from dt_platform.trust.audit.table import Row
from dt_platform.trust.ipfs import IpfsError, IpfsStore
from dt_platform.trust.snapshot import (
    MANIFEST_NAME,
    DayRecords,
    SnapshotError,
    check_snapshot_dir,
    parse_manifest,
    records_from_parquet,
)


def _records(day: Any, manifest: dict[str, Any], read: Callable[[str], bytes]) -> DayRecords:
    sources = []
    for name in sorted(manifest["sources"]):
        entry = manifest["sources"][name]
        data = read(entry["file"])
        sources.append(
            records_from_parquet(name, tuple(entry["key"]), data, entry.get("tables") or ())
        )
    return DayRecords(day, sources, dict(manifest.get("skipped_sources") or {}))


def _from_folder(row: Row) -> DayRecords:
    folder = Path(row.snapshot_dir)
    manifest = check_snapshot_dir(folder)
    return _records(row.partition, manifest, lambda name: (folder / name).read_bytes())


def _from_ipfs(row: Row, ipfs: IpfsStore) -> DayRecords:
    manifest = parse_manifest(ipfs.cat(f"{row.cid}/{MANIFEST_NAME}"))
    return _records(row.partition, manifest, lambda name: ipfs.cat(f"{row.cid}/{name}"))


def committed_records(row: Row, ipfs: IpfsStore | None = None) -> DayRecords:
    """The records ``row``'s snapshot holds: from its folder on disk if it is intact, else from
    IPFS by its CID. Raises :class:`AuditError` when neither gives records with the row's root."""
    failures = []
    readers: list[tuple[str, Callable[[], DayRecords]]] = [
        (f"folder {row.snapshot_dir}", lambda: _from_folder(row))
    ]
    if row.cid and ipfs is not None:
        readers.append((f"IPFS {row.cid}", lambda: _from_ipfs(row, ipfs)))
    for where, read in readers:
        try:
            records = read()
            root = "0x" + records.root.hex()
        except (SnapshotError, IpfsError, OSError, KeyError, TypeError) as exc:
            failures.append(f"{where}: {exc}")
            continue
        if root == row.root:
            return records
        failures.append(f"{where}: its records have another root than {row.root}")
    raise AuditError(
        f"the snapshot of {row.partition} (row {row.id}) cannot be read back: "
        + "; ".join(failures)
    )
