"""Reading DAGs back: file contents, ``CID/sub/path`` resolution and link walking.

Works on any ``get_block(cid) -> bytes`` function, so the blockstore, a CAR being checked, or a
test's dict can all be read the same way. Error messages follow Kubo's where a user may compare
them (``this dag node is a directory``, ``no link named "x" under …``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from dt_platform.trust.ipfs import dagcbor
from dt_platform.trust.ipfs.cids import (
    DAG_CBOR,
    DAG_PB,
    RAW,
    CidError,
    cid_from_str,
    cid_to_str,
    parse_cid,
)
from dt_platform.trust.ipfs.dagpb import (
    DagPbError,
    PBLink,
    UnixFSData,
    UnixFSType,
    decode_pbnode,
    decode_unixfs,
)
from dt_platform.trust.ipfs.errors import IpfsError, IpfsNotFound

__all__ = [
    "GetBlock",
    "NotAFileError",
    "PathNotFoundError",
    "UnixFSReadError",
    "file_size",
    "iter_file",
    "links_of",
    "list_directory",
    "resolve_path",
    "split_path",
    "walk_dag",
    "write_tree",
]

GetBlock = Callable[[bytes], bytes]


class UnixFSReadError(IpfsError, ValueError):
    """The DAG cannot be read as UnixFS (wrong codec, malformed node, unsupported feature)."""


class NotAFileError(UnixFSReadError):
    """``cat`` was asked for a directory or a symlink."""


class PathNotFoundError(UnixFSReadError, IpfsNotFound):
    """A ``CID/sub/path`` segment does not exist."""


def split_path(path: str) -> tuple[bytes, list[str]]:
    """``"/ipfs/CID/a/b"`` or ``"CID/a/b"`` → (binary CID, ["a", "b"])."""
    text = path.strip()
    if text.startswith("/ipfs/"):
        text = text[len("/ipfs/") :]
    elif text.startswith("ipfs://"):
        text = text[len("ipfs://") :]
    head, _, rest = text.partition("/")
    if not head:
        raise CidError(f"{path!r} does not start with a CID")
    return cid_from_str(head), [seg for seg in rest.split("/") if seg]


def _unixfs(cid: bytes, block: bytes) -> tuple[tuple[PBLink, ...], UnixFSData]:
    try:
        node = decode_pbnode(block)
        if node.data is None:
            raise DagPbError("dag-pb node has no Data, so it is not UnixFS")
        return node.links, decode_unixfs(node.data)
    except DagPbError as exc:
        raise UnixFSReadError(f"{cid_to_str(cid)}: {exc}") from exc


def _codec(cid: bytes) -> int:
    return parse_cid(cid).codec


def resolve_path(get_block: GetBlock, path: str) -> bytes:
    """The CID that ``CID/sub/path`` names, walking UnixFS directories."""
    cid, segments = split_path(path)
    for seg in segments:
        if _codec(cid) != DAG_PB:
            raise PathNotFoundError(f'no link named "{seg}" under {cid_to_str(cid)}')
        links, fs = _unixfs(cid, get_block(cid))
        if fs.type == UnixFSType.HAMT_SHARD:
            raise UnixFSReadError(
                f"{cid_to_str(cid)} is a HAMT-sharded directory, which the embedded store "
                "cannot walk; resolve this path on a Kubo node (DT_IPFS_API)"
            )
        if fs.type != UnixFSType.DIRECTORY:
            raise PathNotFoundError(f'no link named "{seg}" under {cid_to_str(cid)}')
        for link in links:
            if link.name == seg:
                cid = link.hash
                break
        else:
            raise PathNotFoundError(f'no link named "{seg}" under {cid_to_str(cid)}')
    return cid


def iter_file(get_block: GetBlock, cid: bytes) -> Iterator[bytes]:
    """The bytes of a UnixFS file (any layout, raw or dag-pb leaves), in order."""
    codec = _codec(cid)
    if codec == RAW:
        yield get_block(cid)
        return
    if codec != DAG_PB:
        raise UnixFSReadError(f"{cid_to_str(cid)}: codec 0x{codec:x} is not a UnixFS file")
    links, fs = _unixfs(cid, get_block(cid))
    if fs.type in (UnixFSType.DIRECTORY, UnixFSType.HAMT_SHARD):
        raise NotAFileError(f"{cid_to_str(cid)}: this dag node is a directory")
    if fs.type == UnixFSType.SYMLINK:
        raise NotAFileError(f"{cid_to_str(cid)}: this dag node is a symlink, not a file")
    if fs.type not in (UnixFSType.FILE, UnixFSType.RAW):
        raise UnixFSReadError(f"{cid_to_str(cid)}: unsupported UnixFS type {fs.type.name}")
    if fs.data:
        yield fs.data
    for link in links:
        yield from iter_file(get_block, link.hash)


def file_size(get_block: GetBlock, cid: bytes) -> int:
    """Content size from the root block alone (UnixFS ``filesize``), as ``ipfs files stat``."""
    codec = _codec(cid)
    if codec == RAW:
        return len(get_block(cid))
    _, fs = _unixfs(cid, get_block(cid))
    if fs.type in (UnixFSType.DIRECTORY, UnixFSType.HAMT_SHARD):
        raise NotAFileError(f"{cid_to_str(cid)}: this dag node is a directory")
    if fs.type not in (UnixFSType.FILE, UnixFSType.RAW):
        raise NotAFileError(
            f"{cid_to_str(cid)}: this dag node is a {fs.type.name.lower()}, not a file"
        )
    if fs.filesize is not None:
        return fs.filesize
    return len(fs.data or b"")


def list_directory(get_block: GetBlock, cid: bytes) -> list[PBLink]:
    """Entries of a basic UnixFS directory, as stored (sorted by name)."""
    if _codec(cid) != DAG_PB:
        raise UnixFSReadError(f"{cid_to_str(cid)} is not a directory")
    links, fs = _unixfs(cid, get_block(cid))
    if fs.type != UnixFSType.DIRECTORY:
        raise UnixFSReadError(f"{cid_to_str(cid)} is not a basic UnixFS directory")
    return list(links)


def links_of(cid: bytes, block: bytes) -> list[bytes]:
    """Child CIDs of a block, in link order (dag-pb, dag-cbor; raw and identity have none)."""
    info = parse_cid(cid)
    if info.codec == RAW:
        return []
    if info.codec == DAG_PB:
        try:
            return [link.hash for link in decode_pbnode(block).links]
        except DagPbError as exc:
            raise UnixFSReadError(f"{cid_to_str(cid)}: {exc}") from exc
    if info.codec == DAG_CBOR:
        try:
            return list(dagcbor.iter_links(dagcbor.decode(block)))
        except dagcbor.CborError as exc:
            raise UnixFSReadError(f"{cid_to_str(cid)}: {exc}") from exc
    raise UnixFSReadError(
        f"{cid_to_str(cid)}: cannot follow links of codec 0x{info.codec:x} "
        "(supported: dag-pb, dag-cbor, raw)"
    )


def walk_dag(
    get_block: GetBlock, root: bytes, *, skip: Callable[[bytes], bool] | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """Every block reachable from ``root``, depth-first pre-order, each block once.

    This is the order ``ipfs dag export`` writes a CAR in (go-car selective traversal with
    ``ExploreAllRecursively`` and links visited once). ``skip(cid)`` lets a caller avoid
    reading leaves it only needs to know exist.
    """
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        if skip is not None and skip(cid):
            continue
        block = get_block(cid)
        yield cid, block
        stack.extend(reversed(links_of(cid, block)))


def write_tree(get_block: GetBlock, cid: bytes, dest: str | os.PathLike[str]) -> None:
    """``ipfs get``: write the file, symlink or directory tree under ``cid`` to ``dest``."""
    target = Path(dest)
    if _codec(cid) == RAW:
        _write_file(target, iter_file(get_block, cid))
        return
    links, fs = _unixfs(cid, get_block(cid))
    if fs.type == UnixFSType.DIRECTORY:
        target.mkdir(parents=True, exist_ok=True)
        for link in links:
            if not link.name or "/" in link.name or link.name in (".", ".."):
                raise UnixFSReadError(f"{cid_to_str(cid)}: unsafe entry name {link.name!r}")
            write_tree(get_block, link.hash, target / link.name)
    elif fs.type == UnixFSType.SYMLINK:
        os.symlink(os.fsdecode(fs.data or b""), target)
    elif fs.type == UnixFSType.HAMT_SHARD:
        raise UnixFSReadError(f"{cid_to_str(cid)}: HAMT-sharded directories are not supported")
    else:
        _write_file(target, iter_file(get_block, cid))


def _write_file(target: Path, pieces: Iterator[bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as fh:
        for piece in pieces:
            fh.write(piece)
