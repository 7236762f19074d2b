"""Writing a file so that no reader ever sees half of it.

The bytes go to a temporary sibling, which is renamed over the target once complete (a rename
within one file system is atomic on POSIX). If anything fails on the way, the temporary file is
removed and the target is left as it was: never half-written, never a stray temporary file.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique name next to ``path`` (landing ignores dotfiles and ``*.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, tmp: Path | None = None, make_parents: bool = True
) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends normally it replaces ``path``.

    ``tmp`` names the temporary file (default: :func:`temporary_sibling`); it must be on the
    same file system as ``path``. On an exception it is deleted and ``path`` is untouched.
    """
    target = Path(path)
    scratch = tmp or temporary_sibling(target)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield scratch
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    tmp: Path | None = None,
    fsync: bool = False,
    make_parents: bool = True,
    encoding: str | None = None,
) -> Iterator[IO]:
    """Yield a file open for writing; its content replaces ``path`` when the block ends normally.

    ``fsync`` flushes the data to disk before the rename (for stores that must survive a power
    cut, not only a crash of the process).
    """
    if "w" not in mode:
        raise ValueError(f"atomic_open writes a new file; mode {mode!r} does not")
    with atomic_path(path, tmp=tmp, make_parents=make_parents) as scratch:
        with open(scratch, mode, encoding=encoding) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, **options) -> None:
    """Write ``data`` to ``path`` atomically (options as for :func:`atomic_path`)."""
    with atomic_path(path, **options) as scratch:
        scratch.write_bytes(data)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", **options
) -> None:
    """Write ``text`` to ``path`` atomically (options as for :func:`atomic_path`)."""
    atomic_write_bytes(path, text.encode(encoding), **options)
