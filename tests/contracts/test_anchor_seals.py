"""AuditAnchors' cheap layout on a real anvil: one seal in storage, the CID and reason in events.

The client reads every CID back from the events and checks it against the stored seal; a seal
changed under it (``anvil_setStorageAt``) makes it refuse the anchor.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak

from dt_platform.trust.chain import (
    AnchorMismatch,
    AuditChain,
    ChainError,
    anchor_seal,
    cid_digest,
)
from dt_platform.trust.chain.anchors import MAX_CID_BYTES, MAX_PARTITION_BYTES, MAX_REASON_BYTES
from dt_platform.trust.merkle import MerkleTree

pytestmark = pytest.mark.integration

CID_A = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
CID_B = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
GAS_TARGET = 60_000


def _tree(tag: str, n: int = 5) -> tuple[list[bytes], MerkleTree]:
    records = [f'{{"tag":"{tag}","i":{i}}}'.encode() for i in range(n)]
    return records, MerkleTree.from_records(records)


def _seal_slot(partition: str, version: int) -> str:
    """Storage slot of ``_seals[keccak(partition)][version]`` (the contract's first variable)."""
    inner = keccak(keccak(text=partition) + (0).to_bytes(32, "big"))
    return "0x" + keccak(version.to_bytes(32, "big") + inner).hex()


def test_storage_holds_only_the_seal_and_the_event_the_rest(operator: AuditChain) -> None:
    _, tree = _tree("seal")
    partition = "seal/2026-11-20"
    receipt = operator.anchor(partition, tree.root, CID_A, 5)
    seal = anchor_seal(tree.root, CID_A)
    assert seal == keccak(tree.root + keccak(CID_A.encode())) and cid_digest(CID_A) == keccak(
        CID_A.encode()
    )
    contract = operator.anchors_contract.functions
    assert bytes(contract.anchorSeal(tree.root, CID_A).call()) == seal
    assert operator.seals(partition) == [seal]
    assert bytes(contract.sealOf(partition, 1).call()) == seal
    assert contract.latestSeal(partition).call() == [1, seal]

    logs = operator.anchors_contract.events.Anchored().get_logs(
        from_block=receipt.block_number,
        to_block=receipt.block_number,
        argument_filters={"partitionKey": keccak(text=partition)},
    )
    (log,) = logs
    assert log["args"]["cid"] == CID_A and log["args"]["recordCount"] == 5
    assert log["args"]["partition"] == partition and bytes(log["args"]["root"]) == tree.root
    assert log["args"]["publisher"] == operator.address
    anchor = operator.get_anchor(partition, 1)
    assert anchor.tx_hash == receipt.tx_hash and anchor.seal == seal


def test_a_first_anchor_costs_under_60k_gas_whatever_the_record_count(
    operator: AuditChain,
) -> None:
    _, tree = _tree("gas")
    few = operator.anchor("gas/2026-11-20", tree.root, CID_A, 5)
    many = operator.anchor("gas/2026-11-21", tree.root, CID_A, 1_000_000)
    assert few.gas_used <= GAS_TARGET and many.gas_used <= GAS_TARGET
    assert abs(many.gas_used - few.gas_used) < 100  # calldata bytes of the count only


def test_versions_and_reasons_live_in_the_events(operator: AuditChain) -> None:
    partition = "versions/2026-11-20"
    roots = [_tree(f"v{i}")[1].root for i in range(3)]
    operator.anchor(partition, roots[0], CID_A, 5)
    operator.anchor(partition, roots[1], CID_B, 5, reason="late gateway dump")
    third = operator.anchor(partition, roots[2], CID_A, 5, reason="sensor 3 recalibrated")
    assert third.version == 3 and operator.version_count(partition) == 3
    versions = operator.anchor_versions(partition)
    assert [(a.version, a.root, a.cid, a.reason) for a in versions] == [
        (1, roots[0], CID_A, ""),
        (2, roots[1], CID_B, "late gateway dump"),
        (3, roots[2], CID_A, "sensor 3 recalibrated"),
    ]
    assert operator.latest_anchor(partition) == versions[2]
    events = operator.anchors_contract.events.Anchored().get_logs(
        from_block=versions[0].block_number,
        argument_filters={"partitionKey": keccak(text=partition)},
    )
    assert [e["args"]["reason"] for e in events] == [
        "",
        "late gateway dump",
        "sensor 3 recalibrated",
    ]
    # Going back to version 1's content is a new version too, never an overwrite.
    back = operator.anchor(partition, roots[0], CID_A, 5, reason="revert the recalibration")
    assert back.version == 4 and operator.get_anchor(partition, 1) == versions[0]


def test_the_contract_detects_a_root_or_cid_it_did_not_anchor(operator: AuditChain) -> None:
    records, tree = _tree("match", 8)
    partition = "match/2026-11-20"
    operator.anchor(partition, tree.root, CID_A, 8)
    assert operator.matches_anchor(partition, 1, tree.root, CID_A)
    assert not operator.matches_anchor(partition, 1, tree.root, CID_B)
    assert not operator.matches_anchor(partition, 1, b"\x01" * 32, CID_A)
    proof = tree.proof(3)
    assert operator.verify_record(partition, 1, records[3], proof, cid=CID_A)
    assert operator.verify_record(partition, 1, records[3], proof)  # CID read from the event
    assert not operator.verify_record(partition, 1, records[3], proof, cid=CID_B)
    with pytest.raises(ChainError) as err:
        operator.matches_anchor(partition, 2, tree.root, CID_A)
    assert err.value.error_name == "UnknownAnchor"


def test_the_client_refuses_an_event_whose_cid_differs_from_the_stored_digest(
    operator: AuditChain, dev_chain
) -> None:
    _, tree = _tree("tamper")
    partition = "tamper/2026-11-20"
    operator.anchor(partition, tree.root, CID_A, 5)
    operator.anchor(partition, _tree("tamper2")[1].root, CID_B, 5, reason="fix")
    address = operator.anchors_contract.address
    slot = _seal_slot(partition, 1)
    stored = dev_chain.node.rpc("eth_getStorageAt", address, slot, "latest")
    assert bytes.fromhex(stored[2:]) == anchor_seal(tree.root, CID_A)  # the slot is the seal
    # The chain now vouches for another CID than the event names (as a lying node would make it).
    forged = "0x" + anchor_seal(tree.root, CID_B).hex()
    dev_chain.node.rpc("anvil_setStorageAt", address, slot, forged)
    try:
        for read in (
            lambda: operator.anchor_versions(partition),
            lambda: operator.get_anchor(partition, 1),
        ):
            with pytest.raises(AnchorMismatch, match="do not match the digest stored on chain"):
                read()
        assert operator.get_anchor(partition, 2).cid == CID_B  # other versions still read
        assert not operator.matches_anchor(partition, 1, tree.root, CID_A)
        assert operator.matches_anchor(partition, 1, tree.root, CID_B)
    finally:
        dev_chain.node.rpc("anvil_setStorageAt", address, slot, stored)
    assert operator.anchor_versions(partition)[0].cid == CID_A


def test_a_version_without_its_event_is_an_error_not_an_empty_cid(
    operator: AuditChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, tree = _tree("pruned")
    operator.anchor("pruned/2026-11-20", tree.root, CID_A, 5)
    monkeypatch.setattr(operator, "_logs", lambda filters, action: [])  # a node pruning logs
    with pytest.raises(ChainError, match="returns no Anchored event for it"):
        operator.latest_anchor("pruned/2026-11-20")


def test_logs_are_read_in_bounded_block_ranges(
    operator: AuditChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, tree = _tree("chunks")
    operator.anchor("chunks/2026-11-20", tree.root, CID_A, 5)
    whole = operator.anchor_versions("chunks/2026-11-20")
    monkeypatch.setattr(operator, "log_block_range", 3)
    assert operator.anchor_versions("chunks/2026-11-20") == whole
    assert "chunks/2026-11-20" in operator.partitions()


@pytest.mark.parametrize(
    ("partition", "cid", "reason", "field", "limit"),
    [
        ("p" * (MAX_PARTITION_BYTES + 1), CID_A, "", "partition", MAX_PARTITION_BYTES),
        ("long/cid", "b" * (MAX_CID_BYTES + 1), "", "cid", MAX_CID_BYTES),
        ("long/reason", CID_A, "r" * (MAX_REASON_BYTES + 1), "reason", MAX_REASON_BYTES),
    ],
)
def test_oversized_text_is_refused(
    operator: AuditChain, partition: str, cid: str, reason: str, field: str, limit: int
) -> None:
    with pytest.raises(ChainError) as err:
        operator.anchor(partition, b"\x05" * 32, cid, 1, reason)
    assert err.value.error_name == "TooLong"
    assert f"the {field} is {limit + 1} bytes long; the contract accepts at most {limit}" in str(
        err.value
    )


def test_python_limits_match_the_contract(operator: AuditChain) -> None:
    functions = operator.anchors_contract.functions
    assert functions.MAX_PARTITION_BYTES().call() == MAX_PARTITION_BYTES
    assert functions.MAX_CID_BYTES().call() == MAX_CID_BYTES
    assert functions.MAX_REASON_BYTES().call() == MAX_REASON_BYTES


@pytest.mark.parametrize("role", ["AUDITOR", "MANAGER"])
def test_readers_need_no_role_and_cannot_anchor(dev_chain, operator: AuditChain, role: str) -> None:
    _, tree = _tree(f"reader-{role}")
    partition = f"reader/{role}"
    operator.anchor(partition, tree.root, CID_A, 5)
    reader = dev_chain.client(role)
    assert reader.latest_anchor(partition) == operator.latest_anchor(partition)
    with pytest.raises(ChainError) as err:
        reader.anchor(partition, b"\x07" * 32, CID_B, 5, "not mine to fix")
    assert err.value.error_name == "AccessControlUnauthorizedAccount"
    assert reader.version_count(partition) == 1
