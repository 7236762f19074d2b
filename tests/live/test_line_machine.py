"""LiveMachine without MQTT: physics step by step, commands, failures, links, continuation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pytest

from dt_platform.live.desired import Desired, DesiredError, parse_desired
from dt_platform.live.link import MAX_OFFLINE_S, MIN_OFFLINE_S, LinkSchedule
from dt_platform.live.machine import MODES, LiveMachine
from dt_platform.live.takeover import live_machines
from dt_platform.sim.config import SimConfig
from dt_platform.sim.line import end_state, run_machine
from dt_platform.sim.registry import build_machines

# A Wednesday: plant 08:00 at 00:00 UTC, every week pattern produces.
START = int(datetime(2026, 3, 4, tzinfo=UTC).timestamp())
H = 3600


def machines(n: int = 4, seed: int = 7) -> list[LiveMachine]:
    return live_machines(None, n, seed, START, None)[0]


def doc(version: int, derate=0.0, maintenance=False, inspection="", expires_at=None) -> Desired:
    return Desired(version, f"cmd-{version}", derate, maintenance, inspection, expires_at)


def test_same_machines_as_the_batch_simulator():
    config = SimConfig(machines=6, seed=7, start=date(2026, 2, 2), days=30)
    live = live_machines(None, 6, 7, START, None)[0]
    for m, spec in zip(live, build_machines(config), strict=True):
        assert (m.machine_id, m.spec.type, m.spec.gateway) == (
            spec.machine_id,
            spec.type,
            spec.gateway,
        )
        assert m.spec.params == spec.params


def test_tick_splits_do_not_change_the_physics():
    """Same seed, same command at the same sim time: same states and readings, however the
    wall clock cut the time into ticks (up to the order of floating-point sums, ~1e-16)."""
    a, b = machines(1)[0], machines(1)[0]
    ra = [a.advance_to(START + 5 * H)]
    rb = [b.advance_to(t) for t in range(START, START + 5 * H + 1, 7 * 60 + 13)]
    rb.append(b.advance_to(START + 5 * H))
    for m in (a, b):
        m.apply(doc(1, derate=40.0))
    ra.append(a.advance_to(START + 9 * H))
    rb += [b.advance_to(t) for t in range(START + 5 * H, START + 9 * H + 1, 3 * 60)]
    rb.append(b.advance_to(START + 9 * H))
    va, vb = (np.concatenate([r.values for r in rs if len(r)]) for rs in (ra, rb))
    assert va.shape == vb.shape == (9 * 60 + 1, len(a.tags))
    np.testing.assert_allclose(va, vb, rtol=1e-12, atol=0)
    np.testing.assert_allclose(a.state, b.state, rtol=1e-12, atol=0)
    assert a.applied_version == b.applied_version == 1
    # a different seed is a different machine
    c = machines(1, seed=8)[0]
    c.advance_to(START + 5 * H)
    assert not np.array_equal(c.state, machines(1)[0].state)


@pytest.mark.parametrize("index", range(4))
def test_derate_lowers_the_damage_rate(index):
    plain, derated = machines()[index], machines()[index]
    for m in (plain, derated):
        m.advance_to(START + 2 * H)
    d0 = plain.damage
    assert d0 == derated.damage
    derated.apply(doc(1, derate=50.0))
    for m in (plain, derated):
        m.advance_to(START + 14 * H)
    assert plain.damage - d0 > 0
    assert derated.damage - d0 < 0.95 * (plain.damage - d0)


def test_maintenance_stops_wear_and_leaving_it_renews_the_component():
    m = machines()[2]  # the spindle
    m.advance_to(START + 6 * H)
    worn, comp = m.damage, m.component_no
    assert worn > 0
    m.apply(doc(1, maintenance=True))
    assert m.reported()["mode"] == "maintenance"
    r = m.advance_to(START + 10 * H)
    assert set(r.mode.tolist()) == {MODES.index("maintenance")}
    assert m.damage == worn  # no wear while stopped
    assert r.values[:, m.tags.index("speed")].max() == 0.0
    m.apply(doc(2, maintenance=False))
    assert m.component_no == comp + 1 and m.damage == 0.0
    m.advance_to(START + 12 * H)
    assert 0 < m.damage < worn
    assert m.reported()["applied_version"] == 2


def test_decisions_and_their_reasons():
    m = machines()[0]
    assert m.decide(doc(1, derate=95.0), 0, 0).reason == "out_of_range"
    assert m.decide(doc(1, derate="fast"), 0, 0).reason == "out_of_range"
    assert m.decide(doc(1, derate=10.0, expires_at=100.0), 200.0, 0).reason == "expired"
    assert m.decide(doc(1, derate=10.0, maintenance=True), 0, 0).reason == "interlock"
    assert m.decide(doc(1, derate=10.0), 0, 1.0).reason == "busy"
    assert m.decide(doc(1, derate=10.0), 0, 0).reason is None
    m.apply(doc(1, maintenance=True))
    verdict = m.decide(doc(2, derate=20.0, maintenance=True), 0, 0)
    assert verdict.reason == "interlock" and "maintenance" in verdict.detail
    assert m.decide(doc(2, derate=20.0, maintenance=False), 0, 0).reason is None


def test_inspection_reports_a_finding():
    m = machines()[2]
    m.advance_to(START + 3 * H)
    m.apply(doc(1, inspection="insp-1"))
    finding = m.reported()["inspection_finding"]
    assert finding.startswith("vibration") and "mm/s" in finding
    assert m.reported()["settings"] == {
        "derate_pct": 0.0,
        "maintenance": False,
        "inspection": "insp-1",
    }


def test_failures_follow_the_physics_then_repair_and_a_new_component():
    failed = []
    for m in machines(8):
        r = m.advance_to(START + 80 * 24 * H)
        if m.failures:
            failed.append(m)
            f = m.failures[0]
            at = np.searchsorted(r.t, f.t_s)
            assert r.damage[at - 1] == 1.0  # the failure step
            down = r.mode[(r.t >= f.t_s) & (r.t < f.repaired_s)]
            assert down.size and set(down.tolist()) == {MODES.index("down")}
            assert r.mode[np.searchsorted(r.t, f.repaired_s)] != MODES.index("down")
            assert m.component_no >= 1
    assert failed, "80 days hold failures for at least one of eight machines"


def test_readings_are_noisy_but_plausible():
    from dt_platform.catalog import MACHINE_TYPES

    for m in machines():
        r = m.advance_to(START + 4 * H)
        sensors = MACHINE_TYPES[m.spec.type].sensors
        for j, tag in enumerate(m.tags):
            s = next(s for s in sensors if s.tag == tag)
            col = r.values[:, j]
            col = col[np.isfinite(col)]
            assert np.all((col >= s.low) & (col <= s.high))
        assert np.unique(r.values[:, 0]).size > 10  # noise, not a constant


def test_offline_episodes_are_seeded_and_bounded():
    ts = np.arange(START, START + 200 * H, 60)
    a = LinkSchedule(7, 0, 0.5, START).online_at(ts)
    b = LinkSchedule(7, 0, 0.5, START)
    b_up = np.concatenate([b.online_at(ts[:1000]), b.online_at(ts[1000:])])
    np.testing.assert_array_equal(a, b_up)
    edges = np.flatnonzero(np.diff(a.astype(int)))
    assert edges.size >= 10
    down = ~a
    starts = np.flatnonzero(down[1:] & ~down[:-1]) + 1
    ends = np.flatnonzero(~down[1:] & down[:-1]) + 1
    durations = np.array(
        [(e - s) * 60 for s, e in zip(starts, ends[ends > starts[0]], strict=False)]
    )
    # episodes may follow each other closely and merge, but none is shorter than the minimum
    assert durations.min() >= MIN_OFFLINE_S - 60
    assert np.median(durations) <= MAX_OFFLINE_S
    assert LinkSchedule(7, 0, 0.0, START).online_at(ts).all()


def test_continues_from_the_end_of_a_batch_history(tmp_path):
    config = SimConfig(machines=4, seed=5, days=3, start=date(2026, 3, 1), interval_s=300)
    (tmp_path / "sim_config.json").write_text(json.dumps({"config": config.as_record()}))
    end = config.end_epoch_s()
    live, interval, note = live_machines(tmp_path, 4, 5, end, None)
    assert interval == 300 and note.startswith("continuing")
    for m, spec in zip(live, build_machines(config), strict=True):
        run = run_machine(spec, config)
        state = end_state(spec, config)
        np.testing.assert_array_equal(m.state, state.state)
        assert m.component_no == int(run.component_no[-1]) and m.next_t == end
        assert abs(m.damage - run.damage[-1]) < 0.05  # one more step of wear at most
    # another seed: new components instead
    _, _, note = live_machines(tmp_path, 4, 6, end, None)
    assert note.startswith("new components") and "seed 5" in note


def test_parse_desired_refuses_what_is_not_a_document():
    good = {"desired": {"derate_pct": 10}, "version": 3, "command_id": "c", "expires_at": 5}
    assert parse_desired(json.dumps(good).encode()).version == 3
    for bad in (b"not json", b"[]", json.dumps({**good, "version": "3"}).encode()):
        with pytest.raises(DesiredError):
            parse_desired(bad)
    with pytest.raises(DesiredError, match="exceeds"):
        parse_desired(b" " * 300_000)
