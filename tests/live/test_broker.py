"""The local Mosquitto: per-gateway credentials and ACLs, enforced by the real broker."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dt_platform.cli import main
from dt_platform.live import topics
from dt_platform.live.broker import broker_status, read_credentials
from dt_platform.live.mqtt import MqttError, connect
from tests.live.broker_fixtures import Inbox, gateway_client, platform_client, running_broker

G = "factory"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with running_broker(tmp_path_factory.mktemp("broker")) as settings:
        yield settings


def test_files_are_private_and_users_are_the_gateways(broker):
    folder = broker.broker_dir
    for name in ("passwd", "acl", "credentials.json"):
        assert (folder / name).stat().st_mode & 0o077 == 0, name
    assert set(read_credentials(broker)) == {"platform", "gw-a", "gw-b"}
    status = broker_status(broker)
    assert status.running and status.pid
    # Mosquitto keeps only salted hashes; the passwords are not in its file.
    passwd = (folder / "passwd").read_text()
    assert all(p not in passwd for p in read_credentials(broker).values())


def test_wrong_password_and_anonymous_are_refused(broker):
    with pytest.raises(MqttError, match="refused"):
        connect(broker, "intruder", "gw-a", "not-the-password", timeout=5)
    with pytest.raises(MqttError, match="refused"):
        connect(broker, "anon", "", None, timeout=5)


def test_a_gateway_publishes_only_under_its_own_node(broker):
    platform = platform_client(broker, "platform-acl")
    inbox = Inbox(platform).subscribe(topics.subscription(G, "DDATA"))
    gw_a = gateway_client(broker, "gw-a")
    payload = topics.encode(1, 0, [topics.metric("vibration_rms", 1.2, "mm/s")])
    gw_a.publish(
        topics.device_topic(G, "DDATA", "gw-a", "CNC-01"), payload, qos=1
    ).wait_for_publish(5)
    topic, body, _ = inbox.get()
    assert topic.endswith("/DDATA/gw-a/CNC-01") and body == payload
    # As another gateway: the broker drops it (MQTT 3.1.1 has no negative PUBACK).
    gw_a.publish(
        topics.device_topic(G, "DDATA", "gw-b", "CNC-02"), payload, qos=1
    ).wait_for_publish(5)
    assert inbox.nothing_within(1.0)
    for c in (platform, gw_a):
        c.loop_stop()
        c.disconnect()


def test_a_gateway_reads_only_its_machines_commands_and_cannot_write_one(broker):
    platform = platform_client(broker, "platform-cmd")
    for gw, machine in (("gw-a", "CNC-01"), ("gw-b", "CNC-02")):
        platform.publish(
            topics.device_topic(G, "DCMD", gw, machine), b'{"desired":{}}', qos=1, retain=True
        ).wait_for_publish(5)
    gw_a = gateway_client(broker, "gw-a", "gw-a-cmd")
    mine = Inbox(gw_a).subscribe(topics.subscription(G, "DCMD", "gw-a"))
    topic, _, retained = mine.get()
    assert topic.endswith("/DCMD/gw-a/CNC-01") and retained
    # Subscribing to everything's commands delivers none of gw-b's.
    snoop = Inbox(gateway_client(broker, "gw-a", "gw-a-snoop")).subscribe(
        topics.subscription(G, "DCMD", "+")
    )
    seen = {snoop.get()[0]}
    assert snoop.nothing_within(1.0)
    assert seen == {topics.device_topic(G, "DCMD", "gw-a", "CNC-01")}
    # A gateway cannot order a machine (not even its own).
    watch = Inbox(platform_client(broker, "platform-watch")).subscribe(
        topics.subscription(G, "DCMD")
    )
    while not watch.nothing_within(0.5):
        pass  # drain the retained ones
    gw_a.publish(topics.device_topic(G, "DCMD", "gw-a", "CNC-01"), b"{}", qos=1).wait_for_publish(5)
    assert watch.nothing_within(1.0)


def test_cli_status_up_down(tmp_path, monkeypatch):
    from dt_platform.processes import free_port

    monkeypatch.setenv("DT_HOME", str(tmp_path))
    monkeypatch.setenv("DT_MQTT_PORT", str(free_port()))
    runner = CliRunner()
    assert runner.invoke(main, ["broker", "status"]).exit_code == 1
    result = runner.invoke(main, ["broker", "up"])
    assert result.exit_code == 0, result.output
    assert "started" in result.output and "gw-opcua" in result.output
    again = runner.invoke(main, ["broker", "up"])
    assert "already running" in again.output
    assert runner.invoke(main, ["broker", "status"]).exit_code == 0
    assert "broker stopped" in runner.invoke(main, ["broker", "down"]).output
    assert runner.invoke(main, ["broker", "status"]).exit_code == 1
