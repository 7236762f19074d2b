"""The UnixFS importer against the golden CIDs of Kubo, boxo and js-ipfs-unixfs.

Inputs are read in place from ``../shared/vectors/ipfs`` (override with ``DT_IPFS_VECTORS``);
large inputs are regenerated from their recipes (ChaCha20 keystream, Go math/rand v1) and their
sha256 is checked against the vector before the CID is compared.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from multiformats import CID

from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.car import import_car
from dt_platform.trust.ipfs.cids import cid_from_str, cid_to_str
from dt_platform.trust.ipfs.detrand import (
    ChaCha20Reader,
    chacha20_bytes,
    go_math_rand_bytes,
    load_rng_cooked,
)
from dt_platform.trust.ipfs.unixfs import ImportOptions, UnixFSImporter

VECTORS = Path(
    os.environ.get("DT_IPFS_VECTORS")
    or Path(__file__).resolve().parents[3] / "shared" / "vectors" / "ipfs"
)
pytestmark = pytest.mark.skipif(
    not (VECTORS / "vectors.json").is_file(),
    reason=f"IPFS golden vectors not found at {VECTORS} (set DT_IPFS_VECTORS)",
)

# One multi-layer (174-link rebalancing) case stays in the default run; it takes well under 1 s.
DEFAULT_LARGE = {"chacha_45613057_v0"}
LARGE = 45 * 1024 * 1024


def _load() -> list[dict]:
    if not (VECTORS / "vectors.json").is_file():
        return []
    return json.loads((VECTORS / "vectors.json").read_text())["vectors"]


ALL = _load()
FILE_VECTORS = [v for v in ALL if not v["name"].startswith("dir_")]
DIR_VECTORS = [v for v in ALL if v["name"].startswith("dir_")]


def _options(v: dict) -> ImportOptions:
    o = v["options"]
    return ImportOptions(
        cid_version=o["cid_version"],
        raw_leaves=o["raw_leaves"],
        chunk_size=int(o["chunker"].removeprefix("size-")),
        max_links=o["max_links"],
        layout=o["layout"],
        hash_function=o["hash"],
    )


def _input(v: dict):
    """bytes for small inputs, a reader for the 1 GiB ones (constant memory)."""
    spec = v["input"]
    if spec.startswith("fixtures/"):
        return (VECTORS / spec).read_bytes()
    if spec.startswith("literal bytes"):
        return ast.literal_eval(spec.split(": ", 1)[1])
    if spec.startswith("chacha20 recipe"):
        seed = spec.split("seed='", 1)[1].rstrip("'")
        size = v["input_size"]
        return ChaCha20Reader(seed, size) if size > 300 << 20 else chacha20_bytes(seed, size)
    if spec.startswith("go-math-rand-v1 recipe"):
        fields = dict(item.split("=") for item in spec.split(": ", 1)[1].split())
        table = load_rng_cooked(str(VECTORS / "go-math-rand-v1-rng-cooked.txt"))
        return go_math_rand_bytes(int(fields["seed"]), int(fields["size"]), table)
    raise AssertionError(f"unknown input spec {spec!r}")


def _param(v: dict):
    slow = v["input_size"] >= LARGE and v["name"] not in DEFAULT_LARGE
    return pytest.param(v, id=v["name"], marks=[pytest.mark.slow] if slow else [])


class _HashingReader:
    """Pass-through reader that also computes the sha256 of what was read."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.sha.update(data)
        return data


def _same_cid(got: str, expected: str) -> bool:
    # Sources give some CIDs in another multibase (js: base58btc "z…"); compare binary CIDs.
    return CID.decode(got) == CID.decode(expected)


@pytest.mark.parametrize("vector", [_param(v) for v in FILE_VECTORS])
def test_file_vector(vector: dict) -> None:
    importer = UnixFSImporter(_options(vector))
    data = _input(vector)
    if isinstance(data, bytes):
        assert hashlib.sha256(data).hexdigest() == vector["input_sha256"], "input recipe drifted"
        node = importer.import_bytes(data)
    else:
        reader = _HashingReader(data)
        node = importer.import_reader(reader)
        assert reader.sha.hexdigest() == vector["input_sha256"], "input recipe drifted"
    got = cid_to_str(node.cid)
    assert _same_cid(got, vector["expected_cid"]), f"{vector['name']}: {got}"
    assert node.file_size == vector["input_size"]


def test_bytes_and_stream_give_the_same_dag() -> None:
    vector = next(v for v in FILE_VECTORS if v["name"] == "js-1.2MiB_v0")
    data = _input(vector)

    class OddReader:  # returns short reads, like a pipe, to exercise chunk re-filling
        def __init__(self, payload: bytes) -> None:
            self.payload, self.pos = payload, 0

        def read(self, n: int) -> bytes:
            n = min(n, 10_007)
            out = self.payload[self.pos : self.pos + n]
            self.pos += len(out)
            return out

    a = UnixFSImporter(_options(vector)).import_bytes(data)
    b = UnixFSImporter(_options(vector)).import_reader(OddReader(data))
    assert a == b
    assert cid_to_str(a.cid) == vector["expected_cid"]


@pytest.mark.parametrize("vector", DIR_VECTORS, ids=[v["name"] for v in DIR_VECTORS])
def test_directory_vector(vector: dict, tmp_path: Path) -> None:
    planets = tmp_path / "planets"
    planets.mkdir()
    shutil.copyfile(VECTORS / "fixtures/hello-mars-newline.txt", planets / "mars.txt")
    shutil.copyfile(VECTORS / "fixtures/hello-venus-newline.txt", planets / "venus.txt")
    (planets / ".hidden").write_text("skipped, as `ipfs add -r` skips it without --hidden\n")
    root, entries = UnixFSImporter(_options(vector)).import_path(planets)
    assert cid_to_str(root.cid) == vector["expected_cid"]
    assert [e.path for e in entries] == ["planets/mars.txt", "planets/venus.txt", "planets"]


def _car_fixture(name: str) -> dict:
    meta = json.loads((VECTORS / "vectors.json").read_text())["car_files"]
    return next(c for c in meta if c["name"] == name)


@pytest.mark.parametrize("fixture", ["kubo-t0115-gateway-dir-listing", "kubo-t0116-gateway-cache"])
def test_directories_from_kubo_cars_are_rebuilt_identically(fixture: str, tmp_path: Path) -> None:
    """Kubo made these DAGs with `ipfs add -r --cid-version 1` (UTF-8 names, nested, wrapped):
    writing them out as files and adding them again must give Kubo's root CID back."""
    meta = _car_fixture(fixture)
    source = EmbeddedIpfs(tmp_path / "source", sync=False)
    (root,) = import_car(source, VECTORS / meta["file"])
    tree = tmp_path / "tree"
    source.get(root, tree)
    again = EmbeddedIpfs(tmp_path / "again", sync=False)
    assert again.add_path(tree, cid_version=1) == meta["expected_root_per_source"]
    for label, cid in meta.get("blocks_per_source", {}).items():
        assert again.has(cid), label


def test_inputs_of_go_rand_recipe_match_sha1_asserted_by_kubo() -> None:
    table = load_rng_cooked(str(VECTORS / "go-math-rand-v1-rng-cooked.txt"))
    data = go_math_rand_bytes(41, 5_242_880, table)
    assert hashlib.sha1(data).hexdigest() == "5b8c4bc8f87ea2fcfc3d55708b8cac2aadf12862"
    assert go_math_rand_bytes(41, 1000, table) == data[:1000]  # prefix-stable like Go's Read


def test_multilayer_dag_shape(tmp_path: Path) -> None:
    """175 chunks: the root has 2 links (174 leaves + 1 leaf), Tsize sums the subtrees."""
    from dt_platform.trust.ipfs.dagpb import decode_pbnode, decode_unixfs

    store = EmbeddedIpfs(tmp_path, sync=False)
    data = chacha20_bytes("v0-seed", 45_613_057)
    cid = store.add_bytes(data, cid_version=0)
    assert cid == "QmV81WL765sC8DXsRhE5fJv2rwhS4icHRaf3J9Zk5FdRnW"
    root_block = store.get_block(cid)
    root = decode_pbnode(root_block)
    assert len(root.links) == 2
    fs = decode_unixfs(root.data)
    assert fs.blocksizes == (174 * 262_144, 1) and fs.filesize == len(data)
    first = decode_pbnode(store.blocks.get(root.links[0].hash))
    assert len(first.links) == 174
    expected_first_tsize = len(store.blocks.get(root.links[0].hash)) + sum(
        link.tsize for link in first.links
    )
    assert root.links[0].tsize == expected_first_tsize
    assert store.cat(cid) == data


def test_cid_text_forms_round_trip() -> None:
    for v in FILE_VECTORS[:10]:
        raw = cid_from_str(v["expected_cid"])
        assert _same_cid(cid_to_str(raw), v["expected_cid"])
