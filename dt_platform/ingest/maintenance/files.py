"""Which entries of ``landing/cmms/`` are exports, and reading one safely.

Only regular files directly inside the folder are read, and that is checked without following
links: the folder is opened with ``O_NOFOLLOW`` (a symlinked ``cmms`` is refused), every entry is
classified by ``lstat`` and opened relative to the folder with ``O_NOFOLLOW | O_NONBLOCK`` (a
FIFO cannot hang the run), and the open descriptor must again be a regular file. The bytes read
from that descriptor are the bytes that are hashed and parsed; no path is handed to anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dt_platform.ingest.safe_read import (
    DIR_FLAGS,
    Refused,
    describe_os_error,
    kind_of,
    read_regular_at,
)

MAX_EXPORT_BYTES = 64 * 1024 * 1024
"""A CMMS export holds hundreds of work orders a year; anything this large is not one."""


@dataclass(frozen=True)
class Entry:
    """One ``*.csv`` name in the folder, as ``lstat`` saw it (links not followed)."""

    name: str
    mode: int
    size: int
    mtime_ns: int

    @property
    def regular(self) -> bool:
        return stat.S_ISREG(self.mode)

    def kind(self) -> str:
        return "a regular file" if self.regular else kind_of(self.mode)


@dataclass(frozen=True)
class Export:
    """The bytes of one export, read once from an open descriptor, and their sha256."""

    name: str
    data: bytes
    sha256: str


def _is_export_name(name: str) -> bool:
    return name.endswith(".csv") and not name.startswith(".")


@contextlib.contextmanager
def open_folder(folder: Path) -> Iterator[int | None]:
    """A descriptor of ``folder`` (None when it does not exist); a symlinked folder raises
    ``Refused``."""
    try:
        fd = os.open(folder, DIR_FLAGS)
    except FileNotFoundError:
        yield None
        return
    except OSError as exc:
        raise Refused(
            "not_a_regular_file",
            f"{folder.name}/ is not a real folder ({os.strerror(exc.errno or 0)}); exports are "
            "read only from a folder inside landing, never through a link",
        ) from exc
    try:
        yield fd
    finally:
        os.close(fd)


def scan(folder_fd: int) -> list[Entry]:
    """The ``*.csv`` entries of the folder (hidden names excluded), oldest first (mtime, name)."""
    entries = []
    with os.scandir(folder_fd) as it:
        for item in it:
            if not _is_export_name(item.name):
                continue
            try:
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone since the listing
            entries.append(Entry(item.name, st.st_mode, st.st_size, st.st_mtime_ns))
    return sorted(entries, key=lambda e: (e.mtime_ns, e.name))


def _entries(folder: Path) -> list[Entry]:
    try:
        with open_folder(folder) as fd:
            return [] if fd is None else scan(fd)
    except Refused:
        return []  # a folder that is itself a symlink holds nothing


def export_entries(folder: Path) -> list[Path]:
    """Every ``*.csv`` entry the maintenance log examines, oldest first, whatever its type: the
    regular files it reads and the links, FIFOs or folders it records as refused (examined
    without following links)."""
    return [folder / e.name for e in _entries(folder)]


def export_files(folder: Path) -> list[Path]:
    """The export files, oldest first, so that the latest export of a work order wins.

    Only regular files count (symlinks, FIFOs, devices and folders are not exports), checked
    without following links; a folder that is itself a symlink holds no exports."""
    return [folder / e.name for e in _entries(folder) if e.regular]


def read_export(folder_fd: int, entry: Entry) -> Export:
    """Read one entry through a descriptor that is checked to be a regular file."""
    if not entry.regular:
        raise Refused(
            "not_a_regular_file",
            f"{entry.kind()}; only regular files in landing/cmms are read",
        )
    if entry.size > MAX_EXPORT_BYTES:
        raise Refused("file_too_large", _too_large(entry.size, MAX_EXPORT_BYTES))
    try:
        data, _, _ = read_regular_at(folder_fd, entry.name, MAX_EXPORT_BYTES, _too_large)
    except OSError as exc:
        raise Refused(*describe_os_error(exc)) from exc
    return Export(entry.name, data, hashlib.sha256(data).hexdigest())


def _too_large(size: int, limit: int) -> str:
    return f"{size} bytes; at most {limit} are read"
