"""`dt-platform demo` as a user runs it: chain, simulated line, materialization, Dagster UI."""

import datetime as dt
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from rich.console import Console

from assets.demo import live_commands, run_demo, ui_commands, ui_environment
from dt_platform.config import Settings
from dt_platform.demo import DEMO_SHARED_DATASETS
from dt_platform.demo_services import (
    cli_path,
    group_running,
    print_still_running,
    start_services,
    stop_services,
)
from dt_platform.live.broker import broker_down, broker_status
from dt_platform.trust.anvil import chain_down, free_port
from dt_platform.trust.chain import AuditChain
from dt_platform.twin import db
from dt_platform.twin.limits_store import current_limits
from dt_platform.twin.state import all_states, open_state
from dt_platform.warehouse import Warehouse
from tests.process_fixtures import alive, descendants

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.setenv("DT_CHAIN_PORT", os.environ.get("DT_CHAIN_PORT", "8545"))  # restored after
    monkeypatch.delenv("DT_PARTITIONS_START", raising=False)  # the demo picks the data's
    s = Settings(home=tmp_path / "home", chain_port=free_port(), mqtt_port=free_port())
    monkeypatch.setenv("DT_MQTT_PORT", str(s.mqtt_port))
    yield s
    broker_down(s)
    chain_down(s)


def _counts(settings: Settings) -> tuple[int, int, int]:
    with Warehouse(settings.warehouse_path).read() as con:
        return con.execute(
            "SELECT (SELECT count(*) FROM readings), (SELECT count(*) FROM telemetry_rejects), "
            "(SELECT count(*) FROM telemetry)"
        ).fetchone()


def test_demo_runs_end_to_end_and_is_rerunnable(settings: Settings) -> None:
    console = Console(file=open(os.devnull, "w"))
    first = run_demo(settings, machines=4, days=2, seed=3, ui=False, console=console)
    assert first.simulated and not first.failed_partitions and len(first.partitions) >= 2
    assert first.deployment.demo_roles["OPERATOR"]
    assert (settings.dagster_home / "dagster.yaml").exists()
    assert first.latest_anchor["cid"].startswith("bafy") and first.latest_anchor["tx_hash"]
    assert first.latest_verified is True
    readings, rejects, telemetry = _counts(settings)
    assert readings > 1000 and telemetry > 1000
    # two days without a failure: every machine gets a prediction row, the RUL from physics alone
    prog = first.prognostics
    assert prog is not None and prog["machines"] == 4 and prog["model_version"] is None
    _every_day_of_the_data_is_materialized(settings, first, days=2)

    # the demo QC account reads the shared production figures by an on-chain grant
    chain = AuditChain.connect(settings, read_only=True)
    qc = first.deployment.demo_roles["QC"]
    expiries = {d: chain.grant_expiry(d, qc) for d in DEMO_SHARED_DATASETS}
    assert all(e is not None and e > dt.datetime.now(dt.UTC) for e in expiries.values())

    # the demo MANAGER's autonomy limits; the day's decisions and maturity levels
    limits = _limits(settings)
    assert limits is not None and limits.limits.max_derate_pct == 20.0
    assert limits.signer == first.deployment.demo_roles["MANAGER"]
    assert not limits.limits.may_stop_production
    with Warehouse(settings.warehouse_path).read() as con:
        decided = con.execute(
            "SELECT count(DISTINCT machine_id), count(*) FILTER (WHERE reason = '') FROM decisions"
        ).fetchone()
        predicted = con.execute(
            "SELECT count(DISTINCT machine_id) FROM rul_predictions WHERE rul_fused_h IS NOT NULL"
        ).fetchone()[0]
        levels = con.execute("SELECT DISTINCT level FROM twin_maturity").fetchall()
    # a decision, with its reason, for every machine with a fused RUL (none without one)
    assert decided == (predicted, 0) and predicted >= 1
    assert levels and all(level >= 2 for (level,) in levels)

    second = run_demo(settings, machines=4, days=2, seed=3, ui=False, console=console)
    assert not second.simulated and not second.failed_partitions
    assert {d: chain.grant_expiry(d, qc) for d in DEMO_SHARED_DATASETS} == expiries  # not re-sent
    assert second.ingest_metadata["new_files"] == 0
    assert _counts(settings) == (readings, rejects, telemetry)
    assert _limits(settings).limits_id == limits.limits_id  # not re-signed
    _live_line_runs(settings)

    # after the demo, the console says what still runs and how to stop it
    record = Console(record=True, width=200, file=open(os.devnull, "w"))
    print_still_running(settings, record)
    said = record.export_text()
    assert f"{cli_path()} chain down" in said and f"{cli_path()} broker down" in said


def _every_day_of_the_data_is_materialized(settings: Settings, report, days: int) -> None:
    """The Dagster UI partitions from the demo's first day, and every day from then to
    yesterday is materialized (the UI shows them all filled, not "13 % filled")."""
    import dagster as dg

    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    assert report.dagster_env == {"DT_PARTITIONS_START": start.isoformat()}
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        done = instance.get_materialized_partitions(dg.AssetKey("telemetry"))
    wanted = {(start + dt.timedelta(days=i)).isoformat() for i in range(days)}
    assert wanted <= done, sorted(wanted - done)


def _limits(settings: Settings):
    con = db.connect(settings.twin_db_path)
    try:
        return current_limits(con, dt.datetime.now(dt.UTC))
    finally:
        con.close()


def _live_line_runs(settings: Settings) -> None:
    """The demo's broker is up, and its bridge and live line (what `make demo` starts beside the
    UIs) carry the simulated machines, continuing their history, into the twin store."""
    assert broker_status(settings).running
    procs = [
        subprocess.Popen(cmd, cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, text=True)
        for cmd in live_commands(machines=4, seed=3).values()
    ]
    try:
        con = open_state(db.connect(settings.twin_db_path))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            online = [s.machine_id for s in all_states(con) if s.reported and s.reported.online]
            if len(online) == 4:
                break
            time.sleep(0.5)
        assert len(online) == 4, online
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert "continuing the batch history" in outputs[1], outputs[1]
    assert "not continuing" not in outputs[1], outputs[1]


def test_dagster_ui_serves_the_populated_asset_graph(settings: Settings) -> None:
    console = Console(file=open(os.devnull, "w"))
    report = run_demo(settings, machines=4, days=1, seed=3, ui=False, console=console)
    port = free_port()
    env = ui_environment(report, free_port()) | {
        "DT_HOME": str(settings.home),
        "DAGSTER_HOME": str(settings.dagster_home),
        "DT_CHAIN_PORT": str(settings.chain_port),
    }
    # the Dagster UI as the demo starts and stops it
    command = {"Dagster UI": ui_commands(settings, port, free_port())["Dagster UI"]}
    services = start_services(command, cwd=REPO, env=env, log_dir=settings.home / "logs")
    group = services[0].proc.pid
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        deadline = time.monotonic() + 180
        assets = None
        while time.monotonic() < deadline:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=query,
                    headers={"Content-Type": "application/json"},
                )
                body = json.load(urllib.request.urlopen(req, timeout=5))
                nodes = body.get("data", {}).get("assetNodes") or []
                if nodes:
                    assets = {"/".join(n["assetKey"]["path"]) for n in nodes}
                    break
            except OSError:
                pass
            time.sleep(2)
        assert assets is not None, "the Dagster UI did not come up"
        assert {
            "machine_registry",
            "raw_dumps",
            "telemetry",
            "maintenance_log",
            "physics_model",
            "rul_model",
            "rul_predictions",
            "maintenance_alerts",
            "audit_snapshot",
        } <= assets

        # the UI partitions from the demo's first day: every day with data shows filled
        keys_query = json.dumps(
            {
                "query": '{ assetNodeOrError(assetKey: {path: ["telemetry"]}) '
                "{ ... on AssetNode { partitionKeys } } }"
            }
        ).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=keys_query,
            headers={"Content-Type": "application/json"},
        )
        keys = json.load(urllib.request.urlopen(req, timeout=30))["data"]["assetNodeOrError"]
        first_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        assert keys["partitionKeys"][0] == first_day.isoformat()

        runs_query = json.dumps(
            {"query": "{ runsOrError { ... on Runs { results { status } } } }"}
        ).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=runs_query,
            headers={"Content-Type": "application/json"},
        )
        runs = json.load(urllib.request.urlopen(req, timeout=10))["data"]["runsOrError"]["results"]
        # The demo's own runs succeeded; the daemon may have queued a no-op ingestion since.
        statuses = [r["status"] for r in runs]
        assert statuses.count("SUCCESS") >= 2
        assert not {"FAILURE", "CANCELED"} & set(statuses)
        started = descendants(group)  # dagster dev's webserver, daemon, code server, ...
        assert len(started) >= 2
    finally:
        stop_services(services, timeout=60.0)
    # nothing of it outlives the demo: `dagster dev`'s code server and gRPC server once did
    assert not group_running(group)
    assert not [pid for pid in started if alive(pid)]


def test_demo_over_a_reset_chain_says_what_to_do_in_one_line(settings: Settings) -> None:
    from click.testing import CliRunner

    from dt_platform.cli import main

    env = {"DT_HOME": str(settings.home), "DT_CHAIN_PORT": str(settings.chain_port)}
    runner = CliRunner()
    assert runner.invoke(main, ["chain", "up"], env=env).exit_code == 0
    assert runner.invoke(main, ["chain", "deploy"], env=env).exit_code == 0
    assert runner.invoke(main, ["chain", "down"], env=env).exit_code == 0
    (settings.chain_dir / "state.json").unlink()  # the chain was reset under the demo's home

    result = runner.invoke(main, ["demo", "--no-ui", "--machines", "4", "--days", "1"], env=env)
    assert result.exit_code == 1
    assert "--after-reset" in result.output and "Traceback" not in result.output
    assert not settings.landing_dir.exists()  # stopped before simulating anything
