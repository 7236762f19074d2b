"""`dt-platform alarms …` end to end: list, show, acknowledge with the role read from a real local
chain (the demo's MAINTAINER may, its OPERATOR may not), and one delivery pass."""

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.cli import main
from dt_platform.config import Settings
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.chain import deploy, dev_key
from dt_platform.twin import db
from dt_platform.twin.alarms import Condition, sync_alarms
from dt_platform.twin.webhooks import outbox

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def chain_home(tmp_path_factory) -> tuple[Path, int]:
    home = tmp_path_factory.mktemp("alarms_chain")
    with throwaway_anvil(log_path=home / "anvil.log") as node:
        deploy(Settings(home=home, chain_port=node.port))
        yield home, node.port


def _env(home: Path, port: int, **extra: str) -> dict[str, str]:
    return {"DT_HOME": str(home), "DT_CHAIN_PORT": str(port), **extra}


def _seed(home: Path) -> list[int]:
    con = db.connect(Settings(home=home).twin_db_path)
    conds = [
        Condition("CNC-01", "rul_risk", "critical", T0, {"probability": 0.95}),
        Condition("OVEN-02", "rul_risk", "warning", T0, {"probability": 0.6}),
    ]
    return sync_alarms(con, conds, [], T0, kinds=["rul_risk"]).opened


def test_list_show_and_ack_with_the_role_on_chain(chain_home, monkeypatch):
    home, port = chain_home
    monkeypatch.delenv("DT_WALLET_KEY", raising=False)
    runner = CliRunner()
    empty = runner.invoke(main, ["alarms", "list"], env=_env(home, port))
    assert empty.exit_code == 0 and "no active alarms" in empty.output
    critical, warning = _seed(home)
    listed = runner.invoke(main, ["alarms", "list"], env=_env(home, port))
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()[1:]
    assert lines[0].split()[:2] == [str(critical), "critical"]  # critical first
    assert lines[1].split()[:2] == [str(warning), "warning"]

    no_key = runner.invoke(
        main, ["alarms", "ack", str(critical), "--note", "x"], env=_env(home, port)
    )
    assert no_key.exit_code != 0 and "DT_WALLET_KEY" in no_key.output
    operator = _env(home, port, DT_WALLET_KEY=dev_key("OPERATOR"))
    refused = runner.invoke(main, ["alarms", "ack", str(critical), "--note", "seen"], env=operator)
    assert refused.exit_code == 1 and "does not hold MAINTAINER" in refused.output

    maintainer = _env(home, port, DT_WALLET_KEY=dev_key("MAINTAINER"))
    empty_note = runner.invoke(
        main, ["alarms", "ack", str(critical), "--note", " "], env=maintainer
    )
    assert empty_note.exit_code == 1 and "needs a note" in empty_note.output
    done = runner.invoke(
        main, ["alarms", "ack", str(critical), "--note", "spindle swap tonight"], env=maintainer
    )
    assert done.exit_code == 0, done.output
    assert f"alarm {critical} (CNC-01 rul_risk) acknowledged by 0x" in done.output

    as_json = runner.invoke(main, ["alarms", "list", "--json"], env=_env(home, port))
    rows = [json.loads(line) for line in as_json.output.splitlines()]
    acked = next(r for r in rows if r["alarm_id"] == critical)
    assert acked["state"] == "acknowledged" and acked["ack_note"] == "spindle swap tonight"
    shown = runner.invoke(main, ["alarms", "show", str(critical)], env=_env(home, port))
    assert shown.exit_code == 0 and "acknowledged" in shown.output
    assert '"spindle swap tonight"' in shown.output
    missing = runner.invoke(main, ["alarms", "show", "999"], env=_env(home, port))
    assert missing.exit_code == 1 and "no alarm 999" in missing.output


def test_deliver_needs_the_secret_and_reports_the_pass(tmp_path):
    runner = CliRunner()
    urls = "http://127.0.0.1:9/hook"
    con = db.connect(Settings(home=tmp_path).twin_db_path)
    cond = Condition("CNC-01", "rul_risk", "warning", T0, {})
    sync_alarms(con, [cond], [], T0, kinds=["rul_risk"], webhook_urls=[urls])
    unsigned = runner.invoke(main, ["alarms", "deliver"], env={"DT_HOME": str(tmp_path)})
    assert unsigned.exit_code == 1 and "never sent unsigned" in unsigned.output
    env = {"DT_HOME": str(tmp_path), "DT_WEBHOOK_SECRET": "s3cret", "DT_WEBHOOK_URLS": urls}
    sent = runner.invoke(main, ["alarms", "deliver"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "0 delivered, 1 to retry, 0 given up" in sent.output  # nothing listens on port 9
    (item,) = outbox(con)
    assert item.attempts == 1 and item.status == "pending"
