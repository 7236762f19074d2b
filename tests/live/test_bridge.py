"""The MQTT bridge against a real Mosquitto: readings and rejects through the real loader, the twin
state, and nothing lost or doubled across a crash between fsync and acknowledgement, a stop
while gateways publish, and a graceful restart."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dt_platform.live import topics
from dt_platform.live.bridge import CLIENT_ID, Bridge
from dt_platform.twin import db as twin_db
from dt_platform.twin.state import reported
from tests.live.bridge_crash_runner import CRASH_CODE
from tests.live.bridge_fixtures import Warehoused, bridge_home, eventually
from tests.live.broker_fixtures import gateway_client, running_broker

G = "factory"
ROOT = Path(__file__).resolve().parents[2]
NOW_MS = int(time.time() * 1000) - 3_600_000


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with running_broker(tmp_path_factory.mktemp("broker")) as settings:
        yield settings


@pytest.fixture
def gw_a(broker):
    client = gateway_client(broker, "gw-a", client_id=f"gw-a-{time.monotonic_ns()}")
    yield client
    client.disconnect()
    client.loop_stop()


def send(client, kind: str, machine: str | None, payload: bytes, gateway: str = "gw-a") -> None:
    if machine is None:
        topic = topics.node_topic(G, kind, gateway)
    else:
        topic = topics.device_topic(G, kind, gateway, machine)
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(10)
    assert info.is_published()


def readings(seq: int, ts: int) -> bytes:
    return topics.encode(
        ts,
        seq,
        [
            topics.metric("vibration_rms", 1.0 + seq / 100, "mm/s"),
            topics.metric("load", 50 + seq % 40, "%"),
            topics.metric("current", 10.0 + seq / 10, "A"),
        ],
    )


def publish_batch(client, start: int, count: int) -> int:
    """``count`` messages of 3 readings each for CNC-01 and CNC-02, one second apart; returns
    the readings published."""
    for i in range(start, start + count):
        send(client, "DDATA", f"CNC-0{1 + i % 2}", readings(i % 256, NOW_MS + i * 1000))
    return 3 * count


def test_readings_and_bad_messages_reach_the_warehouse_through_the_loader(broker, gw_a, tmp_path):
    settings = bridge_home(broker, tmp_path / "home")
    bridge = Bridge(settings, flush_s=0.1, client_id="bridge-bad")
    bridge.start()
    try:
        expected = publish_batch(gw_a, 0, 4)
        bad = [
            b"{not json",
            b"x" * (topics.MAX_PAYLOAD_BYTES + 10),
            b"\xc3\x28 not utf-8",
            topics.encode(NOW_MS, 90, []).replace(b'"metrics":[]', b'"metrix":[]'),
            topics.encode(NOW_MS, 91, [{"name": "load", "unit": "%"}]),
            topics.encode(NOW_MS, 92, [topics.metric("load", 5, "bar")]),
        ]
        for payload in bad:
            send(gw_a, "DDATA", "CNC-01", payload)
        send(gw_a, "DDATA", "CNC-77", readings(93, NOW_MS))  # not in the registry
        send(gw_a, "DDATA", "CNC-03", readings(94, NOW_MS))  # registered to gw-b
        expected += publish_batch(gw_a, 10, 2)  # after the bad ones: the bridge goes on
        eventually(lambda: bridge.stats.received >= 14)
        assert bridge.rotate() is not None
        assert bridge.running and bridge.stats.unreadable == 3
        assert bridge.stats.messages_stored == 14 and bridge.stats.duplicates == 0
    finally:
        bridge.stop()
    wh = Warehoused(settings)
    summary = wh.ingest()
    assert [f.status for f in summary.files] == ["loaded"]
    assert wh.query("SELECT count(*) FROM readings") == [(expected,)]
    assert wh.reasons() == {
        "malformed_line": 3,
        "missing_field": 2,
        "unit_mismatch": 1,
        "unknown_machine": 3,
        "wrong_gateway": 3,
    }
    wh.assert_balanced()


def test_the_twin_follows_what_the_machines_say(broker, gw_a, tmp_path):
    settings = bridge_home(broker, tmp_path / "home")
    acks = []
    bridge = Bridge(
        settings, flush_s=0.1, client_id="bridge-twin", on_ack=lambda *a: acks.append(a)
    )
    bridge.start()
    con = twin_db.connect(settings.twin_db_path, read_only=True)
    state = {
        "mode": "production",
        "settings": {"derate_pct": 20.0, "maintenance": False, "inspection": ""},
        "applied_version": 2,
        "inspection_finding": "bearing wear 30 %",
    }
    try:
        birth = topics.encode(
            NOW_MS,
            0,
            [topics.metric("vibration_rms", 1.2, "mm/s"), topics.metric("twin/reported", state)],
        )
        send(gw_a, "DBIRTH", "CNC-01", birth)
        r = eventually(lambda: reported(con, "CNC-01"))
        assert r.online and r.mode == "production" and r.applied_version == 2
        assert r.settings["derate_pct"] == 20.0
        assert r.settings["inspection_finding"] == "bearing wear 30 %"
        assert r.readings == {"vibration_rms": [1.2, "mm/s"]} and r.gateway == "gw-a"
        ack = {"command_id": "cmd-1", "version": 2, "status": "applied"}
        send(
            gw_a, "DDATA", "CNC-01", topics.encode(NOW_MS + 1, 1, [topics.metric("twin/ack", ack)])
        )
        eventually(lambda: acks)
        machine, gateway, got, at = acks[0]
        assert (machine, gateway, got) == (
            "CNC-01",
            "gw-a",
            {**ack, "reason": None, "detail": None},
        )
        assert at.tzinfo is not None
        send(gw_a, "DDEATH", "CNC-01", topics.encode(NOW_MS + 2, 2, []))
        eventually(lambda: not reported(con, "CNC-01").online)
        send(gw_a, "DBIRTH", "CNC-01", topics.encode(NOW_MS + 3, 3, []))
        send(gw_a, "DBIRTH", "CNC-02", topics.encode(NOW_MS + 3, 0, []))
        eventually(
            lambda: all(reported(con, m) and reported(con, m).online for m in ("CNC-01", "CNC-02"))
        )
        send(gw_a, "NDEATH", None, topics.encode(NOW_MS + 4, 0, []))
        eventually(lambda: not any(reported(con, m).online for m in ("CNC-01", "CNC-02")))
        # A gateway speaking for a machine the registry gives to another leaves its twin alone.
        send(gw_a, "DBIRTH", "CNC-03", birth)
        eventually(lambda: bridge.stats.twin_refused >= 1)
        assert reported(con, "CNC-03") is None
    finally:
        con.close()
        bridge.stop()


def test_a_stale_ndeath_leaves_a_reborn_gateways_machines_online(broker, gw_a, tmp_path):
    """The last will of gw-a's older connection (bdSeq 0) arrives after its NBIRTH of bdSeq 1:
    ignored, also by a restarted bridge; the will of the current connection takes it offline."""
    settings = bridge_home(broker, tmp_path / "home")
    client_id = f"bridge-bdseq-{time.monotonic_ns()}"

    def node(kind: str, bd_seq: int, ms: int) -> None:
        send(gw_a, kind, None, topics.encode(NOW_MS + ms, 0, [topics.metric("bdSeq", bd_seq)]))

    def flushed(bridge: Bridge, received: int) -> None:
        eventually(lambda: bridge.stats.received >= received)
        bridge.rotate()  # flushes what was received before it: the twin batch is written

    bridge = Bridge(settings, flush_s=0.1, client_id=client_id)
    bridge.start()
    con = twin_db.connect(settings.twin_db_path, read_only=True)
    try:
        node("NBIRTH", 1, 0)
        send(gw_a, "DBIRTH", "CNC-01", topics.encode(NOW_MS + 1, 1, []))
        eventually(lambda: (r := reported(con, "CNC-01")) and r.online)
        node("NDEATH", 0, 2)
        flushed(bridge, 3)
        assert bridge.stats.stale_deaths == 1
        assert reported(con, "CNC-01").online
        bridge.stop()

        bridge = Bridge(settings, flush_s=0.1, client_id=client_id)
        bridge.start()
        node("NDEATH", 0, 3)  # a restarted bridge still knows the current bdSeq
        flushed(bridge, 1)
        assert bridge.stats.stale_deaths == 1 and reported(con, "CNC-01").online
        node("NDEATH", 1, 4)
        eventually(lambda: not reported(con, "CNC-01").online)
        assert bridge.stats.stale_deaths == 1
    finally:
        con.close()
        bridge.stop()


def _env(settings) -> dict[str, str]:
    return {
        **os.environ,
        "DT_HOME": str(settings.home),
        "DT_MQTT_URL": settings.mqtt_url,
        "DT_MQTT_USER": settings.mqtt_user,
        "DT_MQTT_PASSWORD": settings.mqtt_password,
    }


def _landed_lines(settings) -> int:
    folder = settings.landing_dir / "stream"
    return sum(len(p.read_bytes().splitlines()) for p in folder.glob("*.jsonl"))


def test_nothing_lost_nothing_doubled_across_a_crash_and_restarts(broker, gw_a, tmp_path):
    settings = bridge_home(broker, tmp_path / "home")
    client_id = CLIENT_ID  # the CLI's, which restarts the session at the end
    first = Bridge(settings, flush_s=0.1, client_id=client_id)
    first.start()  # the persistent session exists from here on
    first.stop()

    # Published while no bridge runs: the broker keeps them for the session.
    expected = publish_batch(gw_a, 0, 30)
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.live.bridge_crash_runner", client_id, "30"],
        cwd=ROOT,
        env=_env(settings),
        capture_output=True,
        timeout=90,
    )
    assert crashed.returncode == CRASH_CODE, crashed.stderr.decode()[-2000:]
    assert list(settings.stream_dir.glob("*.spool")), "the crash left no journal"
    expected += publish_batch(gw_a, 30, 30)

    second = Bridge(settings, flush_s=0.1, client_id=client_id)
    second.start()  # lands the crash's journal first
    try:
        assert second.stats.files_landed == 1

        def caught_up():
            second.rotate()
            return _landed_lines(settings) >= expected

        eventually(caught_up, timeout=30)
        # The broker delivered again what the crash left unacknowledged; it was stored once.
        assert second.stats.duplicates >= 1
    finally:
        second.stop()
    assert _landed_lines(settings) == expected

    # A graceful restart by the CLI: SIGTERM flushes, acknowledges and lands.
    expected += publish_batch(gw_a, 60, 10)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dt_platform.cli", "bridge", "run", "--flush-s", "0.1"],
        cwd=ROOT,
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        con = twin_db.connect(settings.twin_db_path, read_only=True)
        eventually(
            lambda: (
                (r := reported(con, "CNC-02"))
                and r.reading_ts.startswith(_iso_prefix(NOW_MS + 69 * 1000))
            ),
            timeout=30,
        )
        con.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            print(proc.communicate()[1].decode()[-3000:])
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"bridge stopped" in out
    assert _landed_lines(settings) == expected

    wh = Warehoused(settings)
    summary = wh.ingest()
    assert {f.status for f in summary.files} == {"loaded"}
    assert wh.query("SELECT count(*) FROM readings") == [(expected,)]
    assert wh.reasons() == {}
    wh.assert_balanced()


def _iso_prefix(ms: int) -> str:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
