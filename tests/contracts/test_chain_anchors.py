"""AuditAnchors on a real anvil: anchoring, versioning, access control and on-chain proofs."""

from __future__ import annotations

import random

import pytest

from dt_platform.trust.chain import AuditChain, ChainError, ChainUnavailable
from dt_platform.trust.chain.rpc import send_transaction
from dt_platform.trust.merkle import MerkleTree, record_leaf

pytestmark = pytest.mark.integration

CID_V1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
CID_V1_FIXED = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def _records(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [
        f'{{"machine":"smt-{i % 7:02d}","seq":{i},"vacuum_kpa":{rng.uniform(40, 80):.3f}}}'.encode()
        for i in range(n)
    ]


def test_anchor_is_stored_with_publisher_time_and_version(operator: AuditChain, dev_chain) -> None:
    records = _records(7, 1)
    tree = MerkleTree.from_records(records)
    receipt = operator.anchor("telemetry/2026-11-20", tree.root, CID_V1, len(records))
    assert receipt.version == 1 and not receipt.already_anchored
    assert receipt.gas_used > 21_000 and receipt.tx_hash and receipt.tx_hash.startswith("0x")

    latest = operator.latest_anchor("telemetry/2026-11-20")
    assert latest is not None
    assert (latest.root, latest.cid, latest.record_count) == (tree.root, CID_V1, 7)
    assert latest.publisher == operator.address
    assert latest.block_number == receipt.block_number
    block = dev_chain.node.rpc("eth_getBlockByNumber", hex(receipt.block_number), False)
    assert latest.timestamp == int(block["timestamp"], 16)
    assert latest.reason == "" and latest.version == 1
    assert "telemetry/2026-11-20" in operator.partitions()


def test_new_version_requires_a_reason_and_keeps_the_old_one(operator: AuditChain) -> None:
    first = MerkleTree.from_records(_records(5, 2))
    second = MerkleTree.from_records(_records(6, 3))
    partition = "telemetry/2026-11-21"
    assert operator.anchor(partition, first.root, CID_V1, 5).version == 1

    with pytest.raises(ChainError) as err:
        operator.anchor(partition, second.root, CID_V1_FIXED, 6)
    assert err.value.error_name == "ReasonRequired"
    assert not isinstance(err.value, ChainUnavailable)
    assert "already anchored (version 1): a new version needs a non-empty reason" in str(err.value)

    fix = operator.anchor(partition, second.root, CID_V1_FIXED, 6, reason="late gateway dump")
    assert fix.version == 2
    versions = operator.anchor_versions(partition)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].root == first.root and versions[0].reason == ""
    assert versions[1].root == second.root and versions[1].reason == "late gateway dump"
    assert operator.latest_anchor(partition) == versions[1]
    assert operator.get_anchor(partition, 1) == versions[0]
    assert operator.version_count(partition) == 2


def test_retrying_the_same_anchor_sends_nothing(operator: AuditChain) -> None:
    tree = MerkleTree.from_records(_records(3, 4))
    first = operator.anchor("decisions/2026-11-20", tree.root, CID_V1, 3)
    block = operator.block_number()
    retry = operator.anchor("decisions/2026-11-20", tree.root, CID_V1, 3)
    assert retry.already_anchored and retry.gas_used == 0
    assert (retry.version, retry.tx_hash, retry.block_number) == (
        1,
        first.tx_hash,
        first.block_number,
    )
    assert operator.block_number() == block

    # The contract itself also refuses a new version identical to the latest one.
    fn = operator.anchors_contract.functions.anchor(
        "decisions/2026-11-20", tree.root, CID_V1, 3, "same again"
    )
    with pytest.raises(ChainError) as err:
        send_transaction(operator.node, operator.account, fn, "anchor")
    assert err.value.error_name == "DuplicateAnchor"


@pytest.mark.parametrize(
    ("partition", "root", "cid", "count", "error"),
    [
        ("", b"\x01" * 32, CID_V1, 1, "EmptyPartition"),
        ("p/zero-root", bytes(32), CID_V1, 1, "EmptyRoot"),
        ("p/no-cid", b"\x01" * 32, "", 1, "EmptyCid"),
        ("p/no-records", b"\x01" * 32, CID_V1, 0, "ZeroRecords"),
    ],
)
def test_invalid_anchors_revert_with_custom_errors(
    operator: AuditChain, partition: str, root: bytes, cid: str, count: int, error: str
) -> None:
    with pytest.raises(ChainError) as err:
        operator.anchor(partition, root, cid, count)
    assert err.value.error_name == error


@pytest.mark.parametrize("role", ["MANAGER", "ADMIN", "AUDITOR"])
def test_only_the_operator_may_anchor(dev_chain, role: str) -> None:
    client = dev_chain.client(role)
    with pytest.raises(ChainError) as err:
        client.anchor("telemetry/2026-12-01", b"\x02" * 32, CID_V1, 1)
    assert err.value.error_name == "AccessControlUnauthorizedAccount"
    assert str(err.value) == (
        f"{client.address} lacks OPERATOR_ROLE: only the pipeline publisher may anchor "
        "partition 'telemetry/2026-12-01'"
    )
    assert client.latest_anchor("telemetry/2026-12-01") is None


def test_python_proofs_verify_in_the_contract(operator: AuditChain) -> None:
    records = _records(100, 5)
    tree = MerkleTree.from_records(records)
    partition = "predictions/2026-11-20"
    operator.anchor(partition, tree.root, CID_V1, len(records))
    for i in [0, 1, 2, 31, 64, 99, *random.Random(6).sample(range(100), 6)]:
        proof = tree.proof(i)
        assert operator.verify_record(partition, 1, records[i], proof)
        assert operator.verify_leaf(partition, 1, record_leaf(records[i]), proof)
        # Tampered record, another record's proof, a truncated proof: all rejected on-chain.
        assert not operator.verify_record(partition, 1, records[i] + b" ", proof)
        assert not operator.verify_record(partition, 1, records[i], tree.proof((i + 1) % 100))
        assert not operator.verify_record(partition, 1, records[i], proof[:-1])


def test_proof_is_checked_against_the_requested_version(operator: AuditChain) -> None:
    v1 = _records(4, 7)
    v2 = [*v1[:3], b'{"machine":"smt-03","seq":3,"vacuum_kpa":0.000}']
    t1, t2 = MerkleTree.from_records(v1), MerkleTree.from_records(v2)
    partition = "telemetry/2026-11-22"
    operator.anchor(partition, t1.root, CID_V1, 4)
    operator.anchor(partition, t2.root, CID_V1_FIXED, 4, reason="sensor 3 recalibrated")
    assert operator.verify_record(partition, 1, v1[3], t1.proof(3))
    assert not operator.verify_record(partition, 2, v1[3], t1.proof(3))
    assert operator.verify_record(partition, 2, v2[3], t2.proof(3))
    with pytest.raises(ChainError) as err:
        operator.verify_record(partition, 3, v2[3], t2.proof(3))
    assert err.value.error_name == "UnknownAnchor"
    assert "has no anchored version 3" in str(err.value)


def test_unknown_partition_reads_as_empty(operator: AuditChain) -> None:
    assert operator.latest_anchor("never/anchored") is None
    assert operator.anchor_versions("never/anchored") == []
    with pytest.raises(ChainError, match="has never been anchored"):
        operator._call(
            operator.anchors_contract.functions.latestSeal("never/anchored"), "read the anchor"
        )
    assert operator.version_count("never/anchored") == 0
    assert operator.seals("never/anchored") == []


def test_anchor_count_covers_every_version(operator: AuditChain) -> None:
    before = operator.anchor_count()
    tree = MerkleTree.from_records([b"x"])
    operator.anchor("count/2026-11-20", tree.root, CID_V1, 1)
    operator.anchor("count/2026-11-20", record_leaf(b"y"), CID_V1, 1, reason="fix")
    assert operator.anchor_count() == before + 2


def test_concurrent_publishers_with_one_key_do_not_collide(dev_chain) -> None:
    """Two processes anchoring with the same OPERATOR key race for nonces; both must land."""
    from concurrent.futures import ThreadPoolExecutor

    def publish(worker: int) -> list[int]:
        client = dev_chain.client("OPERATOR")  # own connection, like another process
        return [
            client.anchor(
                f"race/{worker}/{day}", record_leaf(f"{worker}/{day}".encode()), CID_V1, 1
            ).version
            for day in range(4)
        ]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(publish, range(2)))
    assert results == [[1, 1, 1, 1], [1, 1, 1, 1]]
    reader = dev_chain.client("AUDITOR")
    for worker in range(2):
        for day in range(4):
            latest = reader.latest_anchor(f"race/{worker}/{day}")
            assert latest is not None and latest.root == record_leaf(f"{worker}/{day}".encode())
