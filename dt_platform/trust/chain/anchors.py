"""Audit anchors on chain: one seal in storage per version, everything else in its event.

``AuditAnchors`` stores, per partition and version, only the *seal*
``keccak256(root ‖ keccak256(cid))`` (:func:`anchor_seal`): one storage slot, which keeps an
anchor under 60 k gas. The root, the full CID, the record count, the publisher and the reason are
in the version's ``Anchored`` event. Reading an anchor therefore means: the seals from storage
(``seals(partition)``, one call), the events from the node's logs (filtered by the partition's
topic), and a check that each event's root and CID give the stored seal. An event that does not
is refused (:class:`AnchorMismatch`), never shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from dt_platform.trust.chain.artifacts import error_decoder
from dt_platform.trust.chain.errors import ChainError

if TYPE_CHECKING:
    from dt_platform.trust.chain.deployment import Deployment
    from dt_platform.trust.chain.rpc import NodeInfo, TxResult

__all__ = [
    "MAX_CID_BYTES",
    "MAX_PARTITION_BYTES",
    "MAX_REASON_BYTES",
    "Anchor",
    "AnchorMismatch",
    "AnchorReceipt",
    "AnchorsMixin",
    "anchor_seal",
    "cid_digest",
]

MAX_PARTITION_BYTES = 128
"""``AuditAnchors.MAX_PARTITION_BYTES``: the longest partition key (UTF-8 bytes)."""
MAX_CID_BYTES = 128
"""``AuditAnchors.MAX_CID_BYTES``: the longest snapshot CID."""
MAX_REASON_BYTES = 2048
"""``AuditAnchors.MAX_REASON_BYTES``: the longest reason for a new version."""
LOG_BLOCK_RANGE = 50_000
"""Blocks per ``eth_getLogs`` request (public nodes cap the range a request may span)."""


def cid_digest(cid: str) -> bytes:
    """The 32-byte digest of a CID that its seal binds: ``keccak256`` of its UTF-8 text."""
    return keccak(cid.encode())


def anchor_seal(root: bytes, cid: str) -> bytes:
    """What ``AuditAnchors`` stores for an anchor: ``keccak256(abi.encode(root, cid_digest))``."""
    return keccak(bytes(root) + cid_digest(cid))


class AnchorMismatch(ChainError):
    """An ``Anchored`` event's root and CID do not give the seal stored for its version.

    The node serving the logs (or the chain's state) is not to be trusted for this partition:
    the anchor is refused rather than shown with a CID the chain does not vouch for.
    """


@dataclass(frozen=True)
class Anchor:
    """One anchored version of a partition, read from its event and checked against its seal."""

    partition: str
    version: int
    root: bytes
    cid: str
    record_count: int
    publisher: str
    timestamp: int
    """Block time of the anchoring transaction (unix seconds)."""
    block_number: int
    reason: str
    tx_hash: str | None = None
    """The anchoring transaction."""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)

    @property
    def seal(self) -> bytes:
        return anchor_seal(self.root, self.cid)


@dataclass(frozen=True)
class AnchorReceipt:
    """Result of :meth:`AuditChain.anchor`.

    ``already_anchored`` is True when the latest version already held this root and CID (a retry
    after a lost receipt): nothing was sent, ``gas_used`` is 0 and ``tx_hash`` is that of the
    original transaction.
    """

    tx_hash: str | None
    gas_used: int
    block_number: int
    version: int
    already_anchored: bool = False


def uint_arg(value: int, bits: int, what: str) -> int:
    """``value`` if it fits the contract's unsigned ``bits``-bit argument, else a ChainError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise ChainError(f"{what} must be a whole number from 0 to {2**bits - 1}, got {value!r}")
    return value


def bytes32_arg(value: bytes, what: str) -> bytes:
    """``value`` as 32 bytes, else a ChainError."""
    raw = bytes(value)
    if len(raw) != 32:
        raise ChainError(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


class AnchorsMixin:
    """The ``AuditAnchors`` part of :class:`~dt_platform.trust.chain.client.AuditChain`."""

    node: NodeInfo
    deployment: Deployment
    account: LocalAccount | None
    anchors_contract: Contract
    log_block_range: int = LOG_BLOCK_RANGE
    _block_times: dict[bytes, int]
    """Block hash → block time, for the anchors read (a hash names one block for good)."""

    if TYPE_CHECKING:

        def _call(self, fn: ContractFunction, action: str) -> Any: ...
        def _send(self, fn: ContractFunction, action: str) -> tuple[TxResult, Any]: ...
        def block_number(self) -> int: ...

    # --- writing --------------------------------------------------------------------------------

    def anchor(
        self, partition: str, root: bytes, cid: str, record_count: int, reason: str = ""
    ) -> AnchorReceipt:
        """Anchor ``root`` and ``cid`` for ``partition`` (OPERATOR only).

        A partition anchored before gets a new version, which needs a ``reason``. Retrying an
        anchor that already went through (same root and CID as the latest version) sends nothing
        and returns that version with ``already_anchored=True``.
        """
        root = bytes32_arg(root, "the Merkle root")
        record_count = uint_arg(record_count, 64, "the record count")
        latest = self.latest_anchor(partition)
        if latest is not None and latest.root == root and latest.cid == cid:
            return AnchorReceipt(
                tx_hash=latest.tx_hash,
                gas_used=0,
                block_number=latest.block_number,
                version=latest.version,
                already_anchored=True,
            )
        fn = self.anchors_contract.functions.anchor(partition, root, cid, record_count, reason)
        result, receipt = self._send(fn, f"anchor partition {partition!r}")
        events = self.anchors_contract.events.Anchored().process_receipt(receipt, errors=DISCARD)
        version = int(events[0]["args"]["version"])
        return AnchorReceipt(result.tx_hash, result.gas_used, result.block_number, version)

    # --- reading --------------------------------------------------------------------------------

    def seals(self, partition: str) -> list[bytes]:
        """The stored seal of every version of ``partition``, oldest first."""
        fn = self.anchors_contract.functions.seals(partition)
        return [bytes(s) for s in self._call(fn, f"read the anchors of {partition!r}")]

    def anchor_versions(self, partition: str) -> list[Anchor]:
        """Every anchored version of ``partition``, oldest first (empty if never anchored).

        Each is read from its ``Anchored`` event and checked against the seal in storage;
        raises :class:`AnchorMismatch` if an event disagrees with its seal and
        :class:`ChainError` if the node no longer serves a version's event.
        """
        stored = self.seals(partition)
        if not stored:
            return []
        logs = self._anchored_logs(partition)
        return [self._checked(partition, v, seal, logs) for v, seal in enumerate(stored, 1)]

    def get_anchor(self, partition: str, version: int) -> Anchor:
        """One version of a partition's anchor (``ChainError`` if there is no such version)."""
        version = uint_arg(version, 256, "the anchor version")
        fn = self.anchors_contract.functions.sealOf(partition, version)
        seal = bytes(self._call(fn, f"read anchor {partition!r} version {version}"))
        logs = self._anchored_logs(partition, version)
        return self._checked(partition, version, seal, logs)

    def latest_anchor(self, partition: str) -> Anchor | None:
        """The latest version of ``partition``'s anchor, or ``None`` if never anchored."""
        count = self.version_count(partition)
        return self.get_anchor(partition, count) if count else None

    def version_count(self, partition: str) -> int:
        """How many versions of ``partition`` are anchored (the contract's own count)."""
        fn = self.anchors_contract.functions.versionCount(partition)
        return int(self._call(fn, f"read the versions of {partition!r}"))

    def matches_anchor(self, partition: str, version: int, root: bytes, cid: str) -> bool:
        """The contract's check that ``root`` and ``cid`` are what ``version`` anchored."""
        fn = self.anchors_contract.functions.matchesAnchor(
            partition,
            uint_arg(version, 256, "the anchor version"),
            bytes32_arg(root, "the root"),
            cid,
        )
        return bool(self._call(fn, f"check anchor {partition!r} version {version}"))

    def partitions(self) -> list[str]:
        """Every anchored partition key, in first-anchoring order (from the version-1 events)."""
        logs = self._logs({"version": 1}, "list the anchored partitions")
        keys = [log["args"]["partition"] for log in sorted(logs, key=_log_order)]
        return list(dict.fromkeys(keys))

    def anchor_count(self) -> int:
        """Number of anchors (all versions of all partitions), counted in storage."""
        return sum(self.version_count(p) for p in self.partitions())

    # --- on-chain proof checks ------------------------------------------------------------------

    def verify_record(
        self,
        partition: str,
        version: int,
        record: bytes,
        proof: Sequence[bytes],
        *,
        cid: str | None = None,
    ) -> bool:
        """The contract's own check that ``record`` belongs to the anchored snapshot.

        ``cid`` is the version's snapshot CID (read from its event when not given).
        """
        fn = self._verify_fn("verifyRecord", partition, version, bytes(record), proof, cid)
        return bool(self._call(fn, f"verify a record of {partition!r}"))

    def verify_leaf(
        self,
        partition: str,
        version: int,
        leaf: bytes,
        proof: Sequence[bytes],
        *,
        cid: str | None = None,
    ) -> bool:
        """Like :meth:`verify_record` for an already double-hashed leaf."""
        leaf = bytes32_arg(leaf, "the leaf")
        fn = self._verify_fn("verifyLeaf", partition, version, leaf, proof, cid)
        return bool(self._call(fn, f"verify a leaf of {partition!r}"))

    def verify_record_gas(
        self,
        partition: str,
        version: int,
        record: bytes,
        proof: Sequence[bytes],
        *,
        cid: str | None = None,
    ) -> int:
        """Gas the ``verifyRecord`` view would cost if executed in a transaction."""
        fn = self._verify_fn("verifyRecord", partition, version, bytes(record), proof, cid)
        with error_decoder().guard("estimate verifyRecord gas", self.node.url):
            return int(fn.estimate_gas())

    # --- internals ------------------------------------------------------------------------------

    def _verify_fn(
        self,
        name: str,
        partition: str,
        version: int,
        item: bytes,
        proof: Sequence[bytes],
        cid: str | None,
    ) -> ContractFunction:
        version = uint_arg(version, 256, "the anchor version")
        path = [bytes32_arg(p, "a proof element") for p in proof]
        if cid is None:
            cid = self.get_anchor(partition, version).cid
        return self.anchors_contract.functions[name](partition, version, cid, item, path)

    def _logs(self, filters: dict[str, Any], action: str) -> list[Any]:
        """``Anchored`` logs matching ``filters`` from the deployment block on, in chunks."""
        event = self.anchors_contract.events.Anchored()
        head = self.block_number()
        found: list[Any] = []
        start = self.deployment.block
        while start <= head:
            end = min(head, start + self.log_block_range - 1)
            with error_decoder().guard(action, self.node.url):
                found += event.get_logs(from_block=start, to_block=end, argument_filters=filters)
            start = end + 1
        return found

    def _anchored_logs(self, partition: str, version: int | None = None) -> list[Any]:
        filters: dict[str, Any] = {"partitionKey": keccak(text=partition)}
        if version is not None:
            filters["version"] = version
        return self._logs(filters, f"read the anchor events of {partition!r}")

    def _checked(self, partition: str, version: int, seal: bytes, logs: list[Any]) -> Anchor:
        """Version ``version``'s anchor from its event, which must match the stored ``seal``."""
        mine = [
            log
            for log in logs
            if int(log["args"]["version"]) == version and log["args"]["partition"] == partition
        ]
        if not mine:
            raise ChainError(
                f"partition {partition!r} version {version} is anchored on chain, but "
                f"{self.node.url} returns no Anchored event for it (are old logs pruned on this "
                "node? use one that keeps them)"
            )
        for log in mine:
            if anchor_seal(bytes(log["args"]["root"]), log["args"]["cid"]) == seal:
                return self._anchor_from_log(log)
        shown = ", ".join(repr(log["args"]["cid"]) for log in mine)
        raise AnchorMismatch(
            f"partition {partition!r} version {version}: the Anchored event's root and CID "
            f"({shown}) do not match the digest stored on chain (seal 0x{seal.hex()}); "
            f"refusing it: do not trust {self.node.url} for this anchor"
        )

    def _anchor_from_log(self, log: Any) -> Anchor:
        args = log["args"]
        return Anchor(
            partition=args["partition"],
            version=int(args["version"]),
            root=bytes(args["root"]),
            cid=args["cid"],
            record_count=int(args["recordCount"]),
            publisher=to_checksum_address(args["publisher"]),
            timestamp=self._block_time(log["blockHash"]),
            block_number=int(log["blockNumber"]),
            reason=args["reason"],
            tx_hash=log["transactionHash"].to_0x_hex(),
        )

    def _block_time(self, block_hash: bytes) -> int:
        key = bytes(block_hash)
        if key not in self._block_times:
            with error_decoder().guard("read a block's time", self.node.url):
                self._block_times[key] = int(self.node.w3.eth.get_block(key)["timestamp"])
        return self._block_times[key]


def _log_order(log: Any) -> tuple[int, int]:
    return int(log["blockNumber"]), int(log["logIndex"])
