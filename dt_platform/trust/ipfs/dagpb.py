"""The two small protobuf schemas behind UnixFS: dag-pb (PBNode/PBLink) and UnixFS ``Data``.

CIDs depend on every byte of these encodings, so they are written by hand to match what
boxo/go-codec-dagpb emit, field for field:

* PBNode: all ``Links`` (field 2) first, then ``Data`` (field 1) when present — the byte order the
  dag-pb spec mandates even though the field numbers say otherwise.
* PBLink: ``Hash`` (1), ``Name`` (2, always written, even when empty), ``Tsize`` (3, always).
* UnixFS Data (proto2): ``Type`` (1, required so written even when 0), ``Data`` (2, only when
  set), ``filesize`` (3), ``blocksizes`` (4, repeated, *not* packed), ``hashType`` (5),
  ``fanout`` (6), ``mode`` (7), ``mtime`` (8).

A generic protobuf library would not guarantee this order, which is why it is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = [
    "DagPbError",
    "PBLink",
    "PBNode",
    "UnixFSData",
    "UnixFSType",
    "decode_pbnode",
    "decode_unixfs",
    "decode_varint",
    "encode_pbnode",
    "encode_unixfs",
    "encode_varint",
]


class DagPbError(ValueError):
    """A block is not valid dag-pb / UnixFS protobuf."""


# --- varints ------------------------------------------------------------------------------------

_SMALL_VARINTS = [bytes([i]) for i in range(128)]


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint (protobuf and multiformats use the same encoding)."""
    if value < 0:
        raise ValueError(f"varint must be non-negative, got {value}")
    if value < 128:
        return _SMALL_VARINTS[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int]:
    """Decode an unsigned varint at ``pos``; return ``(value, next_pos)``.

    Rejects truncated input, varints longer than 10 bytes and non-minimal encodings (trailing
    zero groups), as the multiformats spec requires.
    """
    result = 0
    shift = 0
    start = pos
    end = len(buf)
    while True:
        if pos >= end:
            raise DagPbError(f"truncated varint at offset {start}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and pos - start > 1:
                raise DagPbError(f"non-minimal varint at offset {start}")
            return result, pos
        shift += 7
        if shift >= 70:
            raise DagPbError(f"varint too long at offset {start}")


# --- dag-pb -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PBLink:
    """One dag-pb link. ``hash`` is the binary CID of the child."""

    hash: bytes
    name: str = ""
    tsize: int = 0


@dataclass(frozen=True)
class PBNode:
    """A decoded dag-pb node. ``data`` is ``None`` when the field is absent."""

    links: tuple[PBLink, ...] = ()
    data: bytes | None = None


def _len_delimited(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + encode_varint(len(payload)) + payload


def encode_pblink(link: PBLink) -> bytes:
    """Encode one PBLink message (without its outer field tag)."""
    return (
        _len_delimited(0x0A, link.hash)
        + _len_delimited(0x12, link.name.encode("utf-8"))
        + b"\x18"
        + encode_varint(link.tsize)
    )


def encode_pbnode(links: list[PBLink] | tuple[PBLink, ...], data: bytes | None) -> bytes:
    """Encode a PBNode exactly as boxo does: links first, in the given order, then data."""
    parts = [_len_delimited(0x12, encode_pblink(link)) for link in links]
    if data is not None:
        parts.append(_len_delimited(0x0A, data))
    return b"".join(parts)


def _iter_fields(buf: bytes | memoryview, what: str) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field_number, wire_type, value)``: an int (varint) or a memoryview (bytes)."""
    mv = memoryview(buf)
    pos = 0
    end = len(mv)
    while pos < end:
        key, pos = decode_varint(mv, pos)
        field_no, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = decode_varint(mv, pos)
            yield field_no, wire_type, value
        elif wire_type == 2:
            length, pos = decode_varint(mv, pos)
            if pos + length > end:
                raise DagPbError(f"{what}: field {field_no} runs past the end of the block")
            yield field_no, wire_type, mv[pos : pos + length]
            pos += length
        else:
            raise DagPbError(f"{what}: unsupported protobuf wire type {wire_type}")


def decode_pbnode(block: bytes | memoryview) -> PBNode:
    """Decode a dag-pb block. Raises :class:`DagPbError` on anything the dag-pb spec forbids."""
    links: list[PBLink] = []
    data: bytes | None = None
    seen_data = False
    for field_no, wire_type, value in _iter_fields(block, "PBNode"):
        if field_no == 2 and wire_type == 2:
            if seen_data:
                raise DagPbError("PBNode: Links must come before Data")
            links.append(_decode_pblink(value))
        elif field_no == 1 and wire_type == 2:
            if seen_data:
                raise DagPbError("PBNode: duplicate Data field")
            seen_data = True
            data = bytes(value)
        else:
            raise DagPbError(f"PBNode: unexpected field {field_no} (wire type {wire_type})")
    return PBNode(tuple(links), data)


def _decode_pblink(buf: memoryview) -> PBLink:
    hash_: bytes | None = None
    name = ""
    tsize = 0
    for field_no, wire_type, value in _iter_fields(buf, "PBLink"):
        if field_no == 1 and wire_type == 2:
            hash_ = bytes(value)
        elif field_no == 2 and wire_type == 2:
            try:
                name = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DagPbError("PBLink: Name is not valid UTF-8") from exc
        elif field_no == 3 and wire_type == 0:
            tsize = value
        else:
            raise DagPbError(f"PBLink: unexpected field {field_no} (wire type {wire_type})")
    if hash_ is None:
        raise DagPbError("PBLink: missing Hash")
    return PBLink(hash_, name, tsize)


# --- UnixFS Data --------------------------------------------------------------------------------


class UnixFSType(IntEnum):
    RAW = 0
    DIRECTORY = 1
    FILE = 2
    METADATA = 3
    SYMLINK = 4
    HAMT_SHARD = 5


@dataclass(frozen=True)
class UnixFSData:
    """The UnixFS ``Data`` message carried in a dag-pb node's Data field."""

    type: UnixFSType
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default=())
    hash_type: int | None = None
    fanout: int | None = None
    mode: int | None = None
    mtime: bytes | None = None  # kept encoded: only round-tripped, never interpreted


def encode_unixfs(msg: UnixFSData) -> bytes:
    out = bytearray(b"\x08")
    out += encode_varint(int(msg.type))
    if msg.data is not None:
        out += b"\x12" + encode_varint(len(msg.data)) + msg.data
    if msg.filesize is not None:
        out += b"\x18" + encode_varint(msg.filesize)
    for size in msg.blocksizes:
        out += b"\x20" + encode_varint(size)
    if msg.hash_type is not None:
        out += b"\x28" + encode_varint(msg.hash_type)
    if msg.fanout is not None:
        out += b"\x30" + encode_varint(msg.fanout)
    if msg.mode is not None:
        out += b"\x38" + encode_varint(msg.mode)
    if msg.mtime is not None:
        out += b"\x42" + encode_varint(len(msg.mtime)) + msg.mtime
    return bytes(out)


def decode_unixfs(buf: bytes | memoryview) -> UnixFSData:
    """Decode UnixFS Data. Raises :class:`DagPbError` when it is not UnixFS."""
    type_: int | None = None
    data = None
    filesize = None
    blocksizes: list[int] = []
    hash_type = fanout = mode = None
    mtime = None
    for field_no, wire_type, value in _iter_fields(buf, "UnixFS Data"):
        if field_no == 1 and wire_type == 0:
            type_ = value
        elif field_no == 2 and wire_type == 2:
            data = bytes(value)
        elif field_no == 3 and wire_type == 0:
            filesize = value
        elif field_no == 4 and wire_type == 0:
            blocksizes.append(value)
        elif field_no == 4 and wire_type == 2:  # packed form: tolerated on read
            inner = value
            pos = 0
            while pos < len(inner):
                size, pos = decode_varint(inner, pos)
                blocksizes.append(size)
        elif field_no == 5 and wire_type == 0:
            hash_type = value
        elif field_no == 6 and wire_type == 0:
            fanout = value
        elif field_no == 7 and wire_type == 0:
            mode = value
        elif field_no == 8 and wire_type == 2:
            mtime = bytes(value)
        else:
            raise DagPbError(f"UnixFS Data: unexpected field {field_no} (wire type {wire_type})")
    if type_ is None:
        raise DagPbError("UnixFS Data: missing required Type field")
    try:
        kind = UnixFSType(type_)
    except ValueError as exc:
        raise DagPbError(f"UnixFS Data: unknown Type {type_}") from exc
    return UnixFSData(
        kind,
        data,
        filesize,
        tuple(blocksizes),
        hash_type,
        fanout,
        mode,
        mtime,
    )
