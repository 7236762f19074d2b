"""The Python Merkle tree against OpenZeppelin's npm implementation, and its own properties."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from dt_platform.trust import merkle
from dt_platform.trust.merkle import (
    EmptyTreeError,
    MerkleTree,
    hash_pair,
    keccak256,
    record_leaf,
    record_leaves,
    verify_proof,
)

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
OZ_TREE = CONTRACTS / "node_modules" / "@openzeppelin" / "merkle-tree"

# Builds SimpleMerkleTree.of(leaves) for each leaf set on stdin and prints root + every proof.
NODE_SCRIPT = r"""
const { SimpleMerkleTree } = require('@openzeppelin/merkle-tree');
const { keccak256 } = require('ethereum-cryptography/keccak');
const hex = (b) => '0x' + Buffer.from(b).toString('hex');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const trees = input.sets.map((leaves) => {
  const tree = SimpleMerkleTree.of(leaves);
  return { root: tree.root, proofs: leaves.map((_, i) => tree.getProof(i)) };
});
const leafOf = (r) => hex(keccak256(keccak256(Buffer.from(r.slice(2), 'hex'))));
const recordLeaves = input.records.map(leafOf);
process.stdout.write(JSON.stringify({ trees, recordLeaves }));
"""


def _run_node(payload: dict) -> dict:
    node = shutil.which("node")
    if node is None or not OZ_TREE.exists():
        pytest.skip(
            "node or contracts/node_modules/@openzeppelin/merkle-tree missing: run `make setup`"
        )
    out = subprocess.run(
        [node, "-e", NODE_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=CONTRACTS,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def test_matches_openzeppelin_simple_merkle_tree() -> None:
    rng = random.Random(20261120)
    sets = [[rng.randbytes(32) for _ in range(n)] for n in (1, 2, 3, 7, 100)]
    # Duplicated leaves: the stable sort must place equal leaves exactly like the npm package.
    dup = [rng.randbytes(32) for _ in range(4)]
    sets.append([dup[i % 4] for i in range(11)])
    records = [b"", b"a", rng.randbytes(64), b'{"machine":"smt-01","vacuum_kpa":62.5}']
    reference = _run_node(
        {"sets": [[_hex(x) for x in s] for s in sets], "records": [_hex(r) for r in records]}
    )
    for leaves, ref in zip(sets, reference["trees"], strict=True):
        tree = MerkleTree(leaves)
        assert _hex(tree.root) == ref["root"], f"root differs for {len(leaves)} leaves"
        for i in range(len(leaves)):
            assert [_hex(p) for p in tree.proof(i)] == ref["proofs"][i], f"proof {i}/{len(leaves)}"
    assert [_hex(record_leaf(r)) for r in records] == reference["recordLeaves"]


def test_record_leaf_is_double_keccak() -> None:
    # eth_utils hashes with pycryptodome: an implementation independent of the fast backend.
    for record in (b"", b"x", bytes(range(200))):
        assert record_leaf(record) == keccak(keccak(record))
        assert keccak256(record) == keccak(record)
    assert record_leaves([b"a", b"b"]) == [record_leaf(b"a"), record_leaf(b"b")]
    # keccak-256, not NIST SHA3-256.
    assert keccak256(b"").hex().startswith("c5d2460186f7233c")


def test_fallback_backend_gives_the_same_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_sha3(name: str, *args: object, **kwargs: object) -> object:
        if name == "sha3":
            raise ImportError("simulated: safe-pysha3 not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sha3)
    new, backend = merkle._pick_keccak()
    assert backend == "pycryptodome"
    for data in (b"", b"abc", bytes(64)):
        assert new(data).digest() == keccak(data)


def test_single_leaf_tree() -> None:
    leaf = record_leaf(b"only record")
    tree = MerkleTree([leaf])
    assert tree.root == leaf
    assert tree.proof(0) == []
    assert verify_proof(tree.root, leaf, [])


def test_empty_tree_raises_a_clear_error() -> None:
    with pytest.raises(EmptyTreeError, match="at least one leaf"):
        MerkleTree([])
    with pytest.raises(EmptyTreeError):
        MerkleTree.from_records([])


def test_bad_leaves_and_indices_are_rejected() -> None:
    with pytest.raises(ValueError, match="leaf 1 is 5 bytes"):
        MerkleTree([bytes(32), b"short"])
    tree = MerkleTree.from_records([b"a", b"b", b"c"])
    with pytest.raises(IndexError, match="out of range"):
        tree.proof(3)
    assert tree.proof(-1) == tree.proof(2)
    assert len(tree) == 3


def test_hash_pair_is_commutative() -> None:
    a, b = record_leaf(b"a"), record_leaf(b"b")
    assert hash_pair(a, b) == hash_pair(b, a) == keccak(min(a, b) + max(a, b))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
def test_every_proof_verifies_and_tampering_fails(
    records: list[bytes], data: st.DataObject
) -> None:
    tree = MerkleTree.from_records(records)
    i = data.draw(st.integers(0, len(records) - 1))
    leaf = record_leaf(records[i])
    proof = tree.proof(i)
    assert tree.leaf(i) == leaf
    assert verify_proof(tree.root, leaf, proof)
    tampered = records[i] + b"\x00"
    if tampered not in records:
        assert not verify_proof(tree.root, record_leaf(tampered), proof)
    if proof:
        bad = list(proof)
        bad[0] = bytes(32)
        assert not verify_proof(tree.root, leaf, bad)


@pytest.mark.slow
def test_one_million_leaves() -> None:
    n = 1_000_000
    blob = random.Random(1).randbytes(32 * n)
    leaves = [blob[k : k + 32] for k in range(0, 32 * n, 32)]
    tree = MerkleTree(leaves)
    assert len(tree) == n
    for i in (0, 1, 499_999, n - 1):
        proof = tree.proof(i)
        assert len(proof) in (19, 20)  # ceil(log2(1e6)) = 20; some leaves sit one level higher
        assert verify_proof(tree.root, leaves[i], proof)
