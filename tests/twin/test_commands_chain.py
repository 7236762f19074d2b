"""Signed commands against a real anvil chain with the deployed contracts: the signer's role is
the one the chain holds at verification time, and the CLI signs, approves and publishes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account

from dt_platform.config import Settings
from dt_platform.ingest.registry import load_registry
from dt_platform.live import topics
from dt_platform.processes import free_port
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.chain import AuditChain, Deployment, deploy, dev_key
from dt_platform.twin import command_cli, db
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import list_commands, open_commands
from dt_platform.twin.commands import CommandRefused
from dt_platform.twin.typed_data import command_domain, sign_typed_data
from tests.live.broker_fixtures import Inbox, gateway_client, running_broker
from tests.twin.command_fixtures import Published, at

pytestmark = pytest.mark.integration

MACHINES_YAML = """machines:
  - {machine_id: CNC-01, type: cnc_spindle, line: L1, gateway: gw-opcua}
"""


@dataclass(frozen=True)
class Chain:
    settings: Settings
    deployment: Deployment


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    home: Path = tmp_path_factory.mktemp("dt_home")
    (home / "machines.yaml").write_text(MACHINES_YAML)
    with throwaway_anvil(log_path=home / "anvil.log") as node:
        settings = Settings(home=home, chain_port=node.port)
        yield Chain(settings, deploy(settings))


def test_the_maintainer_role_is_read_from_the_chain(chain: Chain) -> None:
    reader = AuditChain.connect(chain.settings, read_only=True)
    domain = command_domain(reader)
    assert domain.verifying_contract == chain.deployment.address("TwinRegistry")
    assert domain.chain_id == 31337
    con = open_commands(db.connect(chain.settings.home / "direct.sqlite"))
    registry = load_registry(chain.settings.machine_registry_path)
    newcomer = Account.create()

    def attempt(when: int):
        draft = issue_draft(con, registry, "CNC-01", "derate", percent=10, domain=domain,
                            now=at(when))  # fmt: skip
        return submit_signature(
            con, draft.command_id, sign_typed_data(draft.typed_data, newcomer), roles=reader,
            publisher=Published(), domain=domain, now=at(when + 1),
        )  # fmt: skip

    with pytest.raises(CommandRefused) as exc:
        attempt(0)
    assert exc.value.reason_code == "role_missing"
    admin = AuditChain.connect(chain.settings, key=dev_key("ADMIN"))
    admin.grant_role("MAINTAINER", newcomer.address)
    assert attempt(10).state == "pending"
    admin.revoke_role("MAINTAINER", newcomer.address)
    with pytest.raises(CommandRefused) as exc:
        attempt(20)
    assert exc.value.reason_code == "role_missing"


def test_the_cli_signs_approves_and_publishes_on_the_broker(chain: Chain) -> None:
    home = chain.settings.home
    env = {"DT_HOME": str(home), "DT_CHAIN_PORT": str(chain.settings.chain_port)}
    runner = CliRunner()

    def run(*args: str, key: str | None = None, mqtt_port: int = free_port()):
        more = {"DT_WALLET_KEY": key, "DT_MQTT_PORT": str(mqtt_port)}
        return runner.invoke(command_cli.twin, list(args), env={**env, **more})

    # the broker is down: the command is recorded, and published once it is up
    done = run("command", "CNC-01", "derate", "--percent", "20", key=dev_key("MAINTAINER"))
    assert done.exit_code == 0, done.output
    assert "pending" in done.output and "not published yet" in done.output
    with running_broker(home, ("gw-opcua",)) as live:
        port = live.mqtt_port
        retained = Inbox(gateway_client(live, "gw-opcua", "gw-opcua-watch"))
        retained.subscribe(topics.subscription(live.mqtt_group, "DCMD", "gw-opcua"))
        sent = run("publish", mqtt_port=port)
        assert sent.exit_code == 0 and "published: CNC-01" in sent.output, sent.output
        topic, payload, _ = retained.get()
        assert topic == topics.device_topic(live.mqtt_group, "DCMD", "gw-opcua", "CNC-01")
        assert json.loads(payload)["desired"]["derate_pct"] == 20.0

        refused = run("command", "CNC-01", "inspect", key=dev_key("OPERATOR"), mqtt_port=port)
        assert refused.exit_code == 1 and "role_missing" in refused.output

        critical = run(
            "command", "CNC-01", "derate", "--percent", "60", "--dev-account", "MAINTAINER",
            mqtt_port=port,
        )  # fmt: skip
        assert critical.exit_code == 0 and "awaiting_approval" in critical.output
        assert retained.nothing_within(0.5)
        con = open_commands(db.connect(chain.settings.twin_db_path))
        command_id = list_commands(con, "CNC-01")[0].command_id
        same = run("approve", command_id, "--dev-account", "MAINTAINER", mqtt_port=port)
        assert same.exit_code == 1 and "same_signer" in same.output
        approved = run("approve", command_id, key=dev_key("MANAGER"), mqtt_port=port)
        assert approved.exit_code == 0 and "published to gateway gw-opcua" in approved.output
        _, payload, _ = retained.get()
        body = json.loads(payload)
        assert body["desired"]["derate_pct"] == 60.0 and body["command_id"] == command_id

    listing = run("commands", "--machine", "CNC-01")
    assert listing.output.count("CNC-01") == 3 and "critical" in listing.output
    state = run("state", "CNC-01")
    assert '"derate_pct": 60.0' in state.output and "nothing heard yet" in state.output
    history = run("history", command_id)
    assert "approved" in history.output and "MANAGER" in history.output

    no_key = run("command", "CNC-01", "inspect")
    assert no_key.exit_code == 2 and "DT_WALLET_KEY" in no_key.output
