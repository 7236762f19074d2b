"""Reading what gateways and people deliver into landing, safely: only regular files, reached
without following links, opened without blocking, read once and capped.

A gateway controls what appears in landing. It could put a symbolic link there (to make the
platform copy any local file into the rejects), a link to ``/dev/zero``, a FIFO (which blocks a
reader for ever while a run holds the warehouse's writer lock), a socket or a device, or swap a
file for another between listing and reading. So an entry is examined with ``lstat`` before it is
opened, opened relative to its folder's descriptor with ``O_NOFOLLOW | O_NONBLOCK``, and the open
descriptor is checked again (``fstat``) to be a regular file. The dump loader and the maintenance
log both read through here, so every refusal carries the same reason codes.
"""

from __future__ import annotations

import errno
import os
import stat as st
from collections.abc import Callable

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 24


class Refused(Exception):
    """The entry is not read: ``reason`` is its reason code, ``detail`` says why in words."""

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


def read_regular_at(
    dir_fd: int, name: str, limit: int, too_large: Callable[[int, int], str]
) -> tuple[bytes, os.stat_result, os.stat_result]:
    """``(bytes, stat before, stat after)`` of the regular file ``name`` in the folder open as
    ``dir_fd``, never more than ``limit`` bytes (``too_large(size, limit)`` words the refusal).

    Raises :class:`Refused` for anything but a regular file or a file too large, and ``OSError``
    (see :func:`describe_os_error`) when it vanished or cannot be read.
    """
    entry = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not st.S_ISREG(entry.st_mode):  # never open a FIFO or a device
        raise Refused(
            "not_a_regular_file", f"{kind_of(entry.st_mode)}; only regular files are read"
        )
    fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    try:
        before = os.fstat(fd)
        if not st.S_ISREG(before.st_mode):  # swapped between the lstat and the open
            raise Refused(
                "not_a_regular_file", f"{kind_of(before.st_mode)}; only regular files are read"
            )
        if before.st_size > limit:
            raise Refused("file_too_large", too_large(before.st_size, limit))
        data = _read_all(fd, before.st_size, limit, too_large)
        return data, before, os.fstat(fd)
    finally:
        os.close(fd)


def _read_all(fd: int, size: int, limit: int, too_large: Callable[[int, int], str]) -> bytes:
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
            raise Refused("file_too_large", too_large(total, limit))
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
