"""CARv1: the Kubo and go-car fixtures, byte-identical re-export, verification, round trips."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.car import (
    CARV2_PRAGMA,
    CarError,
    export_car,
    import_car,
    iter_car,
    read_car_header,
    write_car,
)
from dt_platform.trust.ipfs.cids import (
    DAG_CBOR,
    IDENTITY,
    RAW,
    cid_from_str,
    cid_to_str,
    parse_cid,
)
from dt_platform.trust.ipfs.reader import walk_dag

VECTORS = Path(
    os.environ.get("DT_IPFS_VECTORS")
    or Path(__file__).resolve().parents[3] / "shared" / "vectors" / "ipfs"
)
needs_vectors = pytest.mark.skipif(
    not (VECTORS / "vectors.json").is_file(),
    reason=f"IPFS golden vectors not found at {VECTORS} (set DT_IPFS_VECTORS)",
)


def _car_meta() -> list[dict]:
    if not (VECTORS / "vectors.json").is_file():
        return []
    return json.loads((VECTORS / "vectors.json").read_text())["car_files"]


CARS = _car_meta()


@needs_vectors
@pytest.mark.parametrize("meta", CARS, ids=[c["name"] for c in CARS])
def test_fixture_parses_and_verifies(meta: dict) -> None:
    raw = (VECTORS / meta["file"]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == meta["sha256"]
    fh = io.BytesIO(raw)
    header = read_car_header(fh)
    assert header.version == 1
    assert [cid_to_str(r) for r in header.roots] == meta["roots"]
    blocks = list(iter_car(fh))  # verify=True: every multihash checked
    assert len(blocks) == meta["block_count"]


def _slow_if_big(meta: dict):
    # go-car's sample has 1049 blocks: a thousand file creations, seconds on a loaded disk
    marks = [pytest.mark.slow] if meta["block_count"] > 100 else []
    return pytest.param(meta, id=meta["name"], marks=marks)


@needs_vectors
@pytest.mark.parametrize("meta", [_slow_if_big(c) for c in CARS])
def test_import_then_export_is_byte_identical(meta: dict, tmp_path: Path) -> None:
    """Our DFS export order is `ipfs dag export`'s: re-exporting gives the fixture's bytes."""
    store = EmbeddedIpfs(tmp_path / "ipfs", sync=False)
    roots = import_car(store, VECTORS / meta["file"])
    assert roots == meta["roots"]
    assert all(r in store.pins() for r in roots)
    out = tmp_path / "out.car"
    assert export_car(store, roots[0], out) == meta["block_count"]
    assert out.read_bytes() == (VECTORS / meta["file"]).read_bytes()


@needs_vectors
def test_go_car_sample_codecs() -> None:
    with open(VECTORS / "car/go-car-sample-v1.car", "rb") as fh:
        read_car_header(fh)
        kinds = [(parse_cid(cid).codec, parse_cid(cid).mh_code) for cid, _ in iter_car(fh)]
    assert kinds.count((DAG_CBOR, 0xB220)) == 1043  # blake2b-256
    assert kinds.count((RAW, IDENTITY)) == 6


@needs_vectors
def test_tampered_block_is_rejected(tmp_path: Path) -> None:
    raw = bytearray((VECTORS / "car/kubo-t0400-testing.car").read_bytes())
    raw[-3] ^= 0x01  # inside the only block's data
    bad = tmp_path / "bad.car"
    bad.write_bytes(bytes(raw))
    store = EmbeddedIpfs(tmp_path / "ipfs", sync=False)
    with pytest.raises(CarError, match="does not match its multihash"):
        import_car(store, bad)
    assert list(store.blocks.iter_keys()) == []


@needs_vectors
def test_truncated_and_garbage_files(tmp_path: Path) -> None:
    raw = (VECTORS / "car/kubo-t0116-gateway-cache.car").read_bytes()
    cut = tmp_path / "cut.car"
    cut.write_bytes(raw[:-10])
    store = EmbeddedIpfs(tmp_path / "ipfs", sync=False)
    with pytest.raises(CarError, match="truncated"):
        import_car(store, cut)
    junk = tmp_path / "junk.car"
    junk.write_bytes(b"\x05hello")
    with pytest.raises(CarError):
        import_car(store, junk)


def test_round_trip_of_a_snapshot_folder(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    (snap / "sub").mkdir(parents=True)
    (snap / "manifest.json").write_text("{}")
    (snap / "sub" / "data.parquet").write_bytes(os.urandom(900_000))
    a = EmbeddedIpfs(tmp_path / "a", sync=False)
    root = a.add_path(snap)
    car = tmp_path / "snap.car"
    count = a.export_car(root, car)
    assert count == len(list(a.blocks.iter_keys()))
    b = EmbeddedIpfs(tmp_path / "b", sync=False)
    assert b.import_car(car) == [root]
    assert b.cat(f"{root}/sub/data.parquet") == (snap / "sub" / "data.parquet").read_bytes()
    assert root in b.pins()
    again = tmp_path / "again.car"
    b.export_car(root, again)
    assert again.read_bytes() == car.read_bytes()


def test_export_of_incomplete_dag_leaves_no_file(tmp_path: Path) -> None:
    store = EmbeddedIpfs(tmp_path / "a", sync=False)
    cid = store.add_bytes(os.urandom(600_000), pin=False)
    victim = next(
        p for p in (tmp_path / "a" / "blocks").rglob("*.data") if p.stat().st_size == 262_144
    )
    victim.unlink()
    out = tmp_path / "x.car"
    with pytest.raises(KeyError):
        store.export_car(cid, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_partial_dag_import_without_pinning(tmp_path: Path) -> None:
    src = EmbeddedIpfs(tmp_path / "src", sync=False)
    cid = src.add_bytes(os.urandom(600_000))
    buf = io.BytesIO()
    blocks = list(_walk(src, cid))[:-1]  # drop the last leaf
    write_car(buf, [cid_from_str(cid)], iter(blocks))
    car = tmp_path / "partial.car"
    car.write_bytes(buf.getvalue())
    dst = EmbeddedIpfs(tmp_path / "dst", sync=False)
    with pytest.raises(CarError, match="incomplete"):
        dst.import_car(car)
    assert dst.import_car(car, pin_roots=False) == [cid]
    assert dst.pins() == []


def test_carv2_payload_is_read(tmp_path: Path) -> None:
    src = EmbeddedIpfs(tmp_path / "src", sync=False)
    cid = src.add_bytes(b"carv2 payload")
    v1 = io.BytesIO()
    write_car(v1, [cid_from_str(cid)], iter(_walk(src, cid)))
    payload = v1.getvalue()
    data_offset = len(CARV2_PRAGMA) + 40
    header = bytes(16) + data_offset.to_bytes(8, "little") + len(payload).to_bytes(8, "little")
    header += bytes(8)  # no index
    car = tmp_path / "v2.car"
    car.write_bytes(CARV2_PRAGMA + header + payload + b"INDEX-BYTES-THAT-ARE-NOT-SECTIONS")
    dst = EmbeddedIpfs(tmp_path / "dst", sync=False)
    assert dst.import_car(car) == [cid]
    assert dst.cat(cid) == b"carv2 payload"


def _walk(store: EmbeddedIpfs, cid: str):
    return walk_dag(store.blocks.get, cid_from_str(cid))
