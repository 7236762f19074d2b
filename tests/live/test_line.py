"""The live line against a real Mosquitto: telemetry up, desired states down, acks and state up."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from dt_platform.catalog import MACHINE_TYPES, QUANTITIES
from dt_platform.cli import main
from dt_platform.live import topics
from dt_platform.live.line import LiveLine
from dt_platform.live.machine import LiveMachine
from dt_platform.live.takeover import live_machines
from dt_platform.sim.gateways import GATEWAYS
from tests.live.broker_fixtures import platform_client, running_broker

G = "factory"
GW_NAMES = tuple(g.name for g in GATEWAYS)
SEED = 11
SPEED = 3600.0  # a sim hour per wall second


def past_wednesday() -> datetime:
    """00:00 UTC of a Wednesday at least a week ago (plant 08:00: every machine produces)."""
    today = datetime.now(UTC).date()
    day = today - timedelta(days=(today.weekday() - 2) % 7 + 7)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Recorder:
    """Every message the platform sees, in arrival order."""

    def __init__(self, client) -> None:
        self.messages: list[tuple[str, dict, bool]] = []
        self.cond = threading.Condition()
        subscribed = threading.Event()
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: subscribed.set()
        client.subscribe(f"{topics.NAMESPACE}/{G}/#", 1)
        assert subscribed.wait(5)

    def _on_message(self, _c, _u, m) -> None:
        body = json.loads(m.payload) if m.payload else {}
        with self.cond:
            self.messages.append((m.topic, body, m.retain))
            self.cond.notify_all()

    def wait(self, predicate, timeout: float = 15.0):
        def hit():
            return next(
                ((i, t, b) for i, (t, b, _) in enumerate(self.messages) if predicate(t, b)), None
            )

        with self.cond:
            assert self.cond.wait_for(hit, timeout), "expected message did not arrive"
            return hit()

    def snapshot(self):
        with self.cond:
            return list(self.messages)


def metric_value(body: dict, name: str):
    return next((m["value"] for m in body.get("metrics", []) if m["name"] == name), None)


def ack_of(machine: str, version: int, status: str):
    def pred(topic: str, body: dict) -> bool:
        ack = metric_value(body, topics.ACK_METRIC)
        return (
            topic.endswith(f"/DDATA/{topic.split('/')[3]}/{machine}")
            and ack is not None
            and ack["version"] == version
            and ack["status"] == status
        )

    return pred


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with running_broker(tmp_path_factory.mktemp("line_broker"), GW_NAMES) as settings:
        yield settings


@pytest.fixture
def platform(broker):
    client = platform_client(broker, f"platform-{time.monotonic_ns()}")
    recorder = Recorder(client)
    published: list[str] = []

    def desired(gateway, machine, version, expires_at=None, **settings):
        topic = topics.device_topic(G, "DCMD", gateway, machine)
        payload = topics.encode(
            int(time.time() * 1000),
            0,
            [],
            desired={"derate_pct": 0.0, "maintenance": False, "inspection": "", **settings},
            version=version,
            command_id=f"cmd-{machine}-{version}",
            expires_at=expires_at,
        )
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
        published.append(topic)

    yield recorder, desired
    for topic in published:  # clear the retained desired states for the next test
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def new_line(broker, **kw) -> LiveLine:
    kw = {
        "machines": 3,
        "seed": SEED,
        "speed": SPEED,
        "start": past_wednesday(),
        "busy_prob": 0.0,
        "tick_s": 0.05,
        **kw,
    }
    return LiveLine(broker, truth_dir=broker.home / "no_history", **kw)


def test_telemetry_on_each_gateways_topics_in_catalogue_units(broker, platform):
    recorder, _ = platform
    line = new_line(broker).start()
    try:
        recorder.wait(lambda t, b: "/DDATA/" in t and t.endswith("/CNC-01"))
        time.sleep(1.0)
    finally:
        line.stop()
    messages = recorder.snapshot()
    gateway_of = {m.machine_id: m.spec.gateway for m in line.machines.values()}
    kinds = {}
    readings = 0
    now_ms = time.time() * 1000
    for topic, body, _ in messages:
        t = topics.parse_topic(topic)
        assert t is not None and t.group == G
        kinds.setdefault(t.kind, set()).add(t.machine or t.gateway)
        assert {"timestamp", "seq", "metrics"} <= set(body)
        assert 0 <= body["seq"] <= 255 and body["timestamp"] <= now_ms
        if t.machine is None:
            continue
        assert gateway_of[t.machine] == t.gateway  # only under its own node
        mtype = MACHINE_TYPES[line.machines[t.machine].spec.type]
        for m in body["metrics"]:
            if m["name"].startswith(topics.TWIN_PREFIX):
                continue
            sensor = mtype.sensor_by_tag(m["name"])
            assert sensor is not None, m
            scale, offset = QUANTITIES[sensor.quantity].conversions[m["unit"]]
            assert sensor.low - 1e-6 <= m["value"] * scale + offset <= sensor.high + 1e-6
            if t.gateway == "gw-mqtt" and sensor.quantity == "temperature":
                assert m["unit"] == "degF"  # the batch gateway's quirk, kept
            readings += 1
    assert kinds["NBIRTH"] == set(GW_NAMES) == kinds["NDEATH"]
    assert kinds["DBIRTH"] == set(gateway_of) == kinds["DDATA"] == kinds["DDEATH"]
    birth = next(b for t, b, _ in messages if "/DBIRTH/" in t)
    reported = metric_value(birth, topics.REPORTED_METRIC)
    assert reported["mode"] in ("production", "idle", "off")
    assert reported["settings"] == {"derate_pct": 0.0, "maintenance": False, "inspection": ""}
    # everything published was confirmed and received
    assert line.published == len(messages) and line.readings_published == readings > 0


def test_derate_is_delivered_then_applied_and_slows_wear(broker, platform):
    recorder, desired = platform
    line = new_line(broker).start()
    try:
        recorder.wait(lambda t, b: "/DDATA/gw-opcua/SMT-01" in t)
        desired("gw-opcua", "SMT-01", 1, derate_pct=50.0)
        ack = line.wait_for_ack("SMT-01", 1)
        assert ack is not None and ack.status == "applied"
        time.sleep(2.5)  # a few sim hours of production
    finally:
        line.stop()
    i_del, _, _ = recorder.wait(ack_of("SMT-01", 1, "delivered"))
    i_app, _, body = recorder.wait(ack_of("SMT-01", 1, "applied"))
    assert i_del < i_app
    assert metric_value(body, topics.REPORTED_METRIC)["settings"]["derate_pct"] == 50.0
    assert metric_value(body, topics.REPORTED_METRIC)["applied_version"] == 1
    m = line.machines["SMT-01"]
    end = m.next_t - m.interval_s
    assert end - ack.sim_s >= 3600

    def twin(apply: bool) -> LiveMachine:
        start = int(past_wednesday().timestamp())
        same = live_machines(None, 3, SEED, start, None)[0][0]
        same.advance_to(ack.sim_s)
        if apply:
            same.decide(line_doc(), 0, 0)  # draws as the line's machine did
            same.apply(line_doc())
        same.advance_to(end)
        return same

    plain, derated = twin(False), twin(True)
    # the physics of a seed does not depend on the wall clock: the line's machine is its replay
    assert derated.damage == pytest.approx(m.damage, rel=1e-12)
    assert plain.damage > m.damage


def line_doc():
    from dt_platform.live.desired import Desired

    return Desired(1, "cmd-SMT-01-1", 50.0, False, "", None)


def test_maintenance_on_then_off_renews_the_component(broker, platform):
    recorder, desired = platform
    line = new_line(broker).start()
    try:
        recorder.wait(lambda t, b: "/DDATA/gw-historian/CNC-01" in t)
        time.sleep(1.0)
        desired("gw-historian", "CNC-01", 1, maintenance=True)
        assert line.wait_for_ack("CNC-01", 1).status == "applied"
        with line.lock:
            m = line.machines["CNC-01"]
            worn, comp = m.damage, m.component_no
        time.sleep(0.5)
        with line.lock:
            assert m.damage == worn > 0  # no wear in maintenance
        desired("gw-historian", "CNC-01", 2, maintenance=False)
        assert line.wait_for_ack("CNC-01", 2).status == "applied"
        with line.lock:
            assert m.component_no == comp + 1 and m.damage < 0.01
    finally:
        line.stop()
    _, _, body = recorder.wait(ack_of("CNC-01", 1, "applied"))
    assert metric_value(body, topics.REPORTED_METRIC)["mode"] == "maintenance"
    _, _, body = recorder.wait(ack_of("CNC-01", 2, "applied"))
    assert metric_value(body, topics.REPORTED_METRIC)["settings"]["maintenance"] is False


def test_rejections_carry_their_reasons(broker, platform):
    recorder, desired = platform
    line = new_line(broker).start()
    try:
        recorder.wait(lambda t, b: "/DDATA/gw-mqtt/OVEN-01" in t)
        desired("gw-mqtt", "OVEN-01", 1, derate_pct=95.0)
        assert line.wait_for_ack("OVEN-01", 1).reason == "out_of_range"
        desired("gw-mqtt", "OVEN-01", 2, maintenance=True)
        assert line.wait_for_ack("OVEN-01", 2).status == "applied"
        desired("gw-mqtt", "OVEN-01", 3, maintenance=True, derate_pct=30.0)
        assert line.wait_for_ack("OVEN-01", 3).reason == "interlock"
        desired("gw-mqtt", "OVEN-01", 4, expires_at=time.time() - 60, derate_pct=10.0)
        assert line.wait_for_ack("OVEN-01", 4).reason == "expired"
        desired("gw-mqtt", "OVEN-01", 3, derate_pct=10.0)  # not newer: ignored
        time.sleep(0.5)
    finally:
        line.stop()
    for version, reason in ((1, "out_of_range"), (3, "interlock"), (4, "expired")):
        _, _, body = recorder.wait(ack_of("OVEN-01", version, "rejected"))
        ack = metric_value(body, topics.ACK_METRIC)
        assert ack["reason"] == reason and ack["detail"] and ack["command_id"]
    applied_3 = [a for a in line.acks if a.version == 3 and a.status != "delivered"]
    assert [a.status for a in applied_3] == ["rejected"]
    assert line.machines["OVEN-01"].applied_version == 2


def test_busy_machine_rejects(broker, platform):
    recorder, desired = platform
    line = new_line(broker, busy_prob=1.0).start()
    try:
        recorder.wait(lambda t, b: "/DDATA/gw-opcua/SMT-01" in t)
        desired("gw-opcua", "SMT-01", 1, derate_pct=20.0)
        assert line.wait_for_ack("SMT-01", 1).reason == "busy"
    finally:
        line.stop()


def test_offline_machine_takes_the_retained_desired_state_when_back(broker, platform):
    recorder, desired = platform
    line = new_line(broker).start()
    try:
        recorder.wait(lambda t, b: "/DDATA/gw-opcua/SMT-01" in t)
        line.take_offline("SMT-01", 2 * 3600)  # two sim hours: two wall seconds
        i_death, _, _ = recorder.wait(lambda t, b: t.endswith("/DDEATH/gw-opcua/SMT-01"))
        desired("gw-opcua", "SMT-01", 1, derate_pct=25.0)
        ack = line.wait_for_ack("SMT-01", 1, timeout=20)
        assert ack is not None and ack.status == "applied"
    finally:
        line.stop()
    i_birth, _, _ = recorder.wait(
        lambda t, b: (
            t.endswith("/DBIRTH/gw-opcua/SMT-01")
            and b["timestamp"] > 0
            and recorder.messages.index((t, b, False)) > i_death
        )
    )
    i_del, _, _ = recorder.wait(ack_of("SMT-01", 1, "delivered"))
    assert i_death < i_birth < i_del  # nothing while offline; the delta came on reconnect
    assert ack.sim_s * 1000 >= recorder.messages[i_birth][1]["timestamp"]


def test_abrupt_gateway_drop_publishes_the_last_will_and_recovers(broker, platform):
    recorder, _ = platform
    line = new_line(broker).start()
    try:
        recorder.wait(lambda t, b: "/DDATA/gw-mqtt/OVEN-01" in t)
        line.drop_gateway("gw-mqtt")
        i_will, _, _ = recorder.wait(lambda t, b: t.endswith("/NDEATH/gw-mqtt"))
        recorder.wait(
            lambda t, b: (
                t.endswith("/NBIRTH/gw-mqtt") and recorder.messages.index((t, b, False)) > i_will
            )
        )
        n = len(recorder.snapshot())
        recorder.wait(
            lambda t, b: (
                t.endswith("/DBIRTH/gw-mqtt/OVEN-01")
                and recorder.messages.index((t, b, False)) > i_will
            )
        )
        assert len(recorder.snapshot()) >= n
    finally:
        line.stop()


def test_each_connection_has_its_own_bdseq_in_its_will_and_its_nbirth(broker, platform):
    """Sparkplug B: the will of connection k and the NBIRTH sent on it carry the same bdSeq, and
    paho's own reconnection sets a new one (a will set once would be reused on every
    reconnection, and a stale NDEATH could not be told from a current one)."""
    recorder, _ = platform
    line = new_line(broker).start()

    def node(kind: str, after: int):
        return recorder.wait(
            lambda t, b: (
                t.endswith(f"/{kind}/gw-mqtt") and recorder.messages.index((t, b, False)) > after
            )
        )

    try:
        i_birth, _, first = node("NBIRTH", -1)
        recorder.wait(lambda t, b: "/DDATA/gw-mqtt/" in t)
        line.drop_gateway("gw-mqtt")
        i_will, _, will = node("NDEATH", i_birth)
        i_birth, _, second = node("NBIRTH", i_will)
        assert metric_value(will, "bdSeq") == metric_value(first, "bdSeq")
        assert metric_value(second, "bdSeq") != metric_value(will, "bdSeq")
        recorder.wait(
            lambda t, b: "/DDATA/gw-mqtt/" in t and recorder.messages.index((t, b, False)) > i_birth
        )
        line.drop_gateway("gw-mqtt")
        i_will, _, will = node("NDEATH", i_birth)
        assert metric_value(will, "bdSeq") == metric_value(second, "bdSeq")
        _, _, third = node("NBIRTH", i_will)
        assert metric_value(third, "bdSeq") != metric_value(second, "bdSeq")
    finally:
        line.stop()


def test_cli_runs_for_a_duration_and_says_goodbye(broker, platform, monkeypatch):
    recorder, _ = platform
    monkeypatch.setenv("DT_HOME", str(broker.home))
    monkeypatch.setenv("DT_MQTT_PORT", str(broker.mqtt_port))
    start = past_wednesday().strftime("%Y-%m-%dT%H:%M:%S")
    result = CliRunner().invoke(
        main,
        [
            "line",
            "run",
            "--machines",
            "3",
            "--speed",
            "600",
            "--seed",
            "3",
            "--start",
            start,
            "--duration",
            "1.5",
            "--every",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "online 3/3" in result.output and "stopped:" in result.output
    messages = recorder.snapshot()
    assert {t.split("/")[3] for t, _, _ in messages if "/NDEATH/" in t} == set(GW_NAMES)
    published = [t for t, _, _ in messages if "/DDATA/" in t]
    assert published and np.all([t.split("/")[3] in GW_NAMES for t in published])
