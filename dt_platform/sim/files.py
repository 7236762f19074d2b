"""How the simulated gateways write: a reader never sees a half-written dump.

Files are written under ``<name>.part`` and renamed (:mod:`dt_platform.fileio`); the platform
ignores ``*.part`` names (docs/dumps.md).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform import fileio


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    fileio.atomic_write_bytes(path, data, tmp=_part(path))


def atomic_write_parquet(path: Path, table: pa.Table) -> None:
    """Parquet with fixed writer options, so equal tables give byte-identical files."""
    with fileio.atomic_path(path, tmp=_part(path)) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
