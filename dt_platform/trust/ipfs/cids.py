"""Binary CIDs, multihashes and block verification.

CIDs travel through the importer and the blockstore in their *binary* form (``bytes``): building
a ``multiformats.CID`` object costs about a millisecond, which would dominate hashing 256 KiB
chunks. The ``multiformats`` package supplies the code tables (multicodec / multihash numbers)
and the text encodings (base58btc for CIDv0, base32 for CIDv1) at the edges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from multiformats import multibase, multicodec, multihash

from dt_platform.trust.ipfs.dagpb import DagPbError, decode_varint, encode_varint
from dt_platform.trust.ipfs.errors import IpfsError

__all__ = [
    "DAG_CBOR",
    "DAG_PB",
    "IDENTITY",
    "RAW",
    "BlockVerificationError",
    "CidError",
    "CidInfo",
    "HashSpec",
    "cid_from_str",
    "cid_to_str",
    "hash_spec",
    "make_cid",
    "normalize_cid",
    "parse_cid",
    "read_cid",
    "verify_block",
]

DAG_PB: int = multicodec.get("dag-pb").code
RAW: int = multicodec.get("raw").code
DAG_CBOR: int = multicodec.get("dag-cbor").code
IDENTITY: int = multihash.get("identity").code
SHA2_256: int = multihash.get("sha2-256").code


class CidError(IpfsError, ValueError):
    """A string or byte sequence is not a valid CID."""


class BlockVerificationError(IpfsError, ValueError):
    """A block's bytes do not hash to the digest its CID names."""


@dataclass(frozen=True)
class HashSpec:
    """A multihash function this module can compute with ``hashlib``."""

    name: str
    code: int
    digest_size: int
    new: Callable[[], Any]


def _spec(name: str, new: Callable[[], Any], size: int) -> HashSpec:
    return HashSpec(name, multihash.get(name).code, size, new)


_HASHES: dict[str, HashSpec] = {
    s.name: s
    for s in (
        _spec("sha2-256", hashlib.sha256, 32),
        _spec("sha2-512", hashlib.sha512, 64),
        _spec("sha3-256", hashlib.sha3_256, 32),
        _spec("sha3-512", hashlib.sha3_512, 64),
        _spec("blake2b-256", lambda: hashlib.blake2b(digest_size=32), 32),
        _spec("blake2b-512", lambda: hashlib.blake2b(digest_size=64), 64),
        _spec("blake2s-256", lambda: hashlib.blake2s(digest_size=32), 32),
    )
}
_HASHES_BY_CODE: dict[int, HashSpec] = {s.code: s for s in _HASHES.values()}


def hash_spec(name_or_code: str | int) -> HashSpec:
    """Look up a supported hash function by multihash name (``"sha2-256"``) or code."""
    table: dict[Any, HashSpec] = _HASHES if isinstance(name_or_code, str) else _HASHES_BY_CODE
    try:
        return table[name_or_code]
    except KeyError:
        known = ", ".join(sorted(_HASHES))
        raise CidError(f"unsupported hash function {name_or_code!r}; supported: {known}") from None


@dataclass(frozen=True)
class CidInfo:
    """The parts of a binary CID."""

    version: int
    codec: int
    mh_code: int
    digest: bytes

    @property
    def multihash(self) -> bytes:
        return encode_varint(self.mh_code) + encode_varint(len(self.digest)) + self.digest


def make_cid(version: int, codec: int, mh_code: int, digest: bytes) -> bytes:
    """Binary CID. CIDv0 only exists for dag-pb + sha2-256."""
    mh = encode_varint(mh_code) + encode_varint(len(digest)) + digest
    if version == 0:
        if codec != DAG_PB or mh_code != SHA2_256 or len(digest) != 32:
            raise CidError("CIDv0 can only name a dag-pb block hashed with sha2-256")
        return mh
    if version != 1:
        raise CidError(f"unsupported CID version {version}")
    return b"\x01" + encode_varint(codec) + mh


def read_cid(buf: bytes | memoryview, pos: int = 0) -> tuple[CidInfo, int]:
    """Parse a binary CID starting at ``pos``; return it and the offset just past it."""
    try:
        if len(buf) - pos >= 34 and buf[pos] == 0x12 and buf[pos + 1] == 0x20:
            return CidInfo(0, DAG_PB, SHA2_256, bytes(buf[pos + 2 : pos + 34])), pos + 34
        version, p = decode_varint(buf, pos)
        if version != 1:
            raise CidError(f"unsupported CID version {version} at offset {pos}")
        codec, p = decode_varint(buf, p)
        mh_code, p = decode_varint(buf, p)
        size, p = decode_varint(buf, p)
    except DagPbError as exc:
        raise CidError(f"malformed CID at offset {pos}: {exc}") from exc
    if p + size > len(buf):
        raise CidError(f"CID digest at offset {pos} is truncated")
    return CidInfo(1, codec, mh_code, bytes(buf[p : p + size])), p + size


def parse_cid(cid: bytes) -> CidInfo:
    """Parse a complete binary CID (no trailing bytes allowed)."""
    info, end = read_cid(cid)
    if end != len(cid):
        raise CidError("trailing bytes after CID")
    return info


def cid_to_str(cid: bytes) -> str:
    """Kubo's default text form: base58btc for CIDv0 (``Qm…``), base32 for CIDv1 (``baf…``)."""
    if cid[:1] == b"\x12":
        return multibase.encode(cid, "base58btc")[1:]
    return multibase.encode(cid, "base32")


def cid_from_str(text: str) -> bytes:
    """Binary CID from its text form (CIDv0 ``Qm…`` or any multibase CIDv1)."""
    text = text.strip()
    if text.startswith("/ipfs/"):
        text = text[len("/ipfs/") :]
    try:
        if len(text) == 46 and text.startswith("Qm"):
            raw = bytes(multibase.decode("z" + text))
        else:
            raw = bytes(multibase.decode(text))
    except Exception as exc:  # multiformats raises several unrelated types
        raise CidError(f"{text!r} is not a CID: {exc}") from exc
    parse_cid(raw)
    return raw


def normalize_cid(cid: str | bytes) -> bytes:
    return cid if isinstance(cid, bytes) else cid_from_str(cid)


def verify_block(cid: bytes | CidInfo, data: bytes | memoryview) -> None:
    """Check that ``data`` hashes to the CID's digest (identity multihashes: equals it)."""
    info = cid if isinstance(cid, CidInfo) else parse_cid(cid)
    if info.mh_code == IDENTITY:
        ok = bytes(data) == info.digest
    else:
        spec = hash_spec(info.mh_code)
        h = spec.new()
        h.update(data)
        digest = h.digest()
        ok = digest[: len(info.digest)] == info.digest and len(info.digest) <= spec.digest_size
    if not ok:
        text = cid_to_str(cid) if isinstance(cid, bytes) else repr(info)
        raise BlockVerificationError(f"block {text}: content does not match its multihash")


def hash_parts(spec: HashSpec, parts: Iterable[bytes | memoryview]) -> bytes:
    h = spec.new()
    for part in parts:
        h.update(part)
    return h.digest()
