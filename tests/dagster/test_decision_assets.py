"""The ``decisions`` asset over a tiny hand-made warehouse: a day of predictions for two machines
becomes the day's decisions, in the twin store and in the warehouse table the audit snapshot
reads; MANAGER limits without a reachable chain leave every decision advisory."""

import datetime as dt
import socket
from contextlib import closing
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets import decisions as decision_assets
from assets.automation import DAILY_ASSETS, LIVE_ASSETS
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.phm import tables
from dt_platform.trust.snapshot.sources import SOURCES
from dt_platform.twin import db
from dt_platform.twin.decision_store import list_decisions
from dt_platform.twin.limits import Limits
from dt_platform.twin.limits_store import issue_limits, submit_limits
from dt_platform.warehouse import Warehouse
from tests.twin.command_fixtures import DOMAIN, sign, team

DAY = dt.date(2026, 2, 10)  # a Tuesday
TS = dt.datetime(2026, 2, 10, 23, 0, tzinfo=dt.UTC)


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "machines.yaml").write_text(
        "machines:\n  - {machine_id: CNC-01, type: cnc_spindle, gateway: gw-1}\n"
        "  - {machine_id: SMT-01, type: smt_placer, gateway: gw-1}\n"
    )
    frame = pl.DataFrame(
        {
            "machine_id": ["CNC-01", "CNC-01", "SMT-01"],
            "machine_type": ["cnc_spindle", "cnc_spindle", "smt_placer"],
            "ts": [TS - dt.timedelta(hours=1), TS, TS],
            "component_installed_at": [TS - dt.timedelta(days=90)] * 3,
            "rul_fused_h": [30.0, 18.0, 3000.0],
            "rul_fused_lo_h": [10.0, 5.0, 1500.0],
            "rul_fused_hi_h": [60.0, 40.0, 6000.0],
            "model_version": ["m1", "m1", "m1"],
        }
    )
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        tables.replace_day(con, "rul_predictions", DAY, frame)
    return Settings(home=tmp_path, chain_port=_free_port())


def _run(settings: Settings) -> dict:
    result = dg.materialize(
        [decision_assets.decisions],
        partition_key=DAY.isoformat(),
        resources=platform_resources(settings),
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_the_days_predictions_become_decisions_in_the_snapshot_source(settings: Settings) -> None:
    meta = _run(settings)
    assert meta["decisions"] == 2 and meta["mode"] == "advisory"
    assert meta["actions"]["nothing"] == 1 and sum(meta["actions"].values()) == 2
    assert meta["expected_cost_avoided"] > 0
    with closing(db.connect(settings.twin_db_path)) as con:
        by_machine = {r.machine_id: r for r in list_decisions(con)}
    cnc, smt = by_machine["CNC-01"], by_machine["SMT-01"]
    assert cnc.rul_fused_h == 18.0 and cnc.action != "nothing"  # the latest prediction
    assert smt.action == "nothing" and smt.status == "no_action"
    assert "not_sent" in cnc.detail or cnc.status != "advised"  # a past day sends nothing
    again = _run(settings)
    assert again["decisions"] == 2
    with closing(duckdb.connect(str(settings.warehouse_path), read_only=True)) as duck:
        rows = duck.execute(SOURCES["decisions"].query, {"day": DAY}).pl()
    assert rows.height == 2 and set(rows["machine_id"]) == {"CNC-01", "SMT-01"}
    assert rows.filter(pl.col("machine_id") == "CNC-01")["model_version"].item() == "m1"
    assert (rows["prediction_ts"] == rows["ts"]).all()


def test_limits_without_a_reachable_chain_leave_decisions_advisory(settings: Settings) -> None:
    t = team()
    with closing(db.connect(settings.twin_db_path)) as con:
        now = dt.datetime.now(dt.UTC)
        draft = issue_limits(
            con, Limits(may_stop_production=True, expires_at=now + dt.timedelta(days=1)),
            domain=DOMAIN, now=now,
        )  # fmt: skip
        submit_limits(con, draft.limits_id, sign(draft.typed_data, t.manager), roles=t.roles,
                      domain=DOMAIN, now=now)  # fmt: skip
    meta = _run(settings)
    assert meta["mode"] == "advisory" and meta["commanded"] == 0


def test_decisions_run_after_the_alerts_daily_and_hourly() -> None:
    i = DAILY_ASSETS.index("decisions")
    assert DAILY_ASSETS[i - 1] == "maintenance_alerts" and "decisions" in LIVE_ASSETS
