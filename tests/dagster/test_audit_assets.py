"""The audit asset in Dagster, against a real anvil and the embedded IPFS store."""

import datetime as dt
import socket

import dagster as dg
import pytest

from assets import audit, ingestion
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.sim import SimConfig, simulate_line
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.warehouse import Warehouse

pytestmark = pytest.mark.integration
DAY = dt.date(2026, 4, 7)
DEPLOYED: list[str] = []
"""The anvil snapshot taken right after the deployment (for the rollback test)."""


def _reconcile(platform: dict, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """One run of the reconciliation job (what the reconciliation sensor requests)."""
    defs = dg.Definitions(
        assets=[audit.audit_snapshot],
        asset_checks=[audit.anchors_on_chain],
        jobs=[audit.reconcile_anchors_job],
        resources=platform,
    )
    return defs.resolve_job_def("reconcile_anchors_job").execute_in_process(instance=instance)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chain_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    simulate_line(
        SimConfig(machines=4, days=2, seed=9, start=DAY - dt.timedelta(days=1), interval_s=600),
        home / "landing",
        truth_dir=home / "ground_truth",
        registry_path=home / "machines.yaml",
    )
    with throwaway_anvil() as node:
        deploy(Settings(home=home, chain_port=node.port))
        DEPLOYED[:] = [node.rpc("evm_snapshot")]
        platform = platform_resources(Settings(home=home, chain_port=node.port))
        assert dg.materialize(
            [ingestion.machine_registry, ingestion.raw_dumps, ingestion.maintenance_log],
            resources=platform,
        ).success
        for day in (DAY - dt.timedelta(days=1), DAY):
            assert dg.materialize(
                [ingestion.telemetry],
                partition_key=day.isoformat(),
                resources=platform,
            ).success
        yield home, node, platform


def test_audit_snapshot_anchors_and_verifies(chain_home) -> None:
    home, node, platform = chain_home
    result = dg.materialize(
        [audit.audit_snapshot], partition_key=DAY.isoformat(), resources=platform
    )
    assert result.success
    meta = result.asset_materializations_for_node("audit_snapshot")[0].metadata
    assert meta["status"].value == "anchored"
    assert meta["cid"].value.startswith("bafy") and meta["tx_hash"].value.startswith("0x")
    assert meta["gas_used"].value > 0
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "anchor_matches_warehouse" and check.passed
    anchor = AuditChain.connect(Settings(home=home, chain_port=node.port)).latest_anchor(
        DAY.isoformat()
    )
    assert anchor.cid == meta["cid"].value

    # Tamper with one value after anchoring: the check fails and names the record.
    with Warehouse(home / "warehouse.duckdb").write() as con:
        machine, sensor, ts = con.execute(
            "SELECT machine_id, sensor, ts FROM telemetry WHERE day = ? ORDER BY ts LIMIT 1", [DAY]
        ).fetchone()
        con.execute(
            "UPDATE telemetry SET value = value + 1 WHERE machine_id=? AND sensor=? AND ts=?",
            [machine, sensor, ts],
        )
    again = dg.materialize(
        [audit.audit_snapshot],
        partition_key=DAY.isoformat(),
        resources=platform,
        raise_on_error=False,
    )
    # No file explains the rebuilt day: it waits for an OPERATOR's reason instead of becoming a
    # new version by itself, and the check fails naming the record (version 1 still holds).
    meta2 = again.asset_materializations_for_node("audit_snapshot")[0].metadata
    assert meta2["status"].value == "awaiting_reason" and "version" not in meta2
    assert "dt-platform audit anchor --partition 2026-04-07" in meta2["detail"].value
    assert meta2["waiting_for_reason"].value == [DAY.isoformat()]
    check2 = again.get_asset_check_evaluations()[0]
    assert not check2.passed
    assert f"machine_id={machine}, sensor={sensor}" in check2.metadata["report"].value
    assert "waiting_for_reason" in check2.metadata
    assert (
        AuditChain.connect(Settings(home=home, chain_port=node.port)).version_count(DAY.isoformat())
        == 1
    )
    # The reconciliation check lists the waiting day too.
    with dg.instance_for_test() as instance:
        run = _reconcile(platform, instance)
    [reconciled] = run.get_asset_check_evaluations()
    assert reconciled.check_name == "anchors_on_chain" and not reconciled.passed
    assert reconciled.severity == dg.AssetCheckSeverity.WARN
    assert reconciled.metadata["waiting_for_reason"].value == [DAY.isoformat()]
    with Warehouse(home / "warehouse.duckdb").write() as con:  # undo the tamper
        con.execute(
            "UPDATE telemetry SET value = value - 1 WHERE machine_id=? AND sensor=? AND ts=?",
            [machine, sensor, ts],
        )
    undone = dg.materialize(
        [audit.audit_snapshot], partition_key=DAY.isoformat(), resources=platform
    )
    meta3 = undone.asset_materializations_for_node("audit_snapshot")[0].metadata
    assert meta3["status"].value == "unchanged" and "waiting_for_reason" not in meta3


def test_outage_leaves_the_snapshot_pending_and_the_sensor_job_anchors_it(chain_home) -> None:
    home, node, platform = chain_home
    day = DAY - dt.timedelta(days=1)
    down = platform_resources(Settings(home=home, chain_rpc=f"http://127.0.0.1:{_dead_port()}"))
    result = dg.materialize([audit.audit_snapshot], partition_key=day.isoformat(), resources=down)
    assert result.success  # an outage is not a failure of the data: the snapshot waits on disk
    meta = result.asset_materializations_for_node("audit_snapshot")[0].metadata
    assert meta["status"].value == "pending_anchor"
    assert not result.get_asset_check_evaluations()[0].passed

    with dg.instance_for_test() as instance:
        tick = audit.pending_anchors_sensor(
            dg.build_sensor_context(instance=instance, resources=platform)
        )
        assert isinstance(tick, dg.RunRequest)
        run = audit.anchor_pending_job.execute_in_process(resources=platform, instance=instance)
        assert run.success
        anchored = [m for m in run.asset_materializations_for_node("anchor_pending_snapshots")]
        assert [m.partition for m in anchored] == [day.isoformat()]
        assert anchored[0].metadata["status"].value == "anchored"
        assert isinstance(
            audit.pending_anchors_sensor(
                dg.build_sensor_context(instance=instance, resources=platform)
            ),
            dg.SkipReason,
        )
    chain = AuditChain.connect(Settings(home=home, chain_port=node.port))
    assert len(chain.anchor_versions(day.isoformat())) == 1


def test_the_reconciliation_sensor_and_check_re_queue_what_a_rollback_lost(chain_home) -> None:
    home, node, platform = chain_home
    settings = Settings(home=home, chain_port=node.port)
    days = [(DAY - dt.timedelta(days=1)).isoformat(), DAY.isoformat()]
    assert [AuditChain.connect(settings).version_count(d) for d in days] == [1, 1]
    node.rpc("evm_revert", DEPLOYED[0])  # the chain as it was right after the deployment
    assert [AuditChain.connect(settings).version_count(d) for d in days] == [0, 0]
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=platform)
        assert isinstance(audit.anchor_reconciliation_sensor(context), dg.RunRequest)
        run = _reconcile(platform, instance)
        [check] = run.get_asset_check_evaluations()
        assert check.check_name == "anchors_on_chain" and not check.passed
        assert check.severity == dg.AssetCheckSeverity.ERROR
        assert check.metadata["missing"].value == 2
        assert check.metadata["requeued_days"].value == days
        assert "rolled back or reset" in check.metadata["report"].value

        # The pending-anchor sensor takes it from there, once.
        assert isinstance(audit.pending_anchors_sensor(context), dg.RunRequest)
        done = audit.anchor_pending_job.execute_in_process(resources=platform, instance=instance)
        anchored = done.asset_materializations_for_node("anchor_pending_snapshots")
        assert sorted(m.partition for m in anchored) == days
        again = _reconcile(platform, instance)
        [check] = again.get_asset_check_evaluations()
        assert check.passed and check.metadata["missing"].value == 0
        assert check.metadata["unconfirmed"].value == 2  # 12 blocks are not mined yet
        assert isinstance(audit.pending_anchors_sensor(context), dg.SkipReason)
    assert [AuditChain.connect(settings).version_count(d) for d in days] == [1, 1]


def test_the_reconciliation_runs_in_its_own_job_not_in_every_day() -> None:
    from assets.definitions import defs

    reconcile = defs.resolve_job_def("reconcile_anchors_job")
    assert list(reconcile.graph.node_names()) == ["audit_snapshot_anchors_on_chain"]
    assert reconcile.partitions_def is None
    daily = defs.resolve_job_def("daily_job")
    assert "audit_snapshot_anchors_on_chain" not in daily.graph.node_names()
    repo = defs.get_repository_def()
    assert {"anchor_reconciliation_sensor", "pending_anchors_sensor"} <= {
        s.name for s in repo.sensor_defs
    }
