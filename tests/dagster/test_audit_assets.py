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
    # The rebuilt day is a new version (with a reason), so the chain now matches the tampered
    # warehouse: tampering is an edit that the anchors make visible, version 1 still holds the truth.
    meta2 = again.asset_materializations_for_node("audit_snapshot")[0].metadata
    assert meta2["version"].value == 2 and meta2["reason"].value


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
