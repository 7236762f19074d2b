"""CAR v1 (Content Addressable aRchive): export a DAG to a file, import blocks from one.

A CAR is ``varint(len) + DAG-CBOR {"roots": [CID…], "version": 1}`` followed by sections
``varint(len(cid) + len(data)) + cid + data``. ``export_car`` writes blocks depth-first, each once,
the order ``ipfs dag export`` uses, so a Kubo node or a pinning service accepts the file
(``ipfs dag import``) and the bytes equal Kubo's for the same DAG. ``import_car`` checks every
block against its multihash before storing it; CARv2 files are read through their inner CARv1
payload.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, TypeVar

from dt_platform.fileio import atomic_open
from dt_platform.trust.ipfs import dagcbor
from dt_platform.trust.ipfs.cids import (
    BlockVerificationError,
    CidError,
    cid_to_str,
    normalize_cid,
    read_cid,
    verify_block,
)
from dt_platform.trust.ipfs.dagpb import DagPbError, decode_varint, encode_varint
from dt_platform.trust.ipfs.errors import IpfsError
from dt_platform.trust.ipfs.reader import walk_dag

__all__ = [
    "BlockSource",
    "BlockTarget",
    "CarError",
    "CarHeader",
    "CarriesBlocks",
    "export_car",
    "import_car",
    "iter_car",
    "read_car_header",
    "write_car",
]

CARV2_PRAGMA = bytes.fromhex("0aa16776657273696f6e02")
MAX_SECTION = 32 << 20  # no valid block is near this; guards against reading garbage lengths


class CarError(IpfsError, ValueError):
    """The file is not a valid CAR, or a block in it does not match its CID."""


# What CAR files need from a store, as protocols: this module never imports the stores, which
# import it (a Blockstore satisfies both; an EmbeddedIpfs carries one as ``.blocks``).


class BlockSource(Protocol):
    """Where :func:`export_car` reads blocks from."""

    def get(self, cid: bytes) -> bytes: ...


class BlockTarget(Protocol):
    """Where :func:`import_car` stores blocks, and pins the roots that arrived complete."""

    def put(self, cid: bytes, data: bytes, *, verify: bool = True) -> None: ...

    def missing_blocks(self, root: bytes) -> list[bytes]: ...

    def pin(self, cid: bytes) -> None: ...


_Blocks_co = TypeVar("_Blocks_co", covariant=True)
_Blocks = TypeVar("_Blocks")


class CarriesBlocks(Protocol[_Blocks_co]):
    """A store that keeps its blocks in a block store of its own (``EmbeddedIpfs.blocks``)."""

    @property
    def blocks(self) -> _Blocks_co: ...


@dataclass(frozen=True)
class CarHeader:
    version: int
    roots: tuple[bytes, ...]


def _encode_header(roots: list[bytes]) -> bytes:
    header = dagcbor.encode({"roots": [dagcbor.CidLink(r) for r in roots], "version": 1})
    return encode_varint(len(header)) + header


def write_car(out: BinaryIO, roots: list[bytes], blocks: Iterator[tuple[bytes, bytes]]) -> int:
    """Write a CARv1 stream; return the number of blocks written."""
    out.write(_encode_header(roots))
    count = 0
    for cid, data in blocks:
        out.write(encode_varint(len(cid) + len(data)))
        out.write(cid)
        out.write(data)
        count += 1
    return count


def _store(store: _Blocks | CarriesBlocks[_Blocks]) -> _Blocks:
    return getattr(store, "blocks", store)  # an EmbeddedIpfs carries its Blockstore


def export_car(
    store: BlockSource | CarriesBlocks[BlockSource],
    cid: str | bytes,
    path: str | os.PathLike[str],
) -> int:
    """``ipfs dag export CID > path``: the whole DAG under ``cid``; returns the block count.

    The file is written to a temporary name and renamed, so a failed export (a missing block)
    leaves no half-written CAR behind.
    """
    blocks = _store(store)
    root = normalize_cid(cid)
    with atomic_open(path, make_parents=False) as fh:
        return write_car(fh, [root], walk_dag(blocks.get, root))


def _read_exact(fh: BinaryIO, n: int, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise CarError(f"truncated CAR: expected {n} bytes of {what}, got {len(data)}")
    return data


def _read_varint(fh: BinaryIO) -> int | None:
    """A varint from the stream; ``None`` at a clean end of file."""
    buf = bytearray()
    while True:
        b = fh.read(1)
        if not b:
            if buf:
                raise CarError("truncated CAR: file ends inside a section length")
            return None
        buf += b
        if b[0] < 0x80:
            break
        if len(buf) > 9:
            raise CarError("invalid CAR: section length varint too long")
    try:
        return decode_varint(bytes(buf))[0]
    except DagPbError as exc:
        raise CarError(f"invalid CAR: {exc}") from exc


def _parse_header(raw: bytes) -> CarHeader:
    try:
        obj = dagcbor.decode(raw)
    except dagcbor.CborError as exc:
        raise CarError(f"CAR header is not valid DAG-CBOR: {exc}") from exc
    if not isinstance(obj, dict) or "version" not in obj:
        raise CarError("CAR header must be a map with a 'version' key")
    version = obj["version"]
    roots = obj.get("roots", [])
    if not isinstance(roots, list) or not all(isinstance(r, dagcbor.CidLink) for r in roots):
        raise CarError("CAR header 'roots' must be a list of CIDs")
    return CarHeader(version, tuple(r.cid for r in roots))


def _read_v1_header(fh: BinaryIO) -> CarHeader:
    length = _read_varint(fh)
    if length is None:
        raise CarError("empty file: not a CAR")
    if length > 1 << 20:
        raise CarError(f"CAR header length {length} is implausible: not a CAR file?")
    header = _parse_header(_read_exact(fh, length, "header"))
    if header.version != 1:
        raise CarError(f"unsupported CAR version {header.version}")
    return header


def read_car_header(fh: BinaryIO) -> CarHeader:
    """Read the header of a CARv1 (or the inner CARv1 of a CARv2) stream."""
    header, _ = _open_payload(fh)
    return header


def iter_car(fh: BinaryIO, *, verify: bool = True) -> Iterator[tuple[bytes, bytes]]:
    """Blocks ``(binary CID, data)`` after the header, each checked against its multihash.

    Call it on the stream :func:`read_car_header` left positioned after the header.
    """
    index = 0
    while True:
        length = _read_varint(fh)
        if length is None:
            return
        if length == 0 or length > MAX_SECTION:
            raise CarError(f"invalid CAR section {index}: length {length}")
        section = _read_exact(fh, length, f"section {index}")
        try:
            info, pos = read_cid(section)
        except CidError as exc:
            raise CarError(f"invalid CID in CAR section {index}: {exc}") from exc
        cid = section[:pos]
        data = section[pos:]
        if verify:
            try:
                verify_block(info, data)
            except BlockVerificationError as exc:
                raise CarError(
                    f"CAR section {index}: block {cid_to_str(cid)} does not match its multihash"
                ) from exc
            except CidError as exc:
                raise CarError(f"CAR section {index}: {exc}") from exc
        yield cid, data
        index += 1


class _Bounded:
    """Read at most ``limit`` bytes from ``fh`` (the CARv1 payload inside a CARv2 file)."""

    def __init__(self, fh: BinaryIO, limit: int) -> None:
        self._fh = fh
        self._left = limit

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        data = self._fh.read(n)
        self._left -= len(data)
        return data


def _open_payload(fh: BinaryIO) -> tuple[CarHeader, BinaryIO]:
    start = fh.tell()
    if fh.read(len(CARV2_PRAGMA)) == CARV2_PRAGMA:
        fh.read(16)
        data_offset = int.from_bytes(_read_exact(fh, 8, "CARv2 data offset"), "little")
        data_size = int.from_bytes(_read_exact(fh, 8, "CARv2 data size"), "little")
        fh.seek(data_offset)
        bounded: BinaryIO = _Bounded(fh, data_size)  # type: ignore[assignment]
        return _read_v1_header(bounded), bounded
    fh.seek(start)
    return _read_v1_header(fh), fh


def import_car(
    store: BlockTarget | CarriesBlocks[BlockTarget],
    path: str | os.PathLike[str],
    *,
    pin_roots: bool = True,
) -> list[str]:
    """``ipfs dag import``: verify and store every block; return the roots as text CIDs.

    With ``pin_roots`` (Kubo's default) each root whose DAG is complete in the store is pinned;
    a root with missing blocks is reported as an error after all blocks are stored.
    """
    blocks = _store(store)
    with open(path, "rb") as fh:
        header, payload = _open_payload(fh)
        for cid, data in iter_car(payload):
            blocks.put(cid, data, verify=False)  # iter_car verified it
    if pin_roots:
        incomplete = []
        for root in header.roots:
            missing = blocks.missing_blocks(root)
            if missing:
                incomplete.append(f"{cid_to_str(root)} (missing {cid_to_str(missing[0])})")
            else:
                blocks.pin(root)
        if incomplete:
            raise CarError(
                f"{path}: blocks stored, but these roots are incomplete and were not pinned: "
                + ", ".join(incomplete)
                + " (pass pin_roots=False to import a partial DAG)"
            )
    return [cid_to_str(r) for r in header.roots]
