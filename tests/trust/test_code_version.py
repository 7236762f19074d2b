"""code_version() covers the whole dt_platform package, wherever the function itself lives."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dt_platform
from dt_platform.trust.snapshot import code_version


def test_code_version_hashes_every_source_of_the_package() -> None:
    """Rebuilt from its docstring: relative path and content of each .py file, in path order."""
    package = Path(dt_platform.__file__).resolve().parent
    files = sorted(
        (p for p in package.rglob("*.py") if "__pycache__" not in p.parts),
        key=lambda p: p.relative_to(package).as_posix(),
    )
    assert any(p.parent == package for p in files)  # top-level modules such as config.py
    digest = hashlib.sha256()
    for path in files:
        rel = path.relative_to(package).as_posix().encode()
        content = path.read_bytes()
        digest.update(len(rel).to_bytes(4, "big") + rel + len(content).to_bytes(8, "big"))
        digest.update(content)
    assert code_version() == f"{dt_platform.__version__}+src.{digest.hexdigest()[:12]}"
