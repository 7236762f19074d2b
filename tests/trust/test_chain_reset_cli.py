"""The operator's path after the local chain was reset, as one would type it: the old deployment
is refused, deployed again on purpose, and every anchored day comes back, once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.cli import main
from dt_platform.config import Settings
from dt_platform.trust.anvil import chain_down
from dt_platform.trust.audit import ANCHORED, audit_history, audit_partition
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import free_port, insert_telemetry, telemetry_rows

pytestmark = pytest.mark.integration

DAYS = [dt.date(2026, 10, d) for d in (5, 6)]


def _run(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env)


def test_after_a_chain_reset_the_operator_redeploys_and_every_day_is_anchored_again(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path, chain_port=free_port())
    env = {"DT_HOME": str(tmp_path), "DT_CHAIN_PORT": str(settings.chain_port), "DT_CHAIN_RPC": ""}
    try:
        assert _run(env, "chain", "up").exit_code == 0
        assert _run(env, "chain", "deploy").exit_code == 0
        warehouse, ipfs = Warehouse(settings.warehouse_path), EmbeddedIpfs(settings.ipfs_dir)
        with warehouse.write() as con:
            for n, day in enumerate(DAYS):
                insert_telemetry(con, telemetry_rows(day, per_hour=1, hours=3, seed=n))
                result = audit_partition(
                    con, ipfs, lambda: AuditChain.connect(settings), day,
                    snapshots_dir=settings.snapshots_dir,
                )  # fmt: skip
                assert result.status == ANCHORED
        roots = {d: AuditChain.connect(settings).latest_anchor(d.isoformat()).root for d in DAYS}

        # The reset: the node's state is gone (its recorded deployment with it).
        assert _run(env, "chain", "down").exit_code == 0
        (settings.chain_dir / "state.json").unlink()
        assert _run(env, "chain", "up").exit_code == 0

        refused = _run(env, "chain", "deploy")
        assert refused.exit_code != 0 and "--after-reset" in refused.output
        assert "Traceback" not in refused.output
        redeployed = _run(env, "chain", "deploy", "--after-reset")
        assert redeployed.exit_code == 0, redeployed.output

        reconciled = _run(env, "audit", "reconcile", "--confirmations", "1")
        assert reconciled.exit_code == 1  # anchors were missing; they are queued again
        assert "2026-10-05" in reconciled.output and "2026-10-06" in reconciled.output
        retried = _run(env, "audit", "retry")
        assert retried.exit_code == 0, retried.output
        chain = AuditChain.connect(settings)
        for day in DAYS:
            versions = chain.anchor_versions(day.isoformat())
            assert [a.root for a in versions] == [roots[day]]  # back, exactly once
            checked = _run(env, "verify", "--partition", day.isoformat())
            assert checked.exit_code == 0, checked.output
        assert _run(env, "audit", "reconcile", "--confirmations", "1").exit_code == 0
        with warehouse.read() as con:
            assert all(h.status != "pending_anchor" for h in audit_history(con))
    finally:
        chain_down(settings)
