"""Atomic file writing: a reader never sees a half-written dump.

Files are written under ``<name>.part`` and renamed; the platform ignores ``*.part`` names
(docs/dumps.md), and a rename within one directory is atomic on POSIX file systems.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _part(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_parquet(path: Path, table: pa.Table) -> None:
    """Parquet with fixed writer options, so equal tables give byte-identical files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _part(path)
    try:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
