"""UnixFS importer that produces the same CIDs as Kubo's ``ipfs add``.

It mirrors boxo's ``ipld/unixfs/importer`` (what Kubo runs):

* fixed-size chunker (``size-262144`` by default); chunks are never empty, an empty file has none;
* balanced layout (``balanced.Layout``): the first leaf is the root until a second chunk exists,
  then the tree grows one level at a time, each internal node holding at most ``max_links``
  children (174 by default), filled depth-first;
* trickle layout (``ipfs add -t``), same recursion as ``trickle.Layout`` with 4 repeats per depth;
* leaves are raw blocks (always CIDv1 ``raw``) or dag-pb UnixFS nodes; a single-chunk file with
  raw leaves *is* its raw block, so it gets a ``bafk…`` CID even when CIDv0 was asked for;
* ``Tsize`` in every link = encoded size of the child block plus its children's Tsizes;
* directories as ``ipfs add -r`` builds them: a plain UnixFS Directory node, links sorted by name
  bytewise, hidden entries (name starting with ``.``) skipped unless asked for, symlinks stored
  as UnixFS Symlink nodes.

Hashing works on memoryview slices and feeds the dag-pb envelope of a leaf to the hash in three
pieces (header, chunk, trailer), so the chunk bytes are never copied.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from dt_platform.trust.ipfs.cids import DAG_PB, RAW, hash_spec
from dt_platform.trust.ipfs.dagpb import (
    PBLink,
    UnixFSData,
    UnixFSType,
    encode_pbnode,
    encode_unixfs,
    encode_varint,
)
from dt_platform.trust.ipfs.errors import IpfsError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_LINKS",
    "HAMT_SHARDING_THRESHOLD",
    "MAX_CHUNK_SIZE",
    "AddedEntry",
    "BlockSink",
    "DirectoryTooLarge",
    "ImportOptions",
    "ImportedNode",
    "UnixFSImporter",
    "UnsupportedFileType",
    "is_hidden",
]

DEFAULT_CHUNK_SIZE = 262_144
DEFAULT_MAX_LINKS = 174
MAX_CHUNK_SIZE = 1_048_576  # boxo chunker.ChunkSizeLimit
HAMT_SHARDING_THRESHOLD = 262_144  # Kubo Import.UnixFSHAMTDirectorySizeThreshold default
TRICKLE_DEPTH_REPEAT = 4

Buffer = bytes | bytearray | memoryview


class BlockSink(Protocol):
    """Receives every block the importer creates, children before parents.

    ``parts`` concatenated are the block's bytes; they are handed over in pieces so a leaf's
    chunk is never copied just to prepend a few header bytes.
    """

    def put_parts(self, cid: bytes, parts: Sequence[Buffer]) -> None: ...


class DirectoryTooLarge(IpfsError, ValueError):
    """The directory would be HAMT-sharded by Kubo, which this importer does not implement."""


class UnsupportedFileType(IpfsError, ValueError):
    """Sockets, FIFOs and devices cannot be represented in UnixFS."""


@dataclass(frozen=True)
class ImportOptions:
    """The ``ipfs add`` flags that change CIDs.

    ``raw_leaves=None`` means Kubo's default: raw leaves exactly when ``cid_version`` is 1.
    """

    cid_version: int = 1
    raw_leaves: bool | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_links: int = DEFAULT_MAX_LINKS
    layout: Literal["balanced", "trickle"] = "balanced"
    hash_function: str = "sha2-256"
    include_hidden: bool = False

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise ValueError(f"cid_version must be 0 or 1, got {self.cid_version}")
        if not 1 <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be in 1..{MAX_CHUNK_SIZE}, got {self.chunk_size}")
        if self.max_links < 2:
            raise ValueError(f"max_links must be at least 2, got {self.max_links}")
        if self.layout not in ("balanced", "trickle"):
            raise ValueError(f"layout must be 'balanced' or 'trickle', got {self.layout!r}")
        hash_spec(self.hash_function)  # raises on unknown names
        if self.cid_version == 0 and self.hash_function != "sha2-256":
            raise ValueError("CIDv0 only supports sha2-256: pass cid_version=1 with this hash")

    @property
    def use_raw_leaves(self) -> bool:
        return self.cid_version == 1 if self.raw_leaves is None else self.raw_leaves


@dataclass(frozen=True)
class ImportedNode:
    """A node the importer finished: its CID, its link Tsize and (for files) its content size."""

    cid: bytes
    tsize: int
    file_size: int = 0


@dataclass(frozen=True)
class AddedEntry:
    """One line of ``ipfs add`` output: ``path`` is relative to the added root's parent."""

    path: str
    node: ImportedNode


def is_hidden(name: str) -> bool:
    """Kubo's notion of a hidden file (``ipfs add -r`` skips them without ``--hidden``)."""
    return name.startswith(".")


# --- chunk sources ------------------------------------------------------------------------------


class _BytesChunks:
    """Fixed-size chunks of an in-memory buffer, as zero-copy memoryview slices."""

    __slots__ = ("_end", "_mv", "_pos", "_size")

    def __init__(self, data: Buffer, size: int) -> None:
        self._mv = memoryview(data).cast("B")
        self._pos = 0
        self._end = len(self._mv)
        self._size = size

    def done(self) -> bool:
        return self._pos >= self._end

    def next(self) -> memoryview:
        start = self._pos
        self._pos = min(start + self._size, self._end)
        return self._mv[start : self._pos]


class _ReaderChunks:
    """Fixed-size chunks of a binary stream, read one chunk ahead (like boxo's DagBuilderHelper,
    which must know whether more data follows before deciding the tree shape)."""

    __slots__ = ("_next", "_reader", "_size")

    def __init__(self, reader: BinaryIO, size: int) -> None:
        self._reader = reader
        self._size = size
        self._next = self._read()

    def _read(self) -> bytes | None:
        data = self._reader.read(self._size)
        if not data:
            return None
        if len(data) < self._size:  # short read from a pipe/socket: keep filling the chunk
            parts = [data]
            have = len(data)
            while have < self._size:
                more = self._reader.read(self._size - have)
                if not more:
                    break
                parts.append(more)
                have += len(more)
            data = b"".join(parts)
        return data

    def done(self) -> bool:
        return self._next is None

    def next(self) -> bytes:
        chunk = self._next
        assert chunk is not None
        self._next = self._read()
        return chunk


_Chunks = _BytesChunks | _ReaderChunks


@dataclass
class _FileNodeBuilder:
    """boxo's FSNodeOverDag for a File: collects children, then commits one dag-pb node."""

    links: list[PBLink] = field(default_factory=list)
    blocksizes: list[int] = field(default_factory=list)
    children_tsize: int = 0

    def add(self, child: ImportedNode) -> None:
        self.links.append(PBLink(child.cid, "", child.tsize))
        self.blocksizes.append(child.file_size)
        self.children_tsize += child.tsize


# --- the importer -------------------------------------------------------------------------------


class UnixFSImporter:
    """Turns bytes, streams and filesystem paths into UnixFS DAGs.

    ``sink=None`` only computes CIDs (``ipfs add --only-hash``).
    """

    def __init__(self, options: ImportOptions | None = None, sink: BlockSink | None = None) -> None:
        self.options = options or ImportOptions()
        self.sink = sink
        spec = hash_spec(self.options.hash_function)
        self._new_hash = spec.new
        mh_prefix = encode_varint(spec.code) + encode_varint(spec.digest_size)
        self._raw_prefix = b"\x01" + encode_varint(RAW) + mh_prefix
        if self.options.cid_version == 0:
            self._node_prefix = mh_prefix
        else:
            self._node_prefix = b"\x01" + encode_varint(DAG_PB) + mh_prefix
        self._raw_leaves = self.options.use_raw_leaves

    # -- blocks --

    def _emit(self, prefix: bytes, parts: Sequence[Buffer]) -> bytes:
        h = self._new_hash()
        for part in parts:
            h.update(part)
        cid = prefix + h.digest()
        if self.sink is not None:
            self.sink.put_parts(cid, parts)
        return cid

    def _emit_node(self, links: Sequence[PBLink], unixfs: bytes) -> tuple[bytes, int]:
        block = encode_pbnode(links, unixfs)
        return self._emit(self._node_prefix, (block,)), len(block)

    def _leaf(self, chunk: Buffer, kind: UnixFSType = UnixFSType.FILE) -> ImportedNode:
        size = len(chunk)
        if self._raw_leaves:
            return ImportedNode(self._emit(self._raw_prefix, (chunk,)), size, size)
        # PBNode{Data: UnixFS{Type, Data: chunk, filesize}} written around the chunk, not copied.
        n = encode_varint(size)
        unixfs_len = 2 + 1 + len(n) + size + 1 + len(n)
        head = b"\x0a" + encode_varint(unixfs_len) + b"\x08" + bytes((kind,)) + b"\x12" + n
        tail = b"\x18" + n
        cid = self._emit(self._node_prefix, (head, chunk, tail))
        return ImportedNode(cid, len(head) + size + len(tail), size)

    def _empty_file(self) -> ImportedNode:
        """boxo ``NewLeafNode(nil, TFile)``: raw empty block, or a File node with no Data."""
        if self._raw_leaves:
            return ImportedNode(self._emit(self._raw_prefix, (b"",)), 0, 0)
        unixfs = encode_unixfs(UnixFSData(UnixFSType.FILE, filesize=0))
        cid, size = self._emit_node((), unixfs)
        return ImportedNode(cid, size, 0)

    def _commit(self, node: _FileNodeBuilder) -> ImportedNode:
        file_size = sum(node.blocksizes)
        unixfs = encode_unixfs(
            UnixFSData(UnixFSType.FILE, filesize=file_size, blocksizes=tuple(node.blocksizes))
        )
        cid, size = self._emit_node(node.links, unixfs)
        return ImportedNode(cid, size + node.children_tsize, file_size)

    # -- layouts --

    def _balanced(self, chunks: _Chunks) -> ImportedNode:
        if chunks.done():
            return self._empty_file()
        root = self._leaf(chunks.next())
        depth = 1
        while not chunks.done():
            new_root = _FileNodeBuilder()
            new_root.add(root)
            root = self._fill_balanced(chunks, new_root, depth)
            depth += 1
        return root

    def _fill_balanced(self, chunks: _Chunks, node: _FileNodeBuilder, depth: int) -> ImportedNode:
        max_links = self.options.max_links
        while len(node.links) < max_links and not chunks.done():
            if depth == 1:
                child = self._leaf(chunks.next())
            else:
                child = self._fill_balanced(chunks, _FileNodeBuilder(), depth - 1)
            node.add(child)
        return self._commit(node)

    def _trickle(self, chunks: _Chunks) -> ImportedNode:
        return self._fill_trickle(chunks, _FileNodeBuilder(), -1)

    def _fill_trickle(
        self, chunks: _Chunks, node: _FileNodeBuilder, max_depth: int
    ) -> ImportedNode:
        max_links = self.options.max_links
        while len(node.links) < max_links and not chunks.done():
            node.add(self._leaf(chunks.next(), UnixFSType.RAW))
        depth = 1
        while (max_depth == -1 or depth < max_depth) and not chunks.done():
            for _ in range(TRICKLE_DEPTH_REPEAT):
                if chunks.done():
                    break
                node.add(self._fill_trickle(chunks, _FileNodeBuilder(), depth))
            depth += 1
        return self._commit(node)

    def _layout(self, chunks: _Chunks) -> ImportedNode:
        if self.options.layout == "trickle":
            return self._trickle(chunks)
        return self._balanced(chunks)

    # -- public API --

    def import_bytes(self, data: Buffer) -> ImportedNode:
        """One file from memory."""
        return self._layout(_BytesChunks(data, self.options.chunk_size))

    def import_reader(self, reader: BinaryIO) -> ImportedNode:
        """One file from a binary stream (read sequentially, one chunk at a time)."""
        return self._layout(_ReaderChunks(reader, self.options.chunk_size))

    def import_symlink(self, target: str) -> ImportedNode:
        """A UnixFS Symlink node, as Kubo stores symbolic links met inside ``ipfs add -r``."""
        unixfs = encode_unixfs(UnixFSData(UnixFSType.SYMLINK, data=os.fsencode(target)))
        cid, size = self._emit_node((), unixfs)
        return ImportedNode(cid, size, 0)

    def build_directory(self, entries: Mapping[str, ImportedNode]) -> ImportedNode:
        """A basic UnixFS directory over already-imported children.

        Raises :class:`DirectoryTooLarge` where Kubo would switch to a HAMT-sharded directory
        (estimated size = Σ len(name) + len(CID) ≥ 256 KiB), rather than produce another CID.
        """
        encoded = []
        estimated = 0
        for name, child in entries.items():
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"invalid directory entry name {name!r}")
            try:
                raw_name = name.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(
                    f"file name {name!r} is not valid UTF-8; UnixFS names must be UTF-8, "
                    "so rename it before adding"
                ) from None
            estimated += len(raw_name) + len(child.cid)
            encoded.append((raw_name, name, child))
        if estimated >= HAMT_SHARDING_THRESHOLD:
            raise DirectoryTooLarge(
                f"directory with {len(entries)} entries needs HAMT sharding in Kubo "
                f"(estimated {estimated} bytes ≥ {HAMT_SHARDING_THRESHOLD}); the embedded importer "
                "does not shard, so split the folder into sub-folders"
            )
        encoded.sort(key=lambda item: item[0])
        links = [PBLink(child.cid, name, child.tsize) for _, name, child in encoded]
        cid, size = self._emit_node(links, encode_unixfs(UnixFSData(UnixFSType.DIRECTORY)))
        return ImportedNode(cid, size + sum(link.tsize for link in links), 0)

    def import_path(self, path: str | os.PathLike[str]) -> tuple[ImportedNode, list[AddedEntry]]:
        """``ipfs add -r PATH``: a file, a symlink or a directory tree.

        Returns the root and the entries in the order Kubo prints them (files as they are
        added, then directories children-first), the root last. Entry paths start with the
        basename of ``path``.
        """
        root_path = Path(path)
        name = root_path.name or root_path.resolve().name
        files: list[AddedEntry] = []
        dirs: list[AddedEntry] = []
        node = self._import_any(root_path, name, files, dirs)
        return node, files + dirs

    def _import_any(
        self,
        path: Path,
        rel: str,
        files: list[AddedEntry],
        dirs: list[AddedEntry],
    ) -> ImportedNode:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            node = self.import_symlink(os.readlink(path))
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as fh:
                node = self.import_reader(fh)
        elif stat.S_ISDIR(st.st_mode):
            children: dict[str, ImportedNode] = {}
            with os.scandir(path) as it:
                names = sorted(
                    (e.name for e in it),
                    key=lambda n: n.encode("utf-8", "surrogateescape"),
                )
            for child_name in names:
                if not self.options.include_hidden and is_hidden(child_name):
                    continue
                children[child_name] = self._import_any(
                    path / child_name, f"{rel}/{child_name}", files, dirs
                )
            node = self.build_directory(children)
            dirs.append(AddedEntry(rel, node))
            return node
        else:
            raise UnsupportedFileType(
                f"{path}: only regular files, directories and symlinks can be added to IPFS"
            )
        files.append(AddedEntry(rel, node))
        return node
