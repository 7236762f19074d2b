"""Fault injection for publishing and anchoring: nothing lost, nothing anchored twice.

The chain is an anvil with persisted state that the tests stop and start again on the same port;
IPFS is a Kubo RPC server (the embedded store over real HTTP) that is down, then up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dt_platform.config import Settings
from dt_platform.trust.anvil import Anvil
from dt_platform.trust.audit import (
    ANCHORED,
    PENDING_ANCHOR,
    PENDING_PUBLISH,
    SUPERSEDED,
    AuditError,
    AuditResult,
    audit_history,
    audit_partition,
    process_pending,
    verify_partition,
)
from dt_platform.trust.chain import AuditChain, deploy, dev_key
from dt_platform.trust.ipfs import EmbeddedIpfs, IpfsStore, KuboIpfs
from dt_platform.trust.ipfs.kubo_rpc_server import running_server
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import (
    day_start,
    free_port,
    insert_telemetry,
    only_hash_cid,
    telemetry_rows,
)

pytestmark = pytest.mark.integration

DAYS = [dt.date(2026, 12, d) for d in range(1, 8)]


@dataclass
class World:
    settings: Settings
    state_path: Path
    warehouse: Warehouse
    ipfs: EmbeddedIpfs
    snapshots: Path
    node: Anvil | None = None
    tick: list[int] = field(default_factory=lambda: [0])

    def up(self) -> None:
        if self.node is None:
            self.node = Anvil(
                self.settings.chain_port,
                state_path=self.state_path,
                log_path=self.settings.home / "anvil.log",
            ).start()

    def down(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None

    def connect(self) -> AuditChain:
        return AuditChain.connect(self.settings, timeout=3)

    def now(self) -> dt.datetime:
        self.tick[0] += 1
        return day_start(DAYS[-1]) + dt.timedelta(days=1, minutes=self.tick[0])

    def audit(
        self,
        day: dt.date,
        *,
        ipfs: IpfsStore | None = None,
        chain: AuditChain | Callable[[], AuditChain] | None = None,
    ) -> AuditResult:
        with self.warehouse.write() as con:
            return audit_partition(
                con,
                ipfs or self.ipfs,
                chain or self.connect,
                day,
                snapshots_dir=self.snapshots,
                code_version="0.1.0+src.faults",
                now=self.now(),
            )

    def pending(self, **kwargs: Any) -> list[AuditResult]:
        ipfs = kwargs.pop("ipfs", self.ipfs)
        chain = kwargs.pop("chain", self.connect)
        with self.warehouse.write() as con:
            return process_pending(con, ipfs, chain, now=self.now(), **kwargs)

    def history(self, day: dt.date) -> list[AuditResult]:
        with self.warehouse.write() as con:
            return audit_history(con, day)

    def rows(self, day: dt.date) -> list[tuple]:
        with self.warehouse.write() as con:
            return con.execute(
                "SELECT status, attempts, version FROM audit_snapshots WHERE partition = ? "
                "ORDER BY id",
                [day],
            ).fetchall()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("audit_faults")
    settings = Settings(home=home, chain_port=free_port())
    w = World(
        settings=settings,
        state_path=home / "chain" / "state.json",
        warehouse=Warehouse(settings.warehouse_path),
        ipfs=EmbeddedIpfs(settings.ipfs_dir),
        snapshots=home / "snapshots",
    )
    w.up()
    try:
        deploy(settings)
        with w.warehouse.write() as con:
            for n, day in enumerate(DAYS):
                insert_telemetry(con, telemetry_rows(day, per_hour=2, hours=6, seed=n))
        yield w
    finally:
        w.down()


@pytest.fixture
def chain_up(world: World) -> World:
    world.up()
    return world


def test_chain_outage_keeps_snapshots_pending_until_it_returns(chain_up: World) -> None:
    world = chain_up
    a, b = DAYS[0], DAYS[1]
    connected = world.connect()  # connected before the outage: fails mid-way
    world.down()
    try:
        first = world.audit(a)  # connects lazily: fails at connection
        second = world.audit(b, chain=connected)
        for r in (first, second):
            assert r.status == PENDING_ANCHOR and r.retryable and r.pending
            assert (
                r.cid and world.ipfs.has(r.cid) and Path(r.snapshot_dir, "manifest.json").is_file()
            )
            assert r.error and "unreachable" in r.error and r.tx_hash is None
        still = world.pending()
        assert [(r.partition, r.status, r.retryable) for r in still] == [
            (a.isoformat(), PENDING_ANCHOR, True),
            (b.isoformat(), PENDING_ANCHOR, True),
        ]
    finally:
        world.up()  # same port, same state file: the deployment survived

    done = world.pending()
    assert [(r.partition, r.status, r.version, r.already_anchored) for r in done] == [
        (a.isoformat(), ANCHORED, 1, False),
        (b.isoformat(), ANCHORED, 1, False),
    ]
    assert [r.cid for r in done] == [first.cid, second.cid] and all(r.gas_used for r in done)
    assert world.pending() == []
    chain = world.connect()
    for day, r in ((a, first), (b, second)):
        assert chain.version_count(day.isoformat()) == 1
        assert "0x" + chain.latest_anchor(day.isoformat()).root.hex() == r.root
        assert world.rows(day) == [(ANCHORED, 3, 1)]  # built+tried, retried down, retried up
        with world.warehouse.read() as con:
            assert verify_partition(con, world.ipfs, chain, day).ok


def test_a_lost_receipt_or_a_crash_never_anchors_twice(chain_up: World) -> None:
    world = chain_up
    day = DAYS[2]
    anchored = world.audit(day)
    assert anchored.status == ANCHORED and anchored.version == 1
    chain = world.connect()
    block = chain.block_number()
    for status in (PENDING_ANCHOR, PENDING_PUBLISH):
        # As if the process died after the transaction (or the upload) but before recording it.
        with world.warehouse.write() as con:
            con.execute(
                "UPDATE audit_snapshots SET status = ?, version = NULL, tx_hash = NULL, "
                "gas_used = NULL WHERE partition = ?",
                [status, day],
            )
        [again] = world.pending()
        assert again.status == ANCHORED and again.already_anchored and again.gas_used == 0
        assert (again.version, again.cid, again.tx_hash) == (1, anchored.cid, anchored.tx_hash)
    assert chain.version_count(day.isoformat()) == 1 and chain.block_number() == block


def test_ipfs_outage_keeps_the_snapshot_until_kubo_is_back(chain_up: World, tmp_path: Path) -> None:
    world = chain_up
    day = DAYS[3]
    served = EmbeddedIpfs(tmp_path / "kubo-store")
    port = free_port()
    kubo = KuboIpfs(f"http://127.0.0.1:{port}", connect_timeout=2, timeout=30)

    down = world.audit(day, ipfs=kubo)  # nothing listens on the port yet
    assert down.status == PENDING_PUBLISH and down.retryable and down.cid is None
    assert "unreachable" in (down.error or "") and Path(down.snapshot_dir).is_dir()
    [still] = world.pending(ipfs=kubo)
    assert still.status == PENDING_PUBLISH and still.retryable

    with running_server(served, port=port):
        [done] = world.pending(ipfs=kubo)
        assert done.status == ANCHORED and done.version == 1
        assert done.cid == only_hash_cid(Path(down.snapshot_dir), tmp_path)
        assert served.has(done.cid) and done.cid in served.pins()
        with world.warehouse.read() as con:
            assert verify_partition(con, kubo, world.connect(), day).ok  # read back over HTTP
    assert world.connect().version_count(day.isoformat()) == 1
    assert world.rows(day) == [(ANCHORED, 3, 1)]

    # With Kubo down again, verification still checks the warehouse and says what it could not do.
    with world.warehouse.read() as con:
        report = verify_partition(con, kubo, world.connect(), day)
    assert report.problem_codes() == ["snapshot_unavailable"]
    assert report.warehouse_root == report.anchored_root


def test_a_rebuild_supersedes_a_snapshot_that_was_never_anchored(chain_up: World) -> None:
    world = chain_up
    day = DAYS[4]
    world.down()
    try:
        stale = world.audit(day)
        assert stale.status == PENDING_ANCHOR
        with world.warehouse.write() as con:
            insert_telemetry(con, telemetry_rows(day, per_hour=1, hours=1, seed=99))
        fresh = world.audit(day)
        assert fresh.status == PENDING_ANCHOR and fresh.root != stale.root
    finally:
        world.up()
    [done] = world.pending()
    assert done.status == ANCHORED and done.root == fresh.root and done.version == 1
    assert [h.status for h in world.history(day)] == [SUPERSEDED, ANCHORED]
    assert Path(stale.snapshot_dir).is_dir()  # kept on disk, for the record
    assert world.connect().version_count(day.isoformat()) == 1


def test_a_refusal_is_raised_and_kept_pending_until_fixed(chain_up: World) -> None:
    world = chain_up
    day = DAYS[5]

    def auditor() -> AuditChain:
        return AuditChain.connect(world.settings, key=dev_key("AUDITOR"))

    with pytest.raises(AuditError, match=r"lacks OPERATOR_ROLE.*stays pending_anchor"):
        world.audit(day, chain=auditor)
    [refused] = world.pending(chain=auditor)
    assert refused.status == PENDING_ANCHOR and not refused.retryable
    assert "lacks OPERATOR_ROLE" in (refused.error or "")
    [done] = world.pending()
    assert done.status == ANCHORED and done.error is None


def test_an_unmined_anchor_is_waited_for_not_sent_again(chain_up: World) -> None:
    world = chain_up
    day = DAYS[6]
    assert world.node is not None
    world.node.rpc("evm_setAutomine", False)
    try:
        slow = world.audit(day, chain=lambda: AuditChain.connect(world.settings, receipt_timeout=1))
        assert slow.status == PENDING_ANCHOR and slow.retryable and slow.tx_hash
        assert "not mined within 1 s" in (slow.error or "")
        [waiting] = world.pending()
        assert waiting.status == PENDING_ANCHOR and waiting.retryable
        assert "still waiting to be mined: not sending another" in (waiting.error or "")
        pool = world.node.rpc("txpool_content")["pending"]
        assert sum(len(txs) for txs in pool.values()) == 1  # the one anchor, not two
        world.node.rpc("evm_mine")
    finally:
        world.node.rpc("evm_setAutomine", True)
    [done] = world.pending()
    assert done.status == ANCHORED and done.already_anchored and done.tx_hash == slow.tx_hash
    assert world.connect().version_count(day.isoformat()) == 1
