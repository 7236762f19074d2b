"""The embedded store, the default: our UnixFS importer over a blockstore folder under
``DT_HOME/ipfs``. No daemon, no network; CIDs identical to Kubo's ``ipfs add``; a CAR export
hands the data to any Kubo node or pinning service."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from dt_platform import __version__
from dt_platform.trust.ipfs.backends.interface import AddEntry
from dt_platform.trust.ipfs.blockstore import Blockstore
from dt_platform.trust.ipfs.car import export_car, import_car
from dt_platform.trust.ipfs.cids import cid_from_str, cid_to_str
from dt_platform.trust.ipfs.reader import file_size, iter_file, resolve_path, write_tree
from dt_platform.trust.ipfs.unixfs import (
    ImportedNode,
    ImportOptions,
    UnixFSImporter,
)

EMBEDDED_VERSION = f"dt-platform-embedded/{__version__}"


# --- embedded -----------------------------------------------------------------------------------


class EmbeddedIpfs:
    """The embedded content store rooted at ``root`` (the platform passes ``Settings.ipfs_dir``)."""

    def __init__(self, root: str | os.PathLike[str], *, sync: bool = True) -> None:
        self.root = Path(root)
        self.blocks = Blockstore(self.root, sync=sync)

    def __repr__(self) -> str:
        return f"EmbeddedIpfs({str(self.root)!r})"

    def importer(
        self,
        *,
        cid_version: int = 1,
        raw_leaves: bool | None = None,
        only_hash: bool = False,
        **options: Any,
    ) -> UnixFSImporter:
        """An importer writing into this store (or only hashing, like ``--only-hash``)."""
        opts = ImportOptions(cid_version=cid_version, raw_leaves=raw_leaves, **options)
        return UnixFSImporter(opts, sink=None if only_hash else self.blocks)

    def _finish(self, node: ImportedNode, pin: bool, only_hash: bool) -> str:
        if pin and not only_hash:
            self.blocks.pin(node.cid)
        return cid_to_str(node.cid)

    def add_bytes(
        self,
        data: bytes,
        *,
        cid_version: int = 1,
        pin: bool = True,
        raw_leaves: bool | None = None,
        only_hash: bool = False,
    ) -> str:
        """Add one file's content; return its CID (as ``ipfs add`` of a file with that content)."""
        importer = self.importer(
            cid_version=cid_version, raw_leaves=raw_leaves, only_hash=only_hash
        )
        return self._finish(importer.import_bytes(data), pin, only_hash)

    def add_stream(
        self,
        reader: BinaryIO,
        *,
        cid_version: int = 1,
        pin: bool = True,
        raw_leaves: bool | None = None,
        only_hash: bool = False,
    ) -> str:
        """Add one file read sequentially from a binary stream (constant memory)."""
        importer = self.importer(
            cid_version=cid_version, raw_leaves=raw_leaves, only_hash=only_hash
        )
        return self._finish(importer.import_reader(reader), pin, only_hash)

    def add_path_entries(
        self,
        path: str | os.PathLike[str],
        *,
        cid_version: int = 1,
        pin: bool = True,
        raw_leaves: bool | None = None,
        include_hidden: bool = False,
        only_hash: bool = False,
    ) -> list[AddEntry]:
        """``ipfs add -r PATH``: every file and directory added, the root last."""
        importer = self.importer(
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            only_hash=only_hash,
            include_hidden=include_hidden,
        )
        root, entries = importer.import_path(path)
        self._finish(root, pin, only_hash)
        return [AddEntry(e.path, cid_to_str(e.node.cid), e.node.tsize) for e in entries]

    def add_path(
        self,
        path: str | os.PathLike[str],
        *,
        cid_version: int = 1,
        pin: bool = True,
        raw_leaves: bool | None = None,
        include_hidden: bool = False,
        only_hash: bool = False,
    ) -> str:
        """Add a file or a folder (recursively, hidden entries skipped); return the root CID."""
        entries = self.add_path_entries(
            path,
            cid_version=cid_version,
            pin=pin,
            raw_leaves=raw_leaves,
            include_hidden=include_hidden,
            only_hash=only_hash,
        )
        return entries[-1].cid

    def resolve(self, cid_or_path: str) -> str:
        """The CID a ``CID/sub/path`` names."""
        return cid_to_str(resolve_path(self.blocks.get, cid_or_path))

    def cat_iter(self, cid_or_path: str) -> Iterator[bytes]:
        """File contents in pieces (one per leaf), without holding the whole file."""
        return iter_file(self.blocks.get, resolve_path(self.blocks.get, cid_or_path))

    def cat(self, cid_or_path: str) -> bytes:
        """File contents of ``CID`` or ``CID/sub/path``."""
        return b"".join(self.cat_iter(cid_or_path))

    def size(self, cid_or_path: str) -> int:
        """Content size of a file, read from its root block only."""
        return file_size(self.blocks.get, resolve_path(self.blocks.get, cid_or_path))

    def get(self, cid_or_path: str, dest: str | os.PathLike[str]) -> None:
        """``ipfs get``: write the file or folder tree to ``dest``."""
        write_tree(self.blocks.get, resolve_path(self.blocks.get, cid_or_path), dest)

    def get_block(self, cid: str) -> bytes:
        return self.blocks.get(cid_from_str(cid))

    def pin(self, cid: str) -> None:
        """Pin recursively; raises :class:`IpfsNotFound` if part of the DAG is missing."""
        self.blocks.pin(cid_from_str(cid))

    def unpin(self, cid: str) -> None:
        self.blocks.unpin(cid_from_str(cid))

    def pins(self) -> list[str]:
        return [cid_to_str(c) for c in self.blocks.pins()]

    def has(self, cid: str) -> bool:
        """Is the block ``cid`` names stored locally? (``ipfs block stat --offline`` succeeds.)"""
        return self.blocks.has(cid_from_str(cid))

    def version(self) -> str:
        return EMBEDDED_VERSION

    def export_car(self, cid: str, path: str | os.PathLike[str]) -> int:
        """``ipfs dag export``; returns the number of blocks written."""
        return export_car(self.blocks, cid, path)

    def import_car(self, path: str | os.PathLike[str], *, pin_roots: bool = True) -> list[str]:
        """``ipfs dag import``; returns the roots."""
        return import_car(self.blocks, path, pin_roots=pin_roots)
