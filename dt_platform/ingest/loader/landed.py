"""Read a landed dump once, safely (:mod:`dt_platform.ingest.safe_read`: only a regular file
inside landing, reached without following any link, opened without blocking), hash those bytes,
and let everything after work on them. Whatever is refused or fails is described by a reason code
and recorded in the ledger like any quarantined file.

Parsers that need a path (DuckDB's CSV and Parquet readers) get a private copy of the bytes under a
generated name (:func:`private_copy`): never the landed path, which could hold glob characters
(``*``, ``?``, ``[``) that make DuckDB read sibling files, or be swapped after it was hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dt_platform.ingest.loader.records import _Delivery
from dt_platform.ingest.loader.rules import IngestLimits
from dt_platform.ingest.safe_read import (
    DIR_FLAGS,
    Refused,
    describe_os_error,
    read_regular_at,
)


@dataclass(frozen=True)
class _Arrival:
    """A discovered entry of landing: where it is, how it looked when listed (``lstat``; None if
    it could not be examined) and the bounds to read it with."""

    landing: Path
    parts: tuple[str, ...]
    stat: os.stat_result | None
    limits: IngestLimits
    problem: tuple[str, str] | None = None
    """(reason, detail) when the entry could not even be examined."""


def examine(landing: Path, path: Path, limits: IngestLimits) -> _Arrival:
    """The arrival of a discovered ``path``: its ``lstat`` (the entry itself, never a link's
    target), or the problem that kept it from being examined."""
    parts = path.relative_to(landing).parts
    try:
        return _Arrival(landing, parts, os.lstat(path), limits)
    except OSError as exc:
        return _Arrival(landing, parts, None, limits, describe_os_error(exc))


def _read_delivery(rel: str, path: Path, arrival: _Arrival) -> _Delivery:
    """Read one arrival: its bytes and their sha256, or why it was refused."""
    try:
        if arrival.problem is not None:
            raise Refused(*arrival.problem)
        data, before, after = _read_regular_file(arrival)
    except Refused as refused:
        return _Delivery.refused_entry(
            rel, path, _now(path, arrival), refused.reason, refused.detail
        )
    except OSError as exc:
        return _Delivery.refused_entry(rel, path, _now(path, arrival), *describe_os_error(exc))
    return _Delivery(
        rel,
        path,
        before,
        data,
        hashlib.sha256(data).hexdigest(),
        (after.st_size, after.st_mtime_ns),
    )


def _now(path: Path, arrival: _Arrival) -> os.stat_result | None:
    """The entry as it is now (it may have changed since it was listed): what a refusal records,
    so that the entry is looked at again only when it changes again."""
    try:
        return os.lstat(path)
    except OSError:
        return arrival.stat


def _read_regular_file(arrival: _Arrival) -> tuple[bytes, os.stat_result, os.stat_result]:
    """(bytes, stat before, stat after) of the regular file at ``arrival``: every folder below
    landing opened without following a link (a link anywhere in the path fails with ELOOP or
    ENOTDIR), then the file read by :func:`~dt_platform.ingest.safe_read.read_regular_at`."""
    fd = os.open(arrival.landing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in arrival.parts[:-1]:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        return read_regular_at(fd, arrival.parts[-1], arrival.limits.max_file_bytes, _too_large)
    finally:
        os.close(fd)


def _too_large(size: int, limit: int) -> str:
    return (
        f"{size / 2**20:.1f} MiB is more than DT_MAX_DUMP_MB ({limit / 2**20:g} MiB); "
        "split the dump or raise the limit"
    )


def ledger_name(rel: str) -> str:
    """How a landed path is written in the ledger: valid UTF-8 whatever bytes the name holds
    (undecodable bytes as ``\\xNN``)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@contextlib.contextmanager
def private_copy(data: bytes, suffix: str) -> Iterator[Path]:
    """The bytes in a new file only this process knows, under a generated name free of glob
    characters; removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="dt_ingest_", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def still_holds(path: Path, read_stat: tuple[int, int]) -> bool:
    """Whether the landed ``path`` still has the size and mtime it had when read (a file gone
    since counts: its bytes were read in full)."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return True
    return (now.st_size, now.st_mtime_ns) == read_stat
