"""Documents a day's anchor covers besides its records: a daily report, a track-record summary.

One anchoring transaction a day covers everything, because a published document enters the
day's snapshot as a *record* of the source ``published_documents`` (one record per document,
keyed by ``name``: its IPFS CID, the SHA-256 and size of its bytes, its media type). The Merkle
root then covers the document's CID like any other record, so anyone can prove it on chain
(``verifyRecord``) and fetch the document by that CID and check its bytes by the SHA-256.

When to attach: before the snapshot of that day is built. A document attached to a day that is
already anchored changes its records, so it would need a new version with a reason (a second
transaction). A document that shows a day's own anchor (the daily report of day D shows D's CID,
root and tx) cannot be covered by that anchor; attach it to the next day's snapshot
(:func:`covering_day`), anchored in that day's one transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import duckdb

from dt_platform.trust.snapshot.errors import SnapshotError

TABLE = "published_documents"
MAX_NAME = 200
MAX_CID = 128
MAX_MEDIA_TYPE = 100

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_CID = re.compile(r"^[A-Za-z0-9]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")

DOCUMENTS_SQL = f"""
SELECT day, name, cid, sha256, size_bytes, media_type
FROM {TABLE}
WHERE day = $day
"""


def ensure_documents_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``published_documents`` if it does not exist."""
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            day DATE NOT NULL,
            name VARCHAR NOT NULL,
            cid VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            size_bytes BIGINT NOT NULL,
            media_type VARCHAR NOT NULL,
            PRIMARY KEY (day, name))"""
    )


def covering_day(document_day: dt.date) -> dt.date:
    """The day whose snapshot covers a document about ``document_day`` that shows that day's
    own anchor (e.g. its daily report): the next day."""
    return document_day + dt.timedelta(days=1)


def _checked(name: str, cid: str, sha256: str, size_bytes: int, media_type: str) -> None:
    problems = []
    if not isinstance(name, str) or len(name) > MAX_NAME or not _NAME.match(name):
        problems.append(
            f"name {name!r} must be 1–{MAX_NAME} characters of letters, digits and . _ / - "
            "(e.g. daily_report/2026-11-20.html)"
        )
    if not isinstance(cid, str) or len(cid) > MAX_CID or not _CID.match(cid):
        problems.append(f"cid {cid!r} must be an IPFS CID (1–{MAX_CID} letters and digits)")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        problems.append(f"sha256 {sha256!r} must be 64 lower-case hex digits")
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes < 0:
        problems.append(f"size_bytes {size_bytes!r} must be a whole number ≥ 0")
    if (
        not isinstance(media_type, str)
        or len(media_type) > MAX_MEDIA_TYPE
        or not _MEDIA_TYPE.match(media_type)
    ):
        problems.append(f"media_type {media_type!r} must look like text/html")
    if problems:
        raise SnapshotError("cannot attach the document: " + "; ".join(problems))


def attach_document(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    name: str,
    cid: str,
    *,
    sha256: str,
    size_bytes: int,
    media_type: str,
) -> None:
    """Make ``day``'s snapshot (hence its anchor) cover the document ``name`` at ``cid``.

    ``sha256`` and ``size_bytes`` describe the document's bytes (what ``ipfs cat <cid>`` returns).
    Attaching the same name again replaces the entry; raises :class:`SnapshotError` naming every
    invalid argument. ``con`` must be writable.
    """
    _checked(name, cid, sha256, size_bytes, media_type)
    ensure_documents_table(con)
    con.execute(
        f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)",
        [day, name, cid, sha256, size_bytes, media_type],
    )


def attached_documents(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[dict[str, Any]]:
    """The documents attached to ``day``, by name (empty if none, or no table yet)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [TABLE]
    ).fetchone()
    if not exists or not exists[0]:
        return []
    cursor = con.execute(DOCUMENTS_SQL + " ORDER BY name", {"day": day})
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
