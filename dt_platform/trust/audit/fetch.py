"""Read an anchored snapshot back from IPFS and check it against its anchor.

Every inconsistency becomes a :class:`~dt_platform.trust.audit.report.Problem`; only what makes
the records unreadable stops the loading, so a report names as much as can be known.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from dt_platform.trust.audit.anchors import to_hex
from dt_platform.trust.audit.report import Problem
from dt_platform.trust.chain import Anchor
from dt_platform.trust.ipfs import IpfsError, IpfsStore
from dt_platform.trust.snapshot import (
    LEAF_ENCODING,
    MANIFEST_NAME,
    SOURCES,
    DayRecords,
    SnapshotError,
    SnapshotSource,
    SourceRecords,
    parse_manifest,
    records_from_parquet,
)


def _registry_key(name: str, sources: Sequence[SnapshotSource] | None) -> tuple[str, ...] | None:
    pool = {s.name: s for s in sources} if sources is not None else SOURCES
    return pool[name].key if name in pool else None


def _fetch_manifest(ipfs: IpfsStore, cid: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return parse_manifest(ipfs.cat(f"{cid}/{MANIFEST_NAME}"))
    except IpfsError as exc:
        problems.append(
            Problem("snapshot_unavailable", f"snapshot {cid} cannot be retrieved from IPFS: {exc}")
        )
    except SnapshotError as exc:
        problems.append(Problem("manifest_invalid", f"snapshot {cid}: {exc}"))
    return None


def _check_manifest(
    manifest: dict[str, Any], anchor: Anchor, day: dt.date, problems: list[Problem]
) -> bool:
    """Note where the manifest contradicts the anchor; ``False`` if its records cannot be read."""
    expected = {
        "partition": day.isoformat(),
        "root": to_hex(anchor.root),
        "record_count": anchor.record_count,
    }
    for name, value in expected.items():
        if manifest.get(name) != value:
            problems.append(
                Problem(
                    "manifest_mismatch",
                    f"manifest {name} is {manifest.get(name)!r}, the anchor says {value!r}",
                )
            )
    if manifest.get("leaf_encoding") != LEAF_ENCODING:
        problems.append(
            Problem(
                "encoding_mismatch",
                f"the snapshot uses leaf encoding {manifest.get('leaf_encoding')!r}; this "
                f"verifier knows {LEAF_ENCODING!r}: use a matching dt-platform version",
            )
        )
        return False
    return True


def _read_source(
    name: str, key: tuple[str, ...], entry: dict[str, Any], data: bytes
) -> SourceRecords:
    """The records of one file under ``key``, or else under the key the manifest recorded."""
    try:
        return records_from_parquet(name, key, data, entry.get("tables") or ())
    except SnapshotError:
        # Today's key may name columns an older snapshot lacks: read it under its own key.
        return records_from_parquet(name, tuple(entry["key"]), data)


def _check_source(recs: SourceRecords, entry: dict[str, Any], problems: list[Problem]) -> None:
    if recs.rows != entry.get("rows"):
        problems.append(
            Problem(
                "manifest_mismatch",
                f"{entry['file']} holds {recs.rows} rows, the manifest says {entry.get('rows')}",
            )
        )
    if recs.schema_hash != entry.get("schema_hash"):
        problems.append(
            Problem(
                "manifest_mismatch",
                f"{entry['file']} has schema {recs.schema_hash}, the manifest says "
                f"{entry.get('schema_hash')}",
            )
        )


def _load_source(
    ipfs: IpfsStore,
    cid: str,
    name: str,
    entry: dict[str, Any],
    sources: Sequence[SnapshotSource] | None,
    problems: list[Problem],
) -> SourceRecords | None:
    """One source's file from the snapshot, checked against the manifest; ``None`` if unreadable."""
    try:
        data = ipfs.cat(f"{cid}/{entry['file']}")
    except IpfsError as exc:
        problems.append(
            Problem("snapshot_unavailable", f"{cid}/{entry['file']} cannot be retrieved: {exc}")
        )
        return None
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        problems.append(
            Problem(
                "file_tampered",
                f"{entry['file']} does not match the SHA-256 recorded in the manifest",
            )
        )
    key = _registry_key(name, sources) or tuple(entry.get("key") or ())
    try:
        recs = _read_source(name, key, entry, data)
    except (SnapshotError, KeyError, TypeError) as exc:
        problems.append(Problem("snapshot_unreadable", f"{entry['file']}: {exc}"))
        return None
    _check_source(recs, entry, problems)
    return recs


def load_snapshot(
    ipfs: IpfsStore,
    anchor: Anchor,
    day: dt.date,
    sources: Sequence[SnapshotSource] | None,
    problems: list[Problem],
) -> tuple[DayRecords | None, dict[str, Any] | None]:
    """Fetch the snapshot an anchor names and check it against the anchor, noting problems."""
    manifest = _fetch_manifest(ipfs, anchor.cid, problems)
    if manifest is None:
        return None, None
    if not _check_manifest(manifest, anchor, day, problems):
        return None, manifest
    loaded: list[SourceRecords] = []
    for name in sorted(manifest["sources"]):
        recs = _load_source(ipfs, anchor.cid, name, manifest["sources"][name], sources, problems)
        if recs is None:
            return None, manifest
        loaded.append(recs)
    return DayRecords(day, loaded, dict(manifest.get("skipped_sources") or {})), manifest
