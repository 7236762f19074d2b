"""What landing holds now, as one digest: the landing sensor starts ingestion when it changes.

The digest covers every complete dump entry (path, type, size, modification and change time), the
CMMS exports and the machine registry files, so a new file, a corrected file (even one with the
same size and mtime: its ctime changes) or an edited registry each change it.

Landing is examined with ``lstat`` only: a link is not followed and a FIFO or device is never
opened, so nothing a gateway puts there can block the sensor or make it fail; an entry that
disappears while it is listed is left out.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from dt_platform.cmms import MAINTENANCE_FOLDER
from dt_platform.ingest.loader import discover_dumps
from dt_platform.ingest.maintenance import export_entries
from dt_platform.ingest.registry import registry_files


def landing_fingerprint(landing: Path, registry_path: Path) -> tuple[str, int]:
    """A digest of what is in landing and the registry, and the number of landed files."""
    # every entry the loaders would examine, links and FIFOs included: they are refused on record
    files = discover_dumps(landing) + sorted(export_entries(landing / MAINTENANCE_FOLDER))
    digest = hashlib.sha256()
    for path in files:
        try:
            s = os.lstat(path)
        except OSError:
            continue
        digest.update(
            f"{path.relative_to(landing)}\0{s.st_mode}\0{s.st_size}\0{s.st_mtime_ns}\0"
            f"{s.st_ctime_ns}\n".encode("utf-8", "surrogateescape")
        )
    for path in registry_files(registry_path):
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            mtime = -1
        digest.update(f"{path}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest(), len(files)
