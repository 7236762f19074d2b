"""What the platform asks of an IPFS store (:class:`IpfsStore`), whichever backend serves it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class IpfsStore(Protocol):
    """What the platform needs from IPFS. CIDs are text (``Qm…`` for v0, ``baf…`` for v1)."""

    def add_bytes(self, data: bytes, *, cid_version: int = 1, pin: bool = True) -> str: ...

    def add_path(self, path: Path, *, cid_version: int = 1, pin: bool = True) -> str: ...

    def cat(self, cid_or_path: str) -> bytes: ...

    def pin(self, cid: str) -> None: ...

    def has(self, cid: str) -> bool: ...

    def version(self) -> str: ...


@dataclass(frozen=True)
class AddEntry:
    """One line of ``ipfs add`` output: Kubo's ``{Name, Hash, Size}`` (Size = cumulative)."""

    name: str
    cid: str
    size: int


def _raw_leaves_for(cid_version: int, raw_leaves: bool | None) -> bool:
    """Kubo's default: raw leaves with CIDv1, dag-pb leaves with CIDv0."""
    return cid_version == 1 if raw_leaves is None else raw_leaves
