"""A rebuild that says the same keeps the bytes already published.

The HTML of a report holds its build time, so two builds of an unchanged day differ byte for byte.
If a rebuild replaced the files, the copies already mailed would no longer be the ones the
covering day's anchor proves: a manager could not prove the report in their inbox. So when the
day's folder holds an earlier build that says the same (``content_sha256``) with its files intact
(their SHA-256 as the manifest records them), that build stays: its files, its build time and its
covering day, provided that day's snapshot is not built yet (the files are attached there again,
which changes nothing) or already holds exactly these files. Otherwise the report is built anew.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dt_platform.trust.snapshot import attached_documents

MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class KeptBuild:
    """An earlier build of the same report: when it was built, which day covers it, its bytes
    by kind (``html``, and ``pdf`` when it had one) and their names among the documents."""

    generated_at: str
    covering_day: dt.date
    contents: dict[str, bytes]
    names: dict[str, str]


def earlier_build(
    manifest_path: Path, content_sha256: str, files: dict[str, Path]
) -> KeptBuild | None:
    """The build recorded in the manifest at ``manifest_path`` if it says ``content_sha256`` and
    every file it lists (``files``: kind → where that file is) is on disk as recorded."""
    try:
        if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not content_sha256 or manifest.get("content_sha256") != content_sha256:
            return None
        contents, names = {}, {}
        for f in manifest["files"]:
            data = files[f["kind"]].read_bytes()
            if hashlib.sha256(data).hexdigest() != f["sha256"]:
                return None
            contents[f["kind"]], names[f["kind"]] = data, f["name"]
        covering = dt.date.fromisoformat(manifest["covering_day"])
        generated_at = str(manifest["generated_at"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if "html" not in contents:
        return None
    return KeptBuild(generated_at, covering, contents, names)


def still_covered(
    con: duckdb.DuckDBPyConnection, kept: KeptBuild, unbuilt: dt.date, *, with_pdf: bool
) -> bool:
    """Can ``kept`` stay, attached to its covering day? Yes when that day is ``unbuilt`` (the
    first day with no snapshot at or after the report's covering day), or its built snapshot
    holds every file of ``kept`` and no PDF is to be added (``with_pdf``: a PDF made now for a
    build that had none, which a built day cannot take)."""
    if kept.covering_day == unbuilt:
        return True
    if with_pdf or kept.covering_day > unbuilt:
        return False
    held = {d["name"]: d["sha256"] for d in attached_documents(con, kept.covering_day)}
    return all(
        held.get(kept.names[kind]) == hashlib.sha256(data).hexdigest()
        for kind, data in kept.contents.items()
    )
