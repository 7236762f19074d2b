"""The live line's sensor faults: the batch simulator's kinds, each logged as ground truth and
seen in the readings, independent of how ticks cut time, absent at scale 0; and the implausible
spikes, through a real broker and the bridge, rejected by the loader."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest
from click.testing import CliRunner

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.cli import main
from dt_platform.live import topics
from dt_platform.live.bridge import Bridge
from dt_platform.live.fault_log import LIVE_FAULTS, FaultLog, read_live_faults
from dt_platform.live.line import LiveLine
from dt_platform.live.takeover import live_machines
from dt_platform.sim import SimConfig
from dt_platform.sim.faults import FaultRecord
from dt_platform.sim.gateways import GATEWAYS
from dt_platform.sim.registry import build_machines, write_registry
from tests.live.bridge_fixtures import Warehoused, eventually
from tests.live.broker_fixtures import platform_client, running_broker
from tests.live.test_line import G, past_wednesday

START = int(datetime(2026, 3, 4, tzinfo=UTC).timestamp())  # a Wednesday
H = 3600
DAY_END = START + 24 * H - 60
KINDS = {"stuck", "dropout", "comm_loss", "spike"}


def machines(fault_scale: float | None, n: int = 4, seed: int = 7):
    if fault_scale is None:  # the default: as before faults existed
        return live_machines(None, n, seed, START, None)[0]
    return live_machines(None, n, seed, START, None, fault_scale=fault_scale)[0]


def check_against_plain(m, r, plain, records: list[FaultRecord]) -> None:
    """Every difference from the fault-free readings of the same machine is a logged fault, and
    every logged fault is in the readings."""
    n = len(r)
    mtype = MACHINE_TYPES[m.spec.type]
    touched = np.zeros(r.values.shape, dtype=bool)
    missing = np.zeros(n, dtype=bool)
    held: dict[int, set[float]] = {}
    spikes = set()
    for f in records:
        assert f.machine_id == m.machine_id and f.kind in KINDS
        a, b = (f.start_s - START) // 60, min(n, (f.end_s - START) // 60)
        assert 0 <= a < b and (f.end_s - f.start_s) % 60 == 0
        if f.kind == "comm_loss":
            assert f.sensor is None
            assert r.missing[a:b].all()
            missing[a:b] = True
            continue
        j = m.tags.index(f.sensor)
        touched[a:b, j] = True
        if f.kind == "dropout":
            assert np.isnan(r.values[a:b, j]).all()
        elif f.kind == "spike":
            assert b == a + 1 and r.values[a, j] == f.value
            s = mtype.sensor_by_tag(f.sensor)
            assert f.implausible == (not s.low <= f.value <= s.high)
            spikes.add((a, j))
        else:
            held.setdefault(j, set()).add(f.value)
    np.testing.assert_array_equal(r.missing, missing)
    same = (r.values == plain.values) | (np.isnan(r.values) & np.isnan(plain.values))
    changed = ~same
    assert not (changed & ~touched).any(), "a reading changed without a logged fault"
    # inside a stuck window a reading is nothing, a stuck value, or a spike
    for j, values in held.items():
        for k in np.flatnonzero(touched[:, j] & np.isfinite(r.values[:, j])):
            v = r.values[k, j]
            assert v in values or (k, j) in spikes or v == plain.values[k, j]


def test_a_day_holds_every_fault_kind_each_logged_and_seen_in_the_readings():
    seen: Counter = Counter()
    implausible = set()
    for m, p in zip(machines(30.0), machines(None), strict=True):
        r, plain = m.advance_to(DAY_END), p.advance_to(DAY_END)
        assert len(r) == 24 * 60 and p.faults is None
        records = m.faults.take_records()
        check_against_plain(m, r, plain, records)
        seen.update(f.kind for f in records)
        implausible |= {f.implausible for f in records if f.kind == "spike"}
        stuck = [f for f in records if f.kind == "stuck"]
        # a stuck value repeats: most readings in its window are exactly that value
        repeats = sum(
            int((r.values[(f.start_s - START) // 60 : (f.end_s - START) // 60, j] == f.value).sum())
            for f in stuck
            for j in [m.tags.index(f.sensor)]
        )
        assert repeats > 10 * len(stuck)
        assert m.faults.take_records() == []  # taken once
    assert set(seen) == KINDS and implausible == {True, False}, seen
    assert seen["comm_loss"] >= 4 and seen["stuck"] >= 20


def test_ticks_do_not_change_the_faults():
    """Faults, like noise, are keyed by grid position: the same seed gives the same faults at
    the same sim times however the wall clock cuts time into ticks."""
    a, b = machines(30.0, n=1)[0], machines(30.0, n=1)[0]
    ra = a.advance_to(DAY_END)
    rb = [b.advance_to(t) for t in range(START, DAY_END + 1, 7 * 60 + 13)]
    rb.append(b.advance_to(DAY_END))
    values = np.concatenate([r.values for r in rb if len(r)])
    np.testing.assert_allclose(ra.values, values, rtol=1e-12, atol=0)  # NaN == NaN
    np.testing.assert_array_equal(ra.missing, np.concatenate([r.missing for r in rb if len(r)]))

    def key(f: FaultRecord):
        return (f.start_s, f.kind, f.sensor or "", f.end_s, f.implausible)

    fa, fb = (sorted(m.faults.take_records(), key=key) for m in (a, b))
    assert [key(f) for f in fa] == [key(f) for f in fb] and len(fa) > 50
    for x, y in zip(fa, fb, strict=True):
        assert x.value == y.value or x.value == pytest.approx(y.value, rel=1e-12)


def test_fault_scale_zero_sends_exactly_the_noise_only_readings():
    digest = hashlib.sha256()
    for p, z in zip(machines(None), machines(0.0), strict=True):
        rp, rz = p.advance_to(START + 6 * H), z.advance_to(START + 6 * H)
        assert z.faults is None
        np.testing.assert_array_equal(rp.values, rz.values)
        assert not rz.missing.any()
        digest.update(np.round(rz.values, 9).tobytes())
    # the readings of the live line before it had sensor faults (commit c42b10b)
    assert digest.hexdigest() == "aaed8bedb23079c14dd729ed770208113b46db8109601ed9f86539a1a9250f10"


def test_the_fault_log_appends_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "truth" / LIVE_FAULTS
    log = FaultLog(path)
    first = [
        FaultRecord("CNC-01", "vibration_rms", "spike", START, START + 60, 99.5, True),
        FaultRecord("CNC-01", None, "comm_loss", START, START + 600, None, None),
    ]
    log.append(first)
    with open(path, "ab") as f:
        f.write(b'{"machine_id": "CNC-01", "sen')  # a crash mid-write
    second = [FaultRecord("SMT-01", "vacuum_kpa", "stuck", START + 60, START + 3600, -61.25, None)]
    log.append(second)
    log.append([])
    assert read_live_faults(path) == (first + second, 1) and log.written == 3
    assert (
        path.read_text()
        .splitlines()[0]
        .startswith(
            '{"machine_id": "CNC-01", "sensor": "vibration_rms", "kind": "spike", '
            '"start": "2026-03-04T00:00:00Z", "end": "2026-03-04T00:01:00Z"'
        )
    )


def test_a_line_restarted_over_the_same_times_logs_each_fault_once(tmp_path):
    path = tmp_path / "truth" / LIVE_FAULTS

    def run() -> FaultLog:
        log = FaultLog(path)
        for m in machines(5.0):
            for t in (START + 2 * H, START + 6 * H):  # two ticks
                m.advance_to(t)
                log.append(m.faults.take_records())
        return log

    first = run()
    text = path.read_bytes()
    assert first.taken == first.written > 0
    again = run()  # a restart with the same seed and start
    assert path.read_bytes() == text
    assert again.taken == first.taken and again.written == 0
    # a log written before the rule, with every record twice, reads once
    path.write_bytes(text + text)
    records, torn = read_live_faults(path)
    assert torn == 0 and len(records) == first.written == len(text.splitlines())


def test_the_cli_takes_a_fault_scale():
    runner = CliRunner()
    result = runner.invoke(main, ["line", "run", "--help"])
    assert result.exit_code == 0 and "--fault-scale" in result.output
    result = runner.invoke(main, ["line", "run", "--fault-scale", "-1"])
    assert result.exit_code == 2 and "fault-scale" in result.output


def test_implausible_spikes_reach_the_bridge_and_the_loader_rejects_them(tmp_path):
    start = past_wednesday()
    n, seed = 3, 5
    specs = build_machines(SimConfig(machines=n, seed=seed, days=1, start=start.date()))
    home = tmp_path / "home"
    home.mkdir()
    write_registry(specs, home / "machines.yaml")
    truth = home / "ground_truth"

    def implausible() -> list[FaultRecord]:
        if not (truth / LIVE_FAULTS).exists():
            return []
        return [f for f in read_live_faults(truth / LIVE_FAULTS)[0] if f.implausible]

    with running_broker(home, [g.name for g in GATEWAYS]) as settings:
        bridge = Bridge(settings, flush_s=0.1, batch_s=60.0)
        bridge.start()
        line = LiveLine(
            settings,
            machines=n,
            seed=seed,
            speed=3600.0,
            start=start,
            busy_prob=0.0,
            tick_s=0.05,
            fault_scale=60.0,
            truth_dir=truth,
        )
        try:
            line.start()
            eventually(lambda: len(implausible()) >= 3, timeout=60)
        finally:
            line.stop()
        try:
            eventually(lambda: bridge.stats.messages_stored >= line.published)
            assert bridge.rotate() is not None
        finally:
            bridge.stop()
    records, torn = read_live_faults(truth / LIVE_FAULTS)
    assert torn == 0 and {f.kind for f in records} == KINDS
    assert line.stats().sensor_faults == len(records)
    wh = Warehoused(settings)
    summary = wh.ingest()
    assert summary.rows_in == line.readings_published > 0
    wh.assert_balanced()
    spikes = [f for f in records if f.implausible]
    assert wh.reasons() == {"out_of_range": len(spikes)}
    rejected = wh.query("SELECT machine_id, sensor, detail FROM telemetry_rejects")
    assert Counter((m, s) for m, s, _ in rejected) == Counter(
        (f.machine_id, f.sensor) for f in spikes
    )
    assert all(" outside [" in d for _, _, d in rejected), rejected


def test_a_machine_in_a_comm_loss_hears_no_command_until_the_link_is_back(tmp_path):
    """The link between a machine and its gateway is down both ways: a desired state sent during
    a comm loss waits (as for an offline machine) and is acknowledged only after the loss ends."""
    n, seed, scale = 4, 7, 30.0
    truth = tmp_path / "truth"
    probe = live_machines(truth, n, seed, START, None, fault_scale=scale)[0]
    losses = []
    for m in probe:
        m.advance_to(DAY_END)
        losses += [f for f in m.faults.take_records() if f.kind == "comm_loss"]
    # a loss in production hours, long enough to send a command into
    loss = min(
        (f for f in losses if f.start_s >= START + 9 * H and f.end_s - f.start_s >= 600),
        key=lambda f: f.start_s,
    )
    mid = loss.machine_id
    gateway = next(m.spec.gateway for m in probe if m.machine_id == mid)
    topic = topics.device_topic(G, "DCMD", gateway, mid)

    speed, wall0 = 3600.0, time.time()
    at = {"sim": float(START)}
    wall = lambda: wall0 + (at["sim"] - START) / speed  # noqa: E731
    with running_broker(tmp_path / "home", [g.name for g in GATEWAYS]) as settings:
        client = platform_client(settings, f"platform-{time.monotonic_ns()}")
        line = LiveLine(
            settings,
            machines=n,
            seed=seed,
            speed=speed,
            start=datetime.fromtimestamp(START, UTC),
            busy_prob=0.0,
            tick_s=0.02,
            fault_scale=scale,
            truth_dir=truth,
            wall=wall,
        )
        try:
            line.start()
            at["sim"] = loss.start_s + 120  # two sim minutes into the loss
            eventually(lambda: line.silent[mid] and line.online[mid])
            payload = topics.encode(
                int(wall() * 1000),
                0,
                [],
                desired={"derate_pct": 20.0, "maintenance": False, "inspection": ""},
                version=1,
                command_id="cmd-during-loss",
            )
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
            eventually(lambda: mid in line.obeying.pending)  # arrived, and held
            line.tick()  # one more pass with the command in hand
            assert [a for a in line.acks if a.machine_id == mid] == []
            at["sim"] = loss.end_s + 60
            ack = line.wait_for_ack(mid, 1, "applied", timeout=20)
        finally:
            line.stop()
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
            client.loop_stop()
            client.disconnect()
    assert ack is not None and ack.sim_s >= loss.end_s
    first = next(a for a in line.acks if a.machine_id == mid)
    assert (first.status, first.sim_s >= loss.end_s) == ("delivered", True)
