"""What landing holds now, as one digest: the landing sensor starts ingestion when it changes.

The digest covers every complete dump (path, size, modification time), the CMMS exports and the
machine registry files, so a new file, a corrected file or an edited registry each change it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dt_platform.cmms import MAINTENANCE_FOLDER
from dt_platform.ingest.loader import discover_dumps
from dt_platform.ingest.maintenance import export_files
from dt_platform.ingest.registry import registry_files


def landing_fingerprint(landing: Path, registry_path: Path) -> tuple[str, int]:
    """A digest of what is in landing and the registry, and the number of landed files."""
    files = discover_dumps(landing) + sorted(export_files(landing / MAINTENANCE_FOLDER))
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(landing)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for path in registry_files(registry_path):
        digest.update(f"{path}\0{path.stat().st_mtime_ns}\n".encode())
    return digest.hexdigest(), len(files)
