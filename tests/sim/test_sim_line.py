"""The run loop, determinism, ground truth and its separation from the dumps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.sim import Command, SimConfig, simulate_line
from dt_platform.sim.config import rng_for
from dt_platform.sim.line import DOWN, HOLD, MAINTENANCE, run_machine
from dt_platform.sim.registry import build_machines
from dt_platform.sim.schedule import PRODUCTION
from dt_platform.sim.sensors import apply_sensor_model

TINY = SimConfig(machines=4, days=2, seed=11, start=date(2026, 3, 2), interval_s=600)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path):
    config = replace(TINY, outage_prob=1.0, redelivery_prob=1.0, bad_rate=2e-3, dup_rate=2e-3)
    a = simulate_line(config, tmp_path / "a" / "landing")
    b = simulate_line(config, tmp_path / "b" / "landing")
    tree_a, tree_b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert tree_a.keys() == tree_b.keys()
    assert {k for k in tree_a if tree_a[k] != tree_b[k]} == set()
    suffixes = {Path(k).suffix for k in tree_a}
    assert suffixes >= {".csv", ".jsonl", ".parquet", ".yaml", ".json"}
    assert a.as_record() == b.as_record()
    c = simulate_line(replace(config, seed=12), tmp_path / "c" / "landing")
    assert _tree(tmp_path / "c")["machines.yaml"] != tree_a["machines.yaml"]
    assert c.readings != a.readings or _tree(tmp_path / "c") != tree_a


def test_truth_stays_out_of_the_dump_folder(small_run):
    out_files = [p for p in small_run.out.rglob("*") if p.is_file()]
    truth_names = {p.name for p in small_run.truth.iterdir()}
    assert truth_names >= {
        "damage.parquet",
        "failures.parquet",
        "components.parquet",
        "parameters.parquet",
        "faults.parquet",
        "injected.parquet",
        "files.parquet",
        "sim_config.json",
    }
    assert not {p.name for p in out_files} & truth_names
    assert not small_run.truth.resolve().is_relative_to(small_run.out.resolve())
    truth_words = ("damage", "rul", "ground_truth", "injected", "implausible")
    for path in out_files:
        if path.suffix == ".parquet":
            names = pq.read_schema(path).names
            assert not any(w in n for n in names for w in truth_words)
        else:
            head = path.read_text(encoding="utf-8").split("\n", 1)[0].lower()
            assert not any(w in head for w in truth_words)


def test_truth_inside_out_is_refused(tmp_path):
    with pytest.raises(ValueError, match="inside the dump folder"):
        simulate_line(TINY, tmp_path / "landing", truth_dir=tmp_path / "landing" / "truth")


def test_damage_truth_is_consistent(small_run):
    damage = pq.read_table(small_run.truth / "damage.parquet").to_pandas()
    config = small_run.config
    assert len(damage) == config.machines * config.days * 24
    assert damage["damage"].between(0.0, 1.0).all()
    for (_, _), g in damage.groupby(["machine_id", "component_no"]):
        g = g.sort_values("ts")
        assert (np.diff(g["damage"]) >= 0).all()
        rul = g["rul_h"].dropna().to_numpy()
        running = g.loc[g["rul_h"].notna() & (g["state"] != "down"), "rul_h"].to_numpy()
        assert np.allclose(np.diff(running), -1.0)
        assert (rul >= 0).all()
    down = damage[damage["state"] == "down"]
    assert (down["rul_h"] == 0).all() and (down["damage"] == 1.0).all()


def test_failures_repairs_and_work_orders():
    config = SimConfig(machines=8, days=40, seed=4, start=date(2026, 1, 5), interval_s=900)
    failures = 0
    for spec in build_machines(config):
        run = run_machine(spec, config)
        for f in run.failures:
            if f.failed_s < config.start_epoch_s():
                continue
            failures += 1
            k = np.searchsorted(run.t, f.failed_s)
            end = np.searchsorted(run.t, f.repair_end_s)
            assert f.repair_start_s > f.failed_s and f.repair_end_s > f.repair_start_s
            assert (run.mode[k : min(end, run.t.size)] == DOWN).all()
            if end < run.t.size:  # replaced: as new, next component
                assert run.damage[end] < 0.05
                assert run.component_no[end] == run.component_no[k - 1] + 1
            wo = [
                w
                for w in run.work_orders
                if w.kind == "corrective" and w.started_s == f.repair_start_s
            ]
            assert len(wo) == 1 and wo[0].notes.startswith("failure: ")
        stops = [w for w in run.work_orders if w.kind in ("preventive", "inspection")]
        assert stops, "every machine gets planned maintenance in 40 days"
        assert (run.mode == MAINTENANCE).any()
    assert failures >= 3


def test_derate_slows_wear_and_hold_stops_it():
    config = SimConfig(machines=4, days=6, seed=2, start=date(2026, 1, 5), interval_s=600)
    at = datetime(2026, 1, 5, tzinfo=UTC)
    for spec in build_machines(config):
        base = run_machine(spec, config)
        derated = run_machine(spec, config, [Command(spec.machine_id, at, "derate", 0.6)])
        held = run_machine(
            spec,
            config,
            [
                Command(spec.machine_id, at + timedelta(days=1), "hold"),
                Command(spec.machine_id, at + timedelta(days=3), "resume"),
            ],
        )
        if base.failures and base.failures[-1].failed_s >= config.start_epoch_s():
            continue  # compare wear of one component only
        gained = base.damage[-1] - base.damage[0]
        assert derated.damage[-1] - derated.damage[0] < 0.9 * gained
        window = (held.t >= config.start_epoch_s() + 86400 + 600) & (
            held.t < config.start_epoch_s() + 3 * 86400
        )
        assert (held.mode[window] != PRODUCTION).all() and (held.mode[window] == HOLD).any()
        assert np.ptp(held.damage[window]) < 0.002


def test_sensor_faults_are_real_and_logged():
    config = SimConfig(machines=3, days=3, seed=9, start=date(2026, 1, 5), interval_s=300)
    spec = build_machines(config)[2]  # a spindle
    run = run_machine(spec, config)
    obs = apply_sensor_model(run, config.interval_s, 30.0, rng_for(9, 6, 2))
    tags = [s.tag for s in spec.model.sensors]
    kinds = {f.kind for f in obs.faults}
    assert kinds == {"stuck", "dropout", "comm_loss", "spike"}
    for f in obs.faults:
        rows = (run.t >= f.start_s) & (run.t < f.end_s)
        if f.kind == "comm_loss":
            assert obs.line_missing[rows].all()
            continue
        col = obs.values[rows, tags.index(f.sensor)]
        if f.kind == "dropout":
            assert np.isnan(col).all()
        elif f.kind == "spike":
            assert col[0] == f.value
            sensor = MACHINE_TYPES[spec.type].sensor_by_tag(f.sensor)
            assert f.implausible == (not sensor.low <= f.value <= sensor.high)
    stuck = [f for f in obs.faults if f.kind == "stuck"]
    held = 0
    for f in stuck:
        rows = (run.t >= f.start_s) & (run.t < f.end_s)
        col = obs.values[rows, tags.index(f.sensor)]
        col = col[np.isfinite(col)]
        held += int((col == f.value).sum())
    assert held > 0
    # noise: a sensor never reads exactly its true value for long
    vib = tags.index("vibration_rms")
    busy = run.mode == PRODUCTION
    assert np.nanstd(obs.values[busy, vib] - run.true_values[busy, vib]) > 0.03


@pytest.mark.slow
def test_default_settings_give_run_to_failure_history(tmp_path):
    config = SimConfig(machines=12, days=60, seed=7, start=date(2026, 1, 5), interval_s=600)
    result = simulate_line(config, tmp_path / "landing")
    components = pq.read_table(result.truth_dir / "failures.parquet").to_pandas()
    in_window = components[components["in_window"]]
    per_machine = (
        in_window.groupby("machine_id").size().reindex([m for m in _ids(result)], fill_value=0)
    )
    assert (per_machine >= 1).mean() >= 0.6, per_machine.to_dict()  # most machines fail
    assert (per_machine == 0).any() or (per_machine <= 1).mean() > 0.3  # some survive long
    assert per_machine.median() <= 2


def _ids(result):
    import yaml

    return [m["machine_id"] for m in yaml.safe_load(result.registry_path.read_text())["machines"]]
