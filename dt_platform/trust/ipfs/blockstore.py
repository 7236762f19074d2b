"""Blocks on disk, keyed by multihash, plus the pin set.

Layout under the root folder (``Settings.ipfs_dir``), modelled on Kubo's flatfs:

    blocks/<XY>/<BASE32-MULTIHASH>.data   XY = the next-to-last two characters of the key
    pins/<cidv1-base32>                   one file per recursive pin; content = the CID as given
    tmp/                                  blocks being written

Keying by multihash (not CID) means the same bytes stored as ``raw`` and as dag-pb share one
file, as in Kubo. Writes go to ``tmp/`` and are renamed into place, so a reader — in this
process or another — sees either no block or the whole block; two processes writing the same
block both rename identical bytes onto the same name, which is harmless. With ``sync=True``
(the default, as Kubo's flatfs) each block is fsync'ed before the rename, so a crash cannot
leave a truncated block under a valid name.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from dt_platform.fileio import atomic_open
from dt_platform.trust.ipfs.cids import (
    RAW,
    CidError,
    cid_from_str,
    cid_to_str,
    hash_spec,
    make_cid,
    parse_cid,
    verify_block,
)
from dt_platform.trust.ipfs.dagpb import DagPbError, decode_varint
from dt_platform.trust.ipfs.errors import IpfsNotFound
from dt_platform.trust.ipfs.reader import walk_dag

__all__ = ["BlockNotFoundError", "Blockstore"]

Buffer = bytes | bytearray | memoryview


class BlockNotFoundError(IpfsNotFound):
    """A block is not in the local store (the embedded store never fetches from the network)."""


def _multihash(cid: bytes) -> bytes:
    if cid[:1] == b"\x12":  # CIDv0 is the bare multihash
        return cid
    try:
        _, pos = decode_varint(cid, 1)  # skip version byte 0x01 and the codec
    except DagPbError as exc:
        raise CidError(f"malformed CID {cid.hex()}") from exc
    return cid[pos:]


def _mh_is_identity(mh: bytes) -> bool:
    return mh[:1] == b"\x00"


def _identity_digest(mh: bytes) -> bytes:
    size, pos = decode_varint(mh, 1)
    return mh[pos : pos + size]


class Blockstore:
    """Content-addressed blocks in a folder. Thread- and process-safe for put/get/pin."""

    def __init__(self, root: str | os.PathLike[str], *, sync: bool = True) -> None:
        self.root = Path(root)
        self.sync = sync
        self._blocks = self.root / "blocks"
        self._pins = self.root / "pins"
        self._tmp = self.root / "tmp"
        for folder in (self._blocks, self._pins, self._tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self._known_dirs: set[str] = set()
        self._lock = threading.Lock()

    # -- paths --

    def _key(self, mh: bytes) -> str:
        return base64.b32encode(mh).decode("ascii").rstrip("=")

    def _block_path(self, mh: bytes) -> Path:
        key = self._key(mh)
        return self._blocks / key[-3:-1] / f"{key}.data"

    def _tmp_name(self, stem: str) -> Path:
        return self._tmp / f"{stem}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:12]}"

    def _write_atomic(self, target: Path, parts: Sequence[Buffer]) -> None:
        parent = str(target.parent)
        if parent not in self._known_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._known_dirs.add(parent)
        with atomic_open(
            target, tmp=self._tmp_name(target.name), fsync=self.sync, make_parents=False
        ) as fh:
            for part in parts:
                fh.write(part)

    # -- blocks --

    def put_parts(self, cid: bytes, parts: Sequence[Buffer]) -> None:
        """Store a block given as pieces (the importer's sink interface). Idempotent."""
        mh = _multihash(cid)
        if _mh_is_identity(mh):
            return  # the data is inside the CID
        path = self._block_path(mh)
        if path.exists():
            return
        self._write_atomic(path, parts)

    def put(self, cid: bytes, data: Buffer, *, verify: bool = True) -> None:
        """Store one block; by default check first that ``data`` matches ``cid``."""
        if verify:
            verify_block(cid, data)
        self.put_parts(cid, (data,))

    def get(self, cid: bytes, *, verify: bool = False) -> bytes:
        mh = _multihash(cid)
        if _mh_is_identity(mh):
            return _identity_digest(mh)
        try:
            data = self._block_path(mh).read_bytes()
        except FileNotFoundError:
            raise BlockNotFoundError(
                f"block {cid_to_str(cid)} is not in the local store {self.root}"
            ) from None
        if verify:
            verify_block(cid, data)
        return data

    def has(self, cid: bytes) -> bool:
        mh = _multihash(cid)
        return _mh_is_identity(mh) or self._block_path(mh).exists()

    def size(self, cid: bytes) -> int:
        mh = _multihash(cid)
        if _mh_is_identity(mh):
            return len(_identity_digest(mh))
        try:
            return self._block_path(mh).stat().st_size
        except FileNotFoundError:
            raise BlockNotFoundError(
                f"block {cid_to_str(cid)} is not in the local store {self.root}"
            ) from None

    def iter_keys(self) -> Iterator[bytes]:
        """Multihashes of all stored blocks."""
        for shard in sorted(self._blocks.iterdir()):
            for path in sorted(shard.glob("*.data")):
                key = path.name[: -len(".data")]
                yield base64.b32decode(key + "=" * (-len(key) % 8))

    def verify_all(self) -> list[str]:
        """Re-hash every stored block (like ``ipfs repo verify``); return the corrupt keys."""
        bad = []
        for mh in self.iter_keys():
            code, pos = decode_varint(mh, 0)
            size, pos = decode_varint(mh, pos)
            path = self._block_path(mh)
            try:
                h = hash_spec(code).new()
            except CidError:
                continue  # a hash we cannot compute: nothing to say about it
            h.update(path.read_bytes())
            if h.digest()[:size] != mh[pos:]:
                bad.append(self._key(mh))
        return bad

    # -- DAGs and pins --

    def missing_blocks(self, root: bytes, *, limit: int = 1) -> list[bytes]:
        """Blocks of the DAG under ``root`` that are absent (empty list: the DAG is complete).

        Raw leaves are only checked for existence, never read.
        """
        missing: list[bytes] = []

        def get(cid: bytes) -> bytes:
            return self.get(cid)

        def skip(cid: bytes) -> bool:
            if not self.has(cid):
                missing.append(cid)
                return True
            return parse_cid(cid).codec == RAW  # raw: no links to follow

        for _ in walk_dag(get, root, skip=skip):
            if len(missing) >= limit:
                break
        return missing[:limit]

    def _pin_path(self, cid: bytes) -> Path:
        # One file per DAG whatever CID version names it: key on the CIDv1 form.
        info = parse_cid(cid)
        return self._pins / cid_to_str(make_cid(1, info.codec, info.mh_code, info.digest))

    def pin(self, cid: bytes) -> None:
        """Record a recursive pin. The whole DAG must be present, as ``ipfs pin add`` (offline)."""
        missing = self.missing_blocks(cid)
        if missing:
            raise BlockNotFoundError(
                f"cannot pin {cid_to_str(cid)}: block {cid_to_str(missing[0])} is not in the "
                f"local store {self.root}"
            )
        path = self._pin_path(cid)
        if not path.exists():
            self._write_atomic(path, (cid_to_str(cid).encode("ascii"),))

    def unpin(self, cid: bytes) -> None:
        self._pin_path(cid).unlink(missing_ok=True)

    def is_pinned(self, cid: bytes) -> bool:
        return self._pin_path(cid).exists()

    def pins(self) -> list[bytes]:
        """Pinned roots, as they were given to :meth:`pin`."""
        out = []
        for path in sorted(self._pins.iterdir()):
            try:
                out.append(cid_from_str(path.read_text(encoding="ascii")))
            except (OSError, CidError, UnicodeDecodeError):
                continue  # a foreign file in pins/: ignore rather than fail every listing
        return out
