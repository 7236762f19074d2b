"""The code version every manifest records: which code computed the records."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import dt_platform
from dt_platform import __version__


@functools.cache
def code_version() -> str:
    """``<package version>+src.<12 hex>``: the version plus a hash of the dt_platform sources.

    Hashes every ``.py`` file of the package (relative path and content, in path order), so it
    works in a wheel or a tarball without git and changes whenever the code that computed the
    records changes. Computed once per process: it describes the code that was loaded.
    """
    # Located from the package itself, not from this file's depth inside it, so that moving
    # this module can never narrow what is hashed.
    package = Path(dt_platform.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix()):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package).as_posix().encode()
        content = path.read_bytes()
        digest.update(len(rel).to_bytes(4, "big") + rel + len(content).to_bytes(8, "big"))
        digest.update(content)
    return f"{__version__}+src.{digest.hexdigest()[:12]}"
