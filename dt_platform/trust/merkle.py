"""Merkle trees over audit records, byte-compatible with OpenZeppelin.

One leaf per record. A record's leaf is ``keccak256(keccak256(record))`` (double-hashed, as in
OpenZeppelin's ``StandardMerkleTree``, so a leaf can never be confused with an inner node), pairs
are hashed sorted (``MerkleProof`` in Solidity), and the tree has the exact layout of
``@openzeppelin/merkle-tree``'s ``SimpleMerkleTree``: leaves sorted, stored at the end of one flat
array, node ``i`` the hash of nodes ``2i+1`` and ``2i+2``. The same leaves therefore give the same
root and the same proofs here, in the npm package and in the ``AuditAnchors`` contract.

No web3 needed (numpy only sorts the leaves): the pipeline, the CLI and an auditor use it alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "KECCAK_BACKEND",
    "EmptyTreeError",
    "MerkleTree",
    "hash_pair",
    "keccak256",
    "record_leaf",
    "record_leaves",
    "verify_proof",
]


def _pick_keccak() -> tuple[Callable[[bytes], Any], str]:
    """A constructor ``new(data)`` of keccak-256 hash objects (with ``.digest()``), and its name.

    safe-pysha3 (eth-hash's "pysha3" backend) hashes a 64-byte pair ~8x faster than pycryptodome's
    object API, which matters at a million leaves; pycryptodome (always installed with web3 and
    eth-hash) is the fallback. Hot loops call ``new(data).digest()`` inline: a wrapper function
    around it costs as much as the hash itself.
    """
    try:
        from sha3 import keccak_256  # type: ignore[import-not-found]

        return keccak_256, "safe-pysha3"
    except ImportError:
        from Crypto.Hash import keccak as _keccak

        def _new(data: bytes) -> Any:
            return _keccak.new(digest_bits=256, data=data)

        return _new, "pycryptodome"


_new_keccak, KECCAK_BACKEND = _pick_keccak()


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak-256 (not NIST SHA3-256) of ``data``."""
    return _new_keccak(data).digest()


_ZERO_ROOT_HINT = "a partition without records has no Merkle root and cannot be anchored"


class EmptyTreeError(ValueError):
    """A Merkle tree was asked for over zero leaves."""


def record_leaf(record: bytes) -> bytes:
    """The leaf of one canonical record: ``keccak256(keccak256(record))``.

    Double hashing makes a 64-byte record impossible to pass off as an inner node (second-preimage
    attack on the tree); it matches ``AuditAnchors.recordLeaf`` on-chain.
    """
    return keccak256(keccak256(record))


def record_leaves(records: Iterable[bytes]) -> list[bytes]:
    """Leaves of many records, in the records' order (a fast path for whole partitions)."""
    new = _new_keccak
    return [new(new(r).digest()).digest() for r in records]


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Commutative node hash: keccak256 of the two children, smaller one first."""
    return keccak256(a + b if a < b else b + a)


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` leads from ``leaf`` to ``root`` (what ``MerkleProof.verify`` checks)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


class MerkleTree:
    """A Merkle tree over 32-byte leaves in ``SimpleMerkleTree`` layout.

    ``leaves`` are already hashed (use :func:`record_leaf` for raw records); ``proof(i)`` proves
    ``leaves[i]``, whatever position sorting gave it. Once built, the nodes live in one flat
    ``bytes`` buffer: a million leaves keep about 72 MB (64 MB of nodes, 8 MB of positions)
    rather than two million Python objects; building peaks near 380 MB (tracemalloc).
    """

    __slots__ = ("_n", "_nodes", "_tree_index")

    def __init__(self, leaves: Sequence[bytes]) -> None:
        n = len(leaves)
        if n == 0:
            raise EmptyTreeError(f"a Merkle tree needs at least one leaf: {_ZERO_ROOT_HINT}")
        for i, leaf in enumerate(leaves):
            if len(leaf) != 32:
                raise ValueError(
                    f"leaf {i} is {len(leaf)} bytes, expected 32: hash records with record_leaf()"
                )
        # Sort by leaf value, stable like Array.prototype.sort in the npm package: lexsort on the
        # four big-endian 64-bit words of each leaf (numpy: ~2x faster than sorted() at 1 M).
        flat = b"".join(leaves)
        words = np.frombuffer(flat, dtype=">u8").reshape(n, 4)
        order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
        size = 2 * n - 1
        # The smallest leaf goes last in the flat array: leaf_pos k sits at size - 1 - k.
        tree_index = np.empty(n, dtype=np.int64)
        tree_index[order] = size - 1 - np.arange(n, dtype=np.int64)
        placed = words[order[::-1]].tobytes()
        del flat, words, order
        nodes: list[bytes] = [b""] * (n - 1)
        nodes += [placed[k : k + 32] for k in range(0, 32 * n, 32)]
        del placed
        # Fill inner nodes in blocks [lo, hi) whose children (>= 2*lo+1 >= hi) are all done: a
        # block at a time with zip is ~2x faster than one index at a time.
        new = _new_keccak
        hi = n - 1
        while hi > 0:
            lo = hi // 2
            lefts = nodes[2 * lo + 1 : 2 * hi + 1 : 2]
            rights = nodes[2 * lo + 2 : 2 * hi + 2 : 2]
            nodes[lo:hi] = [
                new(a + b if a < b else b + a).digest() for a, b in zip(lefts, rights, strict=True)
            ]
            hi = lo
        self._n = n
        self._nodes = b"".join(nodes)
        self._tree_index = tree_index

    @classmethod
    def from_records(cls, records: Iterable[bytes]) -> MerkleTree:
        """Tree over raw canonical records (each hashed with :func:`record_leaf`)."""
        return cls(record_leaves(records))

    def __len__(self) -> int:
        return self._n

    def _node(self, t: int) -> bytes:
        return self._nodes[32 * t : 32 * t + 32]

    @property
    def root(self) -> bytes:
        """The 32-byte root, what ``AuditAnchors.anchor`` stores."""
        return self._node(0)

    def leaf(self, index: int) -> bytes:
        """The leaf given as ``leaves[index]``."""
        return self._node(int(self._tree_index[self._check(index)]))

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from ``leaves[index]`` up to the root (same as the npm ``getProof``)."""
        t = int(self._tree_index[self._check(index)])
        proof: list[bytes] = []
        while t > 0:
            proof.append(self._node(t + 1 if t % 2 else t - 1))
            t = (t - 1) // 2
        return proof

    def _check(self, index: int) -> int:
        if not -self._n <= index < self._n:
            raise IndexError(f"leaf index {index} out of range for a tree of {self._n} leaves")
        return index % self._n
