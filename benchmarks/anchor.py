"""Cost of anchoring a day on-chain: one Merkle root per partition vs. every record on-chain.

Starts its own anvil, deploys the platform contracts, builds Merkle trees over 1 000, 100 000 and
1 000 000 synthetic canonical records, anchors each (distinct partitions of equal key length) and
measures the gas (target: at most 60 000 per anchor, whatever the record count). It also anchors a
new version of one day with a typical reason (a correction). For comparison it measures the
per-record gas of a naive contract that stores every record hash
(contracts/src/bench/NaiveRecordStore.sol) and extrapolates to 1 M records.

Prints one JSON line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from multiformats import CID, multihash

from dt_platform.config import Settings
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.chain import AuditChain, deploy, dev_key, load_artifact
from dt_platform.trust.chain.rpc import account_from_key, send_transaction
from dt_platform.trust.merkle import KECCAK_BACKEND, MerkleTree, record_leaf, record_leaves

SIZES = (1_000, 100_000, 1_000_000)
REASON = "late or corrected data since version 1: gw1/2026-11-22.csv (file 812, sha256 3f9a1c2e)"
NAIVE_BATCH = 100


def log(message: str) -> None:
    print(f"[anchor bench] {message}", file=sys.stderr, flush=True)


def synthetic_records(n: int, day: int) -> list[bytes]:
    """Canonical JSON telemetry-digest rows (sorted keys, no spaces), deterministic."""
    base = 1_795_651_200 + day * 86_400  # 2026-11-20T00:00:00Z + day
    return [
        (
            f'{{"machine_id":"smt_placer-{i % 50:02d}","sensor":"vacuum_kpa",'
            f'"ts":{base + i % 86_400},"value":{60 + (i * 7919 % 1000) / 100:.2f}}}'
        ).encode()
        for i in range(n)
    ]


def snapshot_cid(root: bytes) -> str:
    """A CIDv1 of the same length as a real snapshot CID (keeps calldata size identical)."""
    return str(CID("base32", 1, "dag-pb", multihash.digest(root, "sha2-256")))


def naive_gas_per_record(chain: AuditChain) -> int:
    """Marginal gas of storing one more record hash on-chain, from two batch sizes."""
    node = chain.node
    account = account_from_key(dev_key("OPERATOR"), node)
    artifact = load_artifact("NaiveRecordStore")
    factory = node.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    _, receipt = send_transaction(node, account, factory.constructor(), "deploy NaiveRecordStore")
    store = node.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    def stored(count: int, salt: int) -> int:
        hashes = [
            hashlib.sha256(f"{salt}/{i}".encode()).digest() for i in range(count)
        ]  # nonzero hashes: calldata priced as real record hashes
        result, _ = send_transaction(node, account, store.functions.store(hashes), "store hashes")
        return result.gas_used

    stored(1, 0)  # first write of the array length slot is not representative
    one = stored(NAIVE_BATCH, 1)
    two = stored(2 * NAIVE_BATCH, 2)
    return math.ceil((two - one) / NAIVE_BATCH)


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_anvil(log_path=Path(tmp) / "anvil.log") as node,
    ):
        settings = Settings(home=Path(tmp), chain_port=node.port)
        deploy(settings)
        chain = AuditChain.connect(settings)
        # Reported apart, as before; with one seal slot per version it costs the same as any other.
        warmup = chain.anchor("bench/2026-11-19", b"\x11" * 32, snapshot_cid(b"warmup"), 1)
        log(f"warm-up anchor: {warmup.gas_used} gas (keccak backend {KECCAK_BACKEND})")

        gas_per_anchor: dict[str, int] = {}
        result: dict[str, object] = {}
        for day, n in enumerate(SIZES):
            records = synthetic_records(n, day)
            t0 = time.perf_counter()
            leaves = record_leaves(records)
            t1 = time.perf_counter()
            tree = MerkleTree(leaves)
            t2 = time.perf_counter()
            partition = f"bench/2026-11-2{day}"
            receipt = chain.anchor(partition, tree.root, snapshot_cid(tree.root), n)
            gas_per_anchor[str(n)] = receipt.gas_used
            log(
                f"{n:>9} records: leaves {t1 - t0:.2f} s, tree {t2 - t1:.2f} s, "
                f"anchor {receipt.gas_used} gas"
            )
            if n == SIZES[-1]:
                index = n // 3
                proof = tree.proof(index)
                cid = snapshot_cid(tree.root)
                assert chain.verify_record(partition, receipt.version, records[index], proof)
                correction = chain.anchor(
                    partition, record_leaf(b"corrected"), snapshot_cid(b"corrected"), n, REASON
                )
                log(f"new version with a {len(REASON)}-byte reason: {correction.gas_used} gas")
                result |= {
                    "gas_new_version": correction.gas_used,
                    "proof_len": len(proof),
                    "proof_len_max": max(len(tree.proof(0)), len(tree.proof(n - 1)), len(proof)),
                    "verify_gas": chain.verify_record_gas(
                        partition, receipt.version, records[index], proof, cid=cid
                    ),
                    "merkle_build_s": round(t2 - t0, 3),
                    "merkle_leaf_hash_s": round(t1 - t0, 3),
                    "merkle_tree_s": round(t2 - t1, 3),
                }
            del records, leaves, tree

        per_record = naive_gas_per_record(chain)
        per_record_total = per_record * SIZES[-1]
        anchor_1m = gas_per_anchor[str(SIZES[-1])]
        log(f"naive storage: {per_record} gas per record")
        spread = max(gas_per_anchor.values()) - min(gas_per_anchor.values())
        print(
            json.dumps(
                {
                    "benchmark": "anchor",
                    "gas_per_anchor": gas_per_anchor,
                    "gas_per_anchor_spread": spread,
                    "gas_first_anchor_ever": warmup.gas_used,
                    **result,
                    "naive_gas_per_record": per_record,
                    "per_record_onchain_gas": per_record_total,
                    "ratio": round(per_record_total / anchor_1m, 1),
                    "keccak_backend": KECCAK_BACKEND,
                }
            )
        )


if __name__ == "__main__":
    main()
