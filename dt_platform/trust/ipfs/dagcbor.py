"""The slice of DAG-CBOR this package needs: CAR headers and finding links in dag-cbor blocks.

DAG-CBOR is strict CBOR: definite lengths only, map keys are strings sorted by (length, bytes),
and links are tag 42 over a byte string holding ``0x00`` + the binary CID.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["CborError", "CidLink", "decode", "encode", "iter_links"]


class CborError(ValueError):
    """Bytes that are not valid DAG-CBOR."""


@dataclass(frozen=True)
class CidLink:
    """A tag-42 link; ``cid`` is the binary CID."""

    cid: bytes


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes(((major << 5) | value,))
    if value < 1 << 8:
        return bytes(((major << 5) | 24, value))
    if value < 1 << 16:
        return bytes(((major << 5) | 25,)) + value.to_bytes(2, "big")
    if value < 1 << 32:
        return bytes(((major << 5) | 26,)) + value.to_bytes(4, "big")
    return bytes(((major << 5) | 27,)) + value.to_bytes(8, "big")


def encode(obj: Any) -> bytes:
    """Encode ints, bytes, str, lists, str-keyed dicts, bools, None and :class:`CidLink`."""
    if obj is None:
        return b"\xf6"
    if obj is True:
        return b"\xf5"
    if obj is False:
        return b"\xf4"
    if isinstance(obj, int):
        return _head(0, obj) if obj >= 0 else _head(1, -1 - obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        data = bytes(obj)
        return _head(2, len(data)) + data
    if isinstance(obj, str):
        data = obj.encode("utf-8", "surrogateescape")
        return _head(3, len(data)) + data
    if isinstance(obj, CidLink):
        payload = b"\x00" + obj.cid
        return b"\xd8\x2a" + _head(2, len(payload)) + payload
    if isinstance(obj, list | tuple):
        return _head(4, len(obj)) + b"".join(encode(item) for item in obj)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str):
                raise CborError(f"DAG-CBOR map keys must be strings, got {type(key).__name__}")
            raw = key.encode("utf-8", "surrogateescape")
            items.append((len(raw), raw, value))
        items.sort(key=lambda item: (item[0], item[1]))
        body = b"".join(_head(3, n) + raw + encode(value) for n, raw, value in items)
        return _head(5, len(items)) + body
    raise CborError(f"cannot encode {type(obj).__name__} as DAG-CBOR")


class _Decoder:
    def __init__(self, data: bytes | memoryview) -> None:
        self.buf = memoryview(data)
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.buf):
            raise CborError(f"truncated CBOR at offset {self.pos}")
        out = self.buf[self.pos : end]
        self.pos = end
        return out

    def _arg(self, info: int) -> int:
        if info < 24:
            return info
        if info == 24:
            return self._take(1)[0]
        if info == 25:
            return int.from_bytes(self._take(2), "big")
        if info == 26:
            return int.from_bytes(self._take(4), "big")
        if info == 27:
            return int.from_bytes(self._take(8), "big")
        raise CborError(f"indefinite or reserved length at offset {self.pos - 1} (not DAG-CBOR)")

    def item(self, depth: int = 0) -> Any:
        if depth > 512:
            raise CborError("CBOR nesting too deep")
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 31
        if major == 7:
            if info == 20:
                return False
            if info == 21:
                return True
            if info == 22:
                return None
            if info == 25:
                return _half_to_float(int.from_bytes(self._take(2), "big"))
            if info == 26:
                return struct.unpack(">f", self._take(4))[0]
            if info == 27:
                return struct.unpack(">d", self._take(8))[0]
            raise CborError(f"unsupported CBOR simple value {info} at offset {self.pos - 1}")
        value = self._arg(info)
        if major == 0:
            return value
        if major == 1:
            return -1 - value
        if major == 2:
            return bytes(self._take(value))
        if major == 3:
            # Go decoders (and so Filecoin data, like go-car's sample) accept any bytes in text
            # strings; keep them round-trippable instead of rejecting the block.
            return bytes(self._take(value)).decode("utf-8", "surrogateescape")
        if major == 4:
            return [self.item(depth + 1) for _ in range(value)]
        if major == 5:
            out: dict[Any, Any] = {}
            for _ in range(value):
                key = self.item(depth + 1)
                if not isinstance(key, str):
                    raise CborError("DAG-CBOR map keys must be strings")
                out[key] = self.item(depth + 1)
            return out
        # major 6: tags; DAG-CBOR only allows 42 (CID)
        if value != 42:
            raise CborError(f"CBOR tag {value} is not allowed in DAG-CBOR")
        payload = self.item(depth + 1)
        if not isinstance(payload, bytes) or not payload.startswith(b"\x00"):
            raise CborError("tag 42 must wrap a byte string starting with 0x00")
        return CidLink(payload[1:])


def _half_to_float(h: int) -> float:
    return struct.unpack(">e", h.to_bytes(2, "big"))[0]


def decode(data: bytes | memoryview) -> Any:
    """Decode one complete DAG-CBOR value (no trailing bytes)."""
    dec = _Decoder(data)
    obj = dec.item()
    if dec.pos != len(dec.buf):
        raise CborError(f"{len(dec.buf) - dec.pos} trailing bytes after the CBOR value")
    return obj


def decode_prefix(data: bytes | memoryview) -> tuple[Any, int]:
    """Decode the first CBOR value; return it and how many bytes it used."""
    dec = _Decoder(data)
    return dec.item(), dec.pos


def iter_links(obj: Any) -> Iterator[bytes]:
    """Binary CIDs of every link in a decoded value, in encoded (canonical) order."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, CidLink):
            yield item.cid
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
