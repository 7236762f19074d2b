"""Recording level changes, against a registry and a content store that misbehave on cue (the
happy path runs on a real anvil in tests/dagster/test_maturity_assets.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dt_platform.trust.chain import ChainError, ChainUnavailable, Twin, TxResult
from dt_platform.trust.ipfs import IpfsUnavailable
from dt_platform.twin.maturity_chain import (
    PENDING,
    REGISTERED,
    UNCHANGED,
    UPDATED,
    record_level_changes,
)
from dt_platform.twin.maturity_table import LatestLevel

DAY = dt.date(2026, 12, 1)


def row(machine_id: str, level: int) -> LatestLevel:
    return LatestLevel(machine_id, "smt_placer", DAY, level, f'{{"m":"{machine_id}"}}', "0" * 64)


@dataclass
class Registry:
    twins: dict[str, Twin] = field(default_factory=dict)
    sent: list[tuple] = field(default_factory=list)
    race: set[str] = field(default_factory=set)
    """Ids registered by someone else between our read and our registration."""
    down_on_send: bool = False

    def get_twin(self, twin_id: str) -> Twin | None:
        return None if twin_id in self.race else self.twins.get(twin_id)

    def _tx(self, *call) -> TxResult:
        if self.down_on_send:
            raise ChainUnavailable("no receipt in 120 s", tx_hash="0xfeed")
        self.sent.append(call)
        return TxResult(f"0x{len(self.sent):064x}", 50_000, len(self.sent))

    def register_twin(self, twin_id, machine_type, cid, level) -> TxResult:
        if twin_id in self.race:
            raise ChainError("already registered", error_name="TwinAlreadyRegistered")
        return self._tx("register", twin_id, cid, level)

    def update_twin(self, twin_id, cid, level) -> TxResult:
        return self._tx("update", twin_id, cid, level)


@dataclass
class Store:
    fail_after: int | None = None
    added: list[bytes] = field(default_factory=list)

    def add_bytes(self, data: bytes, *, cid_version: int = 1, pin: bool = True) -> str:
        if self.fail_after is not None and len(self.added) >= self.fail_after:
            raise IpfsUnavailable("the Kubo node does not answer")
        self.added.append(data)
        return f"bafy{len(self.added)}"


def twin(twin_id: str, level: int) -> Twin:
    return Twin(twin_id, "smt_placer", "bafyold", level, 0, 0, "0x0")


def test_only_changed_levels_are_sent_and_a_registration_race_becomes_an_update() -> None:
    reg = Registry(twins={"A": twin("A", 2), "B": twin("B", 1)}, race={"C"})
    store = Store()
    records = record_level_changes(
        [row("A", 2), row("B", 3), row("C", 2), row("D", 1)], lambda: store, lambda: reg
    )
    assert [(r.machine_id, r.status, r.chain_level) for r in records] == [
        ("A", UNCHANGED, 2), ("B", UPDATED, 1), ("C", UPDATED, None), ("D", REGISTERED, None),
    ]  # fmt: skip
    assert [s[:2] for s in reg.sent] == [("update", "B"), ("update", "C"), ("register", "D")]
    assert store.added[0] == b'{"m":"B"}' and records[1].cid == "bafy1"


def test_an_outage_midway_leaves_the_rest_pending_and_sends_nothing_more() -> None:
    reg = Registry()
    records = record_level_changes(
        [row("A", 2), row("B", 2), row("C", 2)], lambda: Store(fail_after=1), lambda: reg
    )
    assert [r.status for r in records] == [REGISTERED, PENDING, PENDING]
    assert "IpfsUnavailable" in records[1].error and records[2].error == records[1].error
    assert len(reg.sent) == 1


def test_a_lost_receipt_is_pending_and_names_the_transaction() -> None:
    records = record_level_changes(
        [row("A", 2)], lambda: Store(), lambda: Registry(down_on_send=True)
    )
    assert records[0].status == PENDING and "0xfeed may still be mined" in records[0].error


def test_no_chain_at_all_leaves_every_change_pending() -> None:
    def down():
        raise ChainUnavailable("connection refused")

    records = record_level_changes([row("A", 2), row("B", 1)], lambda: Store(), down)
    assert [r.status for r in records] == [PENDING, PENDING]
    assert records[0].error == "connection refused"
