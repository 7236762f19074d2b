"""The embedded store: blockstore on disk, pins, cat, paths, directories, concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dt_platform.trust.ipfs.backends import EmbeddedIpfs, IpfsStore
from dt_platform.trust.ipfs.blockstore import BlockNotFoundError, Blockstore
from dt_platform.trust.ipfs.cids import RAW, BlockVerificationError, cid_from_str, make_cid
from dt_platform.trust.ipfs.dagpb import UnixFSType, decode_pbnode, decode_unixfs
from dt_platform.trust.ipfs.errors import IpfsNotFound
from dt_platform.trust.ipfs.reader import NotAFileError, PathNotFoundError
from dt_platform.trust.ipfs.unixfs import (
    HAMT_SHARDING_THRESHOLD,
    DirectoryTooLarge,
    ImportedNode,
    ImportOptions,
    UnixFSImporter,
)


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedIpfs:
    return EmbeddedIpfs(tmp_path / "ipfs", sync=False)


def _tree(root: Path) -> Path:
    snap = root / "snapshot"
    (snap / "tables").mkdir(parents=True)
    (snap / "manifest.json").write_text('{"partition": "2024-01-01"}\n')
    (snap / "tables" / "telemetry.parquet").write_bytes(os.urandom(300_000))
    (snap / "tables" / "empty.bin").write_bytes(b"")
    (snap / "empty_dir").mkdir()
    (snap / ".DS_Store").write_bytes(b"junk")
    (snap / "tables" / ".cache").mkdir()
    (snap / "tables" / ".cache" / "x").write_text("hidden too")
    return snap


def test_embedded_store_satisfies_the_interface(store: EmbeddedIpfs) -> None:
    assert isinstance(store, IpfsStore)
    assert store.version().startswith("dt-platform-embedded/")


def test_add_bytes_cat_pin_has(store: EmbeddedIpfs) -> None:
    data = os.urandom(700_000)  # 3 chunks: a root over raw leaves
    cid = store.add_bytes(data)
    assert cid.startswith("bafybei")
    assert store.cat(cid) == data
    assert store.size(cid) == len(data)
    assert store.has(cid)
    assert cid in store.pins()
    v0 = store.add_bytes(data, cid_version=0, pin=False)
    assert v0.startswith("Qm") and v0 not in store.pins()
    assert store.cat(v0) == data
    store.pin(v0)
    assert v0 in store.pins()


def test_single_chunk_raw_leaf_is_the_file(store: EmbeddedIpfs) -> None:
    cid = store.add_bytes(b"hello world", cid_version=0, raw_leaves=True)
    assert cid == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    assert store.get_block(cid) == b"hello world"


def test_empty_file(store: EmbeddedIpfs) -> None:
    cid = store.add_bytes(b"")
    assert cid == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert store.cat(cid) == b""
    assert store.cat(store.add_bytes(b"", cid_version=0)) == b""


def test_only_hash_writes_nothing(store: EmbeddedIpfs) -> None:
    data = os.urandom(600_000)
    cid = store.add_bytes(data, only_hash=True)
    assert not store.has(cid)
    assert store.add_bytes(data) == cid
    assert store.has(cid)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=3000),
    chunk=st.integers(min_value=1, max_value=64),
    max_links=st.integers(min_value=2, max_value=5),
    layout=st.sampled_from(["balanced", "trickle"]),
    raw=st.booleans(),
    version=st.sampled_from([0, 1]),
)
def test_any_dag_shape_reads_back(
    tmp_path: Path, data: bytes, chunk: int, max_links: int, layout: str, raw: bool, version: int
) -> None:
    """Tiny chunks and fan-outs give deep balanced and trickle trees; cat must undo them all."""
    blocks = Blockstore(tmp_path / "h", sync=False)
    opts = ImportOptions(
        cid_version=version, raw_leaves=raw, chunk_size=chunk, max_links=max_links, layout=layout
    )
    node = UnixFSImporter(opts, blocks).import_bytes(data)
    assert node.file_size == len(data)
    store = EmbeddedIpfs(tmp_path / "h", sync=False)
    from dt_platform.trust.ipfs.cids import cid_to_str

    assert store.cat(cid_to_str(node.cid)) == data
    assert store.size(cid_to_str(node.cid)) == len(data)


def test_directory_add_paths_and_hidden_files(store: EmbeddedIpfs, tmp_path: Path) -> None:
    snap = _tree(tmp_path)
    entries = store.add_path_entries(snap)
    names = [e.name for e in entries]
    assert names == [
        "snapshot/manifest.json",
        "snapshot/tables/empty.bin",
        "snapshot/tables/telemetry.parquet",
        "snapshot/empty_dir",
        "snapshot/tables",
        "snapshot",
    ]
    root = entries[-1].cid
    assert store.add_path(snap) == root  # deterministic
    assert store.cat(f"{root}/manifest.json") == b'{"partition": "2024-01-01"}\n'
    assert (
        store.cat(f"/ipfs/{root}/tables/telemetry.parquet")
        == (snap / "tables" / "telemetry.parquet").read_bytes()
    )
    with pytest.raises(PathNotFoundError, match=r'no link named "\.DS_Store"'):
        store.cat(f"{root}/.DS_Store")
    with pytest.raises(IpfsNotFound):
        store.cat(f"{root}/tables/missing.parquet")
    with pytest.raises(NotAFileError, match="directory"):
        store.cat(f"{root}/tables")
    with_hidden = store.add_path(snap, include_hidden=True)
    assert with_hidden != root
    assert store.cat(f"{with_hidden}/tables/.cache/x") == b"hidden too"


def test_directory_links_sorted_bytewise_with_cumulative_tsize(
    store: EmbeddedIpfs, tmp_path: Path
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for name in ["b", "B", "a", "ä", "Z1", "_"]:
        (d / name).write_text(name)
    root = store.add_path(d)
    node = decode_pbnode(store.get_block(root))
    names = [link.name for link in node.links]
    assert names == sorted(names, key=lambda n: n.encode())
    assert decode_unixfs(node.data).type == UnixFSType.DIRECTORY
    for link in node.links:
        assert link.tsize == len(store.blocks.get(link.hash))  # single raw leaves


def test_symlinks_are_stored_as_unixfs_symlinks(store: EmbeddedIpfs, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "target.txt").write_text("t")
    (d / "link").symlink_to("target.txt")
    root = store.add_path(d)
    link_cid = store.resolve(f"{root}/link")
    fs = decode_unixfs(decode_pbnode(store.get_block(link_cid)).data)
    assert fs.type == UnixFSType.SYMLINK and fs.data == b"target.txt"
    with pytest.raises(NotAFileError, match="symlink"):
        store.cat(f"{root}/link")
    out = tmp_path / "out"
    store.get(root, out)
    assert os.readlink(out / "link") == "target.txt"
    assert (out / "target.txt").read_text() == "t"


def test_directory_that_kubo_would_shard_is_refused() -> None:
    importer = UnixFSImporter(ImportOptions(), sink=None)
    leaf = importer.import_bytes(b"")
    per_entry = 100 + len(leaf.cid)
    fits = HAMT_SHARDING_THRESHOLD // per_entry
    if fits * per_entry == HAMT_SHARDING_THRESHOLD:
        fits -= 1
    entries = {f"{i:0100d}": leaf for i in range(fits)}
    importer.build_directory(entries)  # just below the threshold: a basic directory
    entries[f"{fits:0100d}"] = leaf
    with pytest.raises(DirectoryTooLarge, match="HAMT"):
        importer.build_directory(entries)


def test_missing_blocks_block_pinning_and_reading(tmp_path: Path) -> None:
    store = EmbeddedIpfs(tmp_path / "a", sync=False)
    data = os.urandom(600_000)
    cid = store.add_bytes(data, pin=False)
    leaf = decode_pbnode(store.get_block(cid)).links[1].hash
    path = store.blocks._block_path(leaf[2:])  # raw CIDv1: 0x01 0x55, then the multihash
    path.unlink()
    assert store.blocks.missing_blocks(cid_from_str(cid)) == [leaf]
    with pytest.raises(BlockNotFoundError, match="cannot pin"):
        store.pin(cid)
    with pytest.raises(IpfsNotFound, match="not in the local store"):
        store.cat(cid)


def test_corruption_is_detected(store: EmbeddedIpfs) -> None:
    cid = store.add_bytes(b"precious audit data")
    raw = cid_from_str(cid)
    path = store.blocks._block_path(raw[2:])
    path.write_bytes(b"tampered audit data")
    assert store.blocks.verify_all() == [path.name.removesuffix(".data")]
    with pytest.raises(BlockVerificationError):
        store.blocks.get(raw, verify=True)
    with pytest.raises(BlockVerificationError):
        store.blocks.put(raw, b"not the content")


def test_identity_cids_need_no_storage(tmp_path: Path) -> None:
    blocks = Blockstore(tmp_path, sync=False)
    cid = make_cid(1, RAW, 0x00, b"inline")
    assert blocks.has(cid)
    assert blocks.get(cid) == b"inline"
    blocks.put(cid, b"inline")
    assert list(blocks.iter_keys()) == []


def test_layout_on_disk_and_durable_writes(tmp_path: Path) -> None:
    store = EmbeddedIpfs(tmp_path, sync=True)
    cid = store.add_bytes(b"durable")
    files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "blocks").rglob("*.data"))
    assert len(files) == 1
    key = files[0].name.removesuffix(".data")
    assert key.startswith("CIQ")  # base32 of 0x12 0x20..., as Kubo's flatfs keys
    assert files[0].parent.name == key[-3:-1]  # next-to-last/2 sharding
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.cat(cid) == b"durable"


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dt_platform.trust.ipfs.backends import EmbeddedIpfs
    from dt_platform.trust.ipfs.detrand import chacha20_bytes
    root, go, seed = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    store = EmbeddedIpfs(root, sync=False)
    shared = chacha20_bytes("shared", 200_000)
    own = chacha20_bytes(seed, 50_000)
    while not go.exists():
        time.sleep(0.005)
    # 1 KiB chunks: hundreds of blocks, so both processes write the same ones at the same time
    importer = store.importer(chunk_size=1024)
    from dt_platform.trust.ipfs.cids import cid_to_str
    a = cid_to_str(importer.import_bytes(shared).cid)
    b = cid_to_str(importer.import_bytes(own).cid)
    store.pin(a)
    store.pin(b)
    print(a, b)
    """
)


def test_two_processes_write_the_same_store(tmp_path: Path) -> None:
    root = tmp_path / "ipfs"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), str(go), seed],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for seed in ("one", "two")
    ]
    go.touch()
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(out.split())
    (shared_1, own_1), (shared_2, own_2) = outs
    assert shared_1 == shared_2
    store = EmbeddedIpfs(root, sync=False)
    from dt_platform.trust.ipfs.detrand import chacha20_bytes

    assert store.cat(shared_1) == chacha20_bytes("shared", 200_000)
    assert store.cat(own_1) == chacha20_bytes("one", 50_000)
    assert store.cat(own_2) == chacha20_bytes("two", 50_000)
    assert set(store.pins()) == {shared_1, own_1, own_2}
    assert store.blocks.verify_all() == []
    assert list((root / "tmp").iterdir()) == []


def test_unknown_nodes_fail_with_clear_errors(store: EmbeddedIpfs) -> None:
    nope = store.add_bytes(b"x", only_hash=True)
    with pytest.raises(IpfsNotFound, match="not in the local store"):
        store.cat(nope)
    assert not store.has(nope)
    with pytest.raises(ValueError, match="not a CID"):
        store.cat("definitely-not-a-cid/file")


def test_imported_node_sizes_match_blocks(store: EmbeddedIpfs) -> None:
    importer = store.importer(cid_version=0, chunk_size=1000, max_links=3)
    node: ImportedNode = importer.import_bytes(os.urandom(10_000))

    def tsize(cid: bytes) -> int:
        block = store.blocks.get(cid)
        return len(block) + sum(tsize(link.hash) for link in decode_pbnode(block).links)

    assert node.tsize == tsize(node.cid)
