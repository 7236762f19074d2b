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

MAX_EXPORT_BYTES = 64 * 1024 * 1024
"""A CMMS export holds hundreds of work orders a year; anything this large is not one."""

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


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
        for test, kind in (
            (stat.S_ISLNK, "a symlink"),
            (stat.S_ISFIFO, "a FIFO"),
            (stat.S_ISDIR, "a folder"),
            (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"),
        ):
            if test(self.mode):
                return kind
        return "a regular file" if self.regular else "not a regular file"


class Refused(Exception):
    """The entry is not read; ``reason`` is a code of ``reasons.FILE_REASONS``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


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
        fd = os.open(folder, _DIR_FLAGS)
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
        raise Refused("file_too_large", f"{entry.size} bytes; at most {MAX_EXPORT_BYTES} are read")
    try:
        fd = os.open(entry.name, _OPEN_FLAGS, dir_fd=folder_fd)
    except FileNotFoundError as exc:
        raise Refused("unreadable_file", "vanished between listing and reading") from exc
    except OSError as exc:
        # ELOOP: replaced by a symlink since the listing.
        raise Refused("unreadable_file", f"cannot open: {os.strerror(exc.errno or 0)}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("not_a_regular_file", "replaced by something other than a regular file")
        data = _read_capped(fd)
    except OSError as exc:
        raise Refused("unreadable_file", f"read failed: {os.strerror(exc.errno or 0)}") from exc
    finally:
        os.close(fd)
    return Export(entry.name, data, hashlib.sha256(data).hexdigest())


def _read_capped(fd: int) -> bytes:
    chunks, total = [], 0
    while chunk := os.read(fd, 1 << 20):
        total += len(chunk)
        if total > MAX_EXPORT_BYTES:
            raise Refused("file_too_large", f"grew past {MAX_EXPORT_BYTES} bytes while read")
        chunks.append(chunk)
    return b"".join(chunks)
