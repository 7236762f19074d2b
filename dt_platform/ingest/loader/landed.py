"""Read a landed file safely: only a regular file inside landing, reached without following any
link, opened without blocking, read once; everything after works on the bytes read.

A gateway controls what appears in landing. It could put a symbolic link there (to make the
platform copy any local file into ``telemetry_rejects``), a link to ``/dev/zero``, a FIFO (which
blocks a reader for ever, while the run holds the warehouse's writer lock), a socket or a device;
it could replace a folder with a link between discovery and read, or a file with another. So every
path component below landing is opened with ``O_NOFOLLOW`` relative to its parent's descriptor,
the entry is examined with ``lstat`` before it is opened (``O_NONBLOCK``, in case it was swapped
for a FIFO in between), and the descriptor is checked again (``fstat``) to be a regular file. Whatever is refused or fails is described by a reason
code and recorded in the ledger like any quarantined file.

Parsers that need a path (DuckDB's CSV and Parquet readers) get a private copy of the bytes under a
generated name (:func:`private_copy`): never the landed path, which could hold glob characters
(``*``, ``?``, ``[``) that make DuckDB read sibling files, or be swapped after it was hashed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat as st
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dt_platform.ingest.loader.records import _Delivery
from dt_platform.ingest.loader.rules import IngestLimits

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 24


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


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def kind_of(mode: int) -> str:
    """What a file-system entry is, in words."""
    kinds = (
        (st.S_ISLNK, "a symbolic link"),
        (st.S_ISFIFO, "a named pipe (FIFO)"),
        (st.S_ISSOCK, "a socket"),
        (st.S_ISCHR, "a character device"),
        (st.S_ISBLK, "a block device"),
        (st.S_ISDIR, "a directory"),
    )
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def describe_os_error(exc: OSError) -> tuple[str, str]:
    """(reason, detail) for an error met while examining or reading a landed entry."""
    if exc.errno == errno.ENOENT:
        return "vanished_file", "the file disappeared (deleted or renamed) before it was read"
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return (
            "not_a_regular_file",
            "a symbolic link in its path (a folder replaced by a link or a file); links are "
            "not followed",
        )
    if exc.errno == errno.ENXIO:
        return "not_a_regular_file", "a socket or device; only regular files are read"
    return "unreadable_file", f"the file could not be read: {exc.strerror or exc}"


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
            raise _Refused(*arrival.problem)
        data, before, after = _read_regular_file(arrival)
    except _Refused as refused:
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
    """(bytes, stat before, stat after) of the regular file at ``arrival``."""
    fd = _open_below(arrival.landing, arrival.parts)
    try:
        before = os.fstat(fd)
        if not st.S_ISREG(before.st_mode):  # swapped between the lstat and the open
            raise _Refused(
                "not_a_regular_file", f"{kind_of(before.st_mode)}; only regular files are read"
            )
        limit = arrival.limits.max_file_bytes
        if before.st_size > limit:
            raise _Refused("file_too_large", _too_large(before.st_size, limit))
        data = _read_all(fd, before.st_size, limit)
        return data, before, os.fstat(fd)
    finally:
        os.close(fd)


def _open_below(landing: Path, parts: tuple[str, ...]) -> int:
    """A descriptor of ``landing/parts…``, every component below landing opened without following
    a link (a link anywhere in the path fails with ELOOP or ENOTDIR)."""
    fd = os.open(landing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        entry = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        if not st.S_ISREG(entry.st_mode):  # never open a FIFO or a device
            raise _Refused(
                "not_a_regular_file", f"{kind_of(entry.st_mode)}; only regular files are read"
            )
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def _read_all(fd: int, size: int, limit: int) -> bytes:
    """Every byte of ``fd`` (usually one read of the size ``fstat`` gave), never more than
    ``limit``: a file still growing past it is refused."""
    chunks, total = [], 0
    while True:
        # One read of the whole file, then one that finds its end; more only if it grew.
        chunk = os.read(fd, size + 1 - total if total <= size else _CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _Refused("file_too_large", _too_large(total, limit))
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
