"""Recording maturity changes in the ``TwinRegistry`` contract.

The chain holds each twin's current level and the CID of the evidence it was reached on. For
every machine's newest level (:func:`dt_platform.twin.maturity_table.latest_levels`) the chain
is read first; only when its level differs (or the twin is not registered) is the evidence
published to the content store and one transaction sent: ``registerTwin`` (twin id = machine id,
its machine type) or ``updateTwin(twin_id, evidence_cid, level)``. So a run that finds nothing
changed sends nothing, and re-running a day sends nothing twice.

Outages: when the chain or the content store cannot be reached, the machines not yet recorded
are reported ``pending`` and nothing else is attempted. Nothing is queued: the next run (the
hourly live job, or any day's run) compares the chain with the table again and records what is
still different. A transaction sent whose receipt did not arrive in time may still be mined; the
next run then finds the level already there and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dt_platform.trust.chain import ChainError, ChainUnavailable, Twin, TxResult
from dt_platform.trust.ipfs import IpfsError
from dt_platform.twin.maturity_table import LatestLevel

UNCHANGED = "unchanged"
REGISTERED = "registered"
UPDATED = "updated"
PENDING = "pending"


class TwinRegistry(Protocol):
    """What recording needs of the chain client (:class:`~dt_platform.trust.chain.AuditChain`)."""

    def get_twin(self, twin_id: str) -> Twin | None: ...

    def register_twin(
        self, twin_id: str, machine_type: str, metadata_cid: str, maturity: int
    ) -> TxResult: ...

    def update_twin(self, twin_id: str, metadata_cid: str, maturity: int) -> TxResult: ...


class ContentStore(Protocol):
    """What recording needs of the content store (:class:`~dt_platform.trust.ipfs.IpfsStore`)."""

    def add_bytes(self, data: bytes, *, cid_version: int = 1, pin: bool = True) -> str: ...


@dataclass(frozen=True)
class LevelRecord:
    """What happened to one machine's level on chain in this run."""

    machine_id: str
    level: int
    chain_level: int | None
    """The level the chain held before (``None``: not registered, or not read)."""
    status: str
    cid: str | None = None
    tx_hash: str | None = None
    error: str | None = None


def _send(client: TwinRegistry, row: LatestLevel, twin: Twin | None, cid: str) -> tuple[str, str]:
    if twin is None:
        try:
            tx = client.register_twin(row.machine_id, row.machine_type, cid, row.level)
            return REGISTERED, tx.tx_hash
        except ChainError as exc:  # registered meanwhile (e.g. a receipt that came late)
            if exc.error_name != "TwinAlreadyRegistered":
                raise
    tx = client.update_twin(row.machine_id, cid, row.level)
    return UPDATED, tx.tx_hash


def record_level_changes(
    latest: Sequence[LatestLevel],
    content: Callable[[], ContentStore],
    connect: Callable[[], TwinRegistry],
) -> list[LevelRecord]:
    """Bring the chain in line with ``latest``; one :class:`LevelRecord` per machine."""
    records: list[LevelRecord] = []
    try:
        client = connect()
    except ChainError as exc:
        return [LevelRecord(r.machine_id, r.level, None, PENDING, error=str(exc)) for r in latest]
    store: ContentStore | None = None
    stopped: str | None = None
    for row in latest:
        if stopped is not None:
            records.append(LevelRecord(row.machine_id, row.level, None, PENDING, error=stopped))
            continue
        twin: Twin | None = None
        cid: str | None = None
        try:
            twin = client.get_twin(row.machine_id)
            if twin is not None and twin.maturity == row.level:
                records.append(
                    LevelRecord(row.machine_id, row.level, twin.maturity, UNCHANGED,
                                cid=twin.metadata_cid)
                )  # fmt: skip
                continue
            store = store or content()
            cid = store.add_bytes(row.evidence.encode("utf-8"), cid_version=1, pin=True)
            status, tx_hash = _send(client, row, twin, cid)
        except (ChainError, IpfsError, OSError) as exc:
            # ChainUnavailable, IpfsUnavailable: an outage; any other error (a missing role, a
            # read-only client) would fail the same way for every machine: stop here too.
            stopped = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, ChainUnavailable) and exc.tx_hash:
                stopped += f" (transaction {exc.tx_hash} may still be mined)"
            chain_level = twin.maturity if twin is not None else None
            records.append(
                LevelRecord(row.machine_id, row.level, chain_level, PENDING, cid=cid, error=stopped)
            )
            continue
        chain_level = twin.maturity if twin is not None else None
        records.append(LevelRecord(row.machine_id, row.level, chain_level, status, cid, tx_hash))
    return records
