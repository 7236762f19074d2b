"""Anchors reconciled with a real anvil: rolled back (``evm_revert``) or reset (a fresh chain,
the contracts deployed again), every version the warehouse called anchored comes back, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dt_platform.config import Settings
from dt_platform.trust.anchors_cli import audit
from dt_platform.trust.anvil import Anvil
from dt_platform.trust.audit import (
    ANCHORED,
    LOST,
    PENDING_PUBLISH,
    AuditResult,
    Reconciliation,
    audit_history,
    audit_partition,
    process_pending,
    reconcile_anchors,
    verify_versions,
)
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import free_port, insert_telemetry, telemetry_rows

pytestmark = pytest.mark.integration


@dataclass
class World:
    settings: Settings
    warehouse: Warehouse
    ipfs: EmbeddedIpfs
    snapshots: Path
    node: Anvil

    def chain(self) -> AuditChain:
        return AuditChain.connect(self.settings)

    def audit(self, day: dt.date, **kwargs: Any) -> AuditResult:
        with self.warehouse.write() as con:
            return audit_partition(
                con, self.ipfs, self.chain, day, snapshots_dir=self.snapshots,
                code_version="0.1.0+src.reconcile", **kwargs,
            )  # fmt: skip

    def reconcile(self, confirmations: int = 1, **kwargs: Any) -> Reconciliation:
        with self.warehouse.write() as con:
            return reconcile_anchors(con, self.chain(), confirmations=confirmations, **kwargs)

    def pending(self) -> list[AuditResult]:
        with self.warehouse.write() as con:
            return process_pending(con, self.ipfs, self.chain)

    def history(self, day: dt.date) -> list[tuple[str, int | None]]:
        with self.warehouse.read() as con:
            return [(h.status, h.version) for h in audit_history(con, day)]

    def on_chain(self, day: dt.date) -> list[tuple[str, str, str]]:
        return [
            ("0x" + a.root.hex(), a.cid, a.reason)
            for a in self.chain().anchor_versions(day.isoformat())
        ]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(home=tmp_path, chain_port=free_port())
    node = Anvil(settings.chain_port, log_path=tmp_path / "anvil.log").start()
    w = World(settings, Warehouse(settings.warehouse_path), EmbeddedIpfs(settings.ipfs_dir),
              tmp_path / "snapshots", node)  # fmt: skip
    try:
        deploy(settings)
        with w.warehouse.write() as con:
            for n, day in enumerate(DAYS):
                insert_telemetry(con, telemetry_rows(day, per_hour=1, hours=4, seed=n))
        yield w
    finally:
        w.node.stop()


DAYS = [dt.date(2026, 9, d) for d in (1, 2, 3)]
A, B, C = DAYS


def edit(world: World, day: dt.date) -> None:
    with world.warehouse.write() as con:
        con.execute("UPDATE telemetry SET value = value + 1 WHERE day = ? AND sensor = "
                    "'vacuum_kpa'", [day])  # fmt: skip


def test_a_rolled_back_chain_gets_each_lost_version_back_exactly_once(world: World) -> None:
    assert world.audit(A).status == ANCHORED
    assert world.audit(B).status == ANCHORED
    before_c = world.node.rpc("evm_snapshot")
    c1 = world.audit(C)
    edit(world, C)
    c2 = world.audit(C, reason="vacuum offset corrected (ticket 3)")
    assert (c1.version, c2.version) == (1, 2)
    original = world.on_chain(C)

    # Deep enough at depth 1; at depth 3 the last anchors are unconfirmed, never missing.
    assert world.reconcile(1).confirmed == 4
    shallow = world.reconcile(3)
    assert shallow.ok and shallow.missing == [] and shallow.confirmed == 2
    assert [(g.partition, g.version, g.detail) for g in shallow.unconfirmed] == [
        ("2026-09-03", 1, "2 of 3 blocks"),
        ("2026-09-03", 2, "1 of 3 blocks"),
    ]
    assert world.history(C) == [(ANCHORED, 1), (ANCHORED, 2)]

    world.node.rpc("evm_revert", before_c)  # both anchors of C are gone, A and B stay
    assert world.on_chain(C) == []
    report = world.reconcile(1)
    assert not report.ok and report.requeued_days() == ["2026-09-03"]
    assert [(g.version, g.kind) for g in report.missing] == [(1, "missing"), (2, "missing")]
    assert "rolled back or reset" in report.missing[0].detail
    assert "2 ANCHOR(S) MISSING" in report.render() and report.confirmed == 2
    assert world.history(C) == [(LOST, 1), (LOST, 2), (PENDING_PUBLISH, None),
                                (PENDING_PUBLISH, None)]  # fmt: skip
    # Reconciling again before the queue ran finds nothing new: no second copy is queued.
    again = world.reconcile(1)
    assert again.ok and again.checked == 2 and len(again.pending) == 2

    # A rebuild of C meanwhile does not replace the re-anchors.
    assert world.audit(C).status == "unchanged"
    done = world.pending()
    assert [(r.partition, r.status, r.version) for r in done] == [
        ("2026-09-03", ANCHORED, 1),
        ("2026-09-03", ANCHORED, 2),
    ]
    assert world.on_chain(C) == original  # same roots, CIDs and reasons, in order
    assert world.reconcile(1).ok and world.pending() == []
    assert len(world.on_chain(C)) == 2  # exactly once
    with world.warehouse.read() as con:
        assert verify_versions(con, world.ipfs, world.chain(), C).ok


def test_a_reset_chain_with_the_contracts_deployed_again(world: World) -> None:
    for day in DAYS:
        assert world.audit(day).status == ANCHORED
    edit(world, A)
    a2 = world.audit(A, reason="re-read the gateway (ticket 5)")
    before = {day: world.on_chain(day) for day in DAYS}

    world.node.stop()  # a fresh chain: no state at all
    world.node = Anvil(world.settings.chain_port, log_path=world.settings.home / "anvil2.log")
    world.node.start()
    world.settings.deployment_path.unlink()  # the old deployment is gone with the chain
    deploy(world.settings)

    report = world.reconcile(12)
    assert sorted((g.partition, g.version) for g in report.missing) == [
        ("2026-09-01", 1), ("2026-09-01", 2), ("2026-09-02", 1), ("2026-09-03", 1),
    ]  # fmt: skip
    assert report.requeued_days() == ["2026-09-01", "2026-09-02", "2026-09-03"]
    assert {r.status for r in world.pending()} == {ANCHORED}
    assert {day: world.on_chain(day) for day in DAYS} == before
    assert world.on_chain(A)[1][2] == a2.reason

    # Freshly re-anchored: unconfirmed at depth 12 until blocks pile up on top.
    shallow = world.reconcile(12)
    assert shallow.ok and len(shallow.unconfirmed) == 4 and shallow.confirmed == 0
    world.node.rpc("anvil_mine", 12)
    deep = world.reconcile(12)
    assert deep.ok and deep.confirmed == 4 and deep.gaps == []
    assert world.pending() == [] and sum(len(world.on_chain(d)) for d in DAYS) == 4


def test_a_replaced_version_is_anchored_again_and_the_latest_stays_latest(world: World) -> None:
    before_a = world.node.rpc("evm_snapshot")
    a1 = world.audit(A)
    edit(world, A)
    a2 = world.audit(A, reason="second look (ticket 8)")
    world.node.rpc("evm_revert", before_a)
    # Someone anchors other records as version 1; version 2 comes back as it was.
    chain = world.chain()
    chain.anchor(A.isoformat(), b"\x42" * 32, a1.cid or "", 7)
    chain.anchor(A.isoformat(), bytes.fromhex(a2.root[2:]), a2.cid or "", a2.record_count,
                 a2.reason or "")  # fmt: skip

    report = world.reconcile(1)
    assert [(g.version, g.kind) for g in report.missing] == [(1, "replaced")]
    assert "holds other records as version 1" in report.missing[0].detail
    world.pending()
    roots = [root for root, _, _ in world.on_chain(A)]
    assert roots == ["0x" + "42" * 32, a2.root, a1.root, a2.root]  # v2 is the latest again
    reasons = [reason for _, _, reason in world.on_chain(A)]
    assert reasons[2] == "re-anchor of version 1, which the chain no longer holds"
    assert reasons[3] == "second look (ticket 8)"
    assert world.reconcile(1).ok and world.pending() == []
    assert len(world.on_chain(A)) == 4


def test_cli_reconcile_reports_the_gap(world: World) -> None:
    before = world.node.rpc("evm_snapshot")
    world.audit(B)
    world.node.rpc("evm_revert", before)
    env = {"DT_HOME": str(world.settings.home), "DT_CHAIN_PORT": str(world.settings.chain_port),
           "DT_CHAIN_RPC": "", "DT_CHAIN_KEY": "", "DT_IPFS_API": ""}  # fmt: skip
    runner = CliRunner()
    gap = runner.invoke(audit, ["reconcile", "--confirmations", "1"], env=env)
    assert gap.exit_code == 1, gap.output
    assert "2026-09-02 version 1: missing" in gap.output and "re-queued as row" in gap.output
    retried = runner.invoke(audit, ["retry"], env=env)
    assert retried.exit_code == 0 and "2026-09-02: anchored, version 1" in retried.output
    ok = runner.invoke(audit, ["reconcile", "--confirmations", "1"], env=env)
    assert ok.exit_code == 0 and "1 checked, 1 confirmed" in ok.output
