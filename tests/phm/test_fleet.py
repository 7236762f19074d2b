"""The fleet's hybrid RUL model: hourly signals, base rows, targets, features, folds, registry,
retrain policy — and, on two simulated fleets, that the fused RUL beats each branch alone.

Unit tests build their inputs by hand so every expected number can be worked out. The slow
tests simulate a training fleet and a separate evaluation fleet (another seed), run them through
the ingestion functions and score against the evaluation fleet's ground truth.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from dt_platform.phm import fleet
from dt_platform.phm.damage import TRAJECTORY_SCHEMA, damage_trajectory
from dt_platform.phm.episodes import load_history
from dt_platform.phm.scoring import coverage, rmse
from dt_platform.warehouse import ensure_schema

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def signals(machine: str, mtype: str, hours: list[int], **values: float) -> pl.DataFrame:
    """Hourly signal rows (ts = end of hour) with constant sensor values."""
    frame = pl.DataFrame(
        {
            "machine_id": machine,
            "machine_type": mtype,
            "ts": [h(k) for k in hours],
            "n_readings": 12,
            "op_fraction": 1.0,
        },
        schema_overrides={"ts": UTC},
    )
    cols = [pl.lit(values.get(c), dtype=pl.Float64).alias(c) for c in fleet.SIGNAL_COLUMNS]
    return frame.with_columns(cols)


def no_physics() -> pl.DataFrame:
    return pl.DataFrame(schema=TRAJECTORY_SCHEMA)


def lives(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=fleet.LIVES_SCHEMA, orient="row")


# --- hourly signals -----------------------------------------------------------------------------


def test_hourly_signals_average_operating_ok_readings_only() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    readings = [
        # (minute, sensor, value, quality)
        (5, "speed_rpm", 0.0, "ok"),  # idle: its vibration must not count
        (5, "vibration_rms_mm_s", 0.1, "ok"),
        (10, "speed_rpm", 12000.0, "ok"),
        (10, "vibration_rms_mm_s", 1.2, "ok"),
        (20, "speed_rpm", 12000.0, "ok"),
        (20, "vibration_rms_mm_s", 1.4, "ok"),
        (30, "speed_rpm", 12000.0, "ok"),
        (30, "vibration_rms_mm_s", 9.0, "spike"),  # flagged: not read
        (70, "speed_rpm", 11000.0, "ok"),
        (70, "vibration_rms_mm_s", 1.5, "ok"),
    ]
    for minute, sensor, value, quality in readings:
        ts = T0 + dt.timedelta(minutes=minute)
        con.execute(
            "INSERT INTO telemetry VALUES (?, 'CNC-01', 'cnc_spindle', ?, ?, ?, ?)",
            [ts.date(), sensor, ts, value, quality],
        )
    out = fleet.hourly_signals(con, h(2))
    assert out["ts"].to_list() == [h(1), h(2)]
    first = out.row(0, named=True)
    assert first["n_readings"] == 4 and first["op_fraction"] == pytest.approx(3 / 4)
    assert first["vibration_rms_mm_s"] == pytest.approx(1.3)
    assert first["speed_rpm"] == pytest.approx(12000.0)
    assert first["vce_on_v"] is None  # not a sensor of this type
    assert out.row(1, named=True)["vibration_rms_mm_s"] == pytest.approx(1.5)
    # the window is [since, until)
    assert fleet.hourly_signals(con, h(2), since=h(1))["ts"].to_list() == [h(2)]
    assert fleet.hourly_signals(con, h(1))["ts"].to_list() == [h(1)]


# --- base rows and targets ----------------------------------------------------------------------


def test_base_rows_fill_every_hour_and_take_install_times_from_physics_then_lives() -> None:
    sig = signals("SMT-01", "smt_placer", [3, 7], placement_offset_um=20.0)
    physics = pl.DataFrame(
        {
            "machine_id": ["SMT-01"],
            "machine_type": ["smt_placer"],
            "ts": [h(5)],
            "component_installed_at": [h(-100)],
            "damage": [0.5],
            "stage": ["miner"],
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )
    lv = lives([("SMT-01", "smt_placer", h(-10), None, "censored", "work_order")])
    base = fleet.assemble_base(sig, physics, end=h(8), lives=lv)
    assert base["ts"].to_list() == [h(k) for k in range(3, 9)]
    assert base["n_readings"].to_list() == [12, 0, 0, 0, 12, 0]
    installed = dict(zip(base["ts"], base["component_installed_at"], strict=True))
    assert installed[h(5)] == h(-100)  # physics wins where it has a row
    assert installed[h(3)] == h(-10)
    assert base.filter(pl.col("ts") == h(5))["damage"].item() == 0.5

    day = fleet.assemble_base(sig, physics, end=h(8), start=h(4))
    assert day["ts"].to_list() == [h(k) for k in range(5, 9)]  # the whole (start, end]


def test_targets_are_hours_to_the_logged_failure_and_censored_rows_beyond_the_cap() -> None:
    cap, until = 336.0, h(12 + 400)
    lv = lives(
        [
            ("SRV-1", "servo_drive", h(-50), h(10), "failure", "work_order"),
            ("SRV-1", "servo_drive", h(12), None, "censored", "work_order"),
        ]
    )
    sig = signals("SRV-1", "servo_drive", list(range(1, 413)), vce_on_v=1.6)
    base = fleet.assemble_base(sig, no_physics(), end=until, lives=lv)
    labelled = fleet.label_rows(base, lv, cap_h=cap, until=until)
    rul = dict(zip(labelled["ts"], labelled["rul_h"], strict=True))
    assert rul[h(1)] == pytest.approx(9.0) and rul[h(10)] == pytest.approx(0.0)
    # down between the failure and the end of the repair (row 12:00 is the hour before it)
    assert rul[h(11)] is None and rul[h(12)] is None
    # censored life: known exactly (as capped) only while 400 h - age >= cap
    assert rul[h(13)] == pytest.approx(399.0)
    assert rul[h(76)] == pytest.approx(336.0)
    assert rul[h(77)] is None
    failed = dict(zip(labelled["ts"], labelled["failed_life"], strict=True))
    assert failed[h(5)] and not failed[h(50)]


def test_health_indicator_is_the_fraction_of_the_way_to_the_limit() -> None:
    smt = pl.DataFrame(
        {
            "life_id": ["a", "a"],
            "placement_offset_um": [30.0, 54.0],
            "vacuum_kpa": [50.0, 75.0],
        }
    )
    hi = fleet.health_indicator(smt, fleet.TYPE_SIGNALS["smt_placer"], baseline_h=2)
    # max(30/60, 45/50) and max(54/60, 45/75)
    assert hi.to_list() == pytest.approx([0.9, 0.9])
    servo = pl.DataFrame({"life_id": ["a"] * 4 + ["b"], "vce_on_v": [1.6, 1.6, 1.64, 1.68, 2.0]})
    hi = fleet.health_indicator(servo, fleet.TYPE_SIGNALS["servo_drive"], baseline_h=2)
    # baseline 1.6 V after two hours; a 2.5 % rise is half of the 5 % criterion
    assert hi.to_list() == pytest.approx([0.0, 0.0, 0.5, 1.0, 0.0])


def test_machine_folds_are_stratified_by_type_and_deterministic() -> None:
    types = {f"{t[:3].upper()}-{i}": t for t in fleet.TYPE_SIGNALS for i in range(3)}
    folds = fleet.machine_folds(types, 3, seed=4)
    assert folds == fleet.machine_folds(types, 3, seed=4)
    assert sorted(m for f in folds for m in f) == sorted(types)
    for f in folds:
        assert sorted(types[m] for m in f) == sorted(fleet.TYPE_SIGNALS)  # one of each type
    with pytest.raises(ValueError, match="at least 2"):
        fleet.machine_folds(types, 1)


def test_combine_branches_says_what_the_fused_value_rests_on() -> None:
    frame = pl.DataFrame(
        {
            "machine_id": ["A", "B", "C", "D"],
            "machine_type": ["smt_placer"] * 4,
            "ts": [h(1)] * 4,
            "component_installed_at": [h(0)] * 4,
            "stage": ["miner", "miner", "failed", None],
            "rul_physics_h": [100.0, None, 50.0, None],
            "rul_physics_lo_h": [50.0, None, 10.0, None],
            "rul_physics_hi_h": [200.0, None, 90.0, None],
            "rul_ml_h": [None, 80.0, 40.0, None],
            "rul_ml_lo_h": [None, 60.0, 20.0, None],
            "rul_ml_hi_h": [None, 120.0, 70.0, None],
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )
    out = fleet.combine_branches(frame, None, 504.0)
    rows = {r["machine_id"]: r for r in out.iter_rows(named=True)}
    assert rows["A"]["basis"] == "physics_only" and rows["A"]["rul_fused_hi_h"] == 200.0
    assert rows["A"]["w_physics"] == 1.0
    assert rows["B"]["basis"] == "ml_only" and rows["B"]["rul_fused_lo_h"] == 60.0
    assert rows["C"]["basis"] == "failed"
    assert rows["C"]["rul_fused_h"] == rows["C"]["rul_physics_h"] == rows["C"]["rul_ml_h"] == 0.0
    assert rows["D"]["basis"] == "none" and rows["D"]["rul_fused_h"] is None


def test_sensor_trends_name_the_sensor_closest_to_its_limit_with_its_slope() -> None:
    hours = list(range(1, 31))
    base = signals("SMT-01", "smt_placer", hours, vacuum_kpa=70.0, placement_force_n=3.0)
    base = base.with_columns(
        (pl.lit(30.0) + pl.int_range(pl.len()).cast(pl.Float64)).alias("placement_offset_um"),
        pl.lit(h(0)).cast(UTC).alias("component_installed_at"),
    )
    out = fleet.sensor_trends(base, window_h=24).row(0, named=True)
    # offset 36..59 over the last 24 h: mean 47.5 of 60 µm (0.79) beats vacuum 45/70 (0.64)
    assert out["trend_sensor"] == "placement_offset_um"
    assert out["trend_value"] == pytest.approx(47.5)
    assert out["trend_slope_per_h"] == pytest.approx(1.0)
    assert out["trend_limit_fraction"] == pytest.approx(47.5 / 60.0)


# --- registry and retrain policy ----------------------------------------------------------------


def test_registry_keeps_versions_and_returns_the_latest_of_a_kind() -> None:
    con = duckdb.connect()
    assert fleet.latest_model(con, "rul") is None  # no registry table yet
    for i, kind in enumerate(["physics", "rul", "rul"]):
        fleet.register_model(
            con,
            fleet.RegistryEntry(
                kind=kind,
                version=f"v{i}",
                trained_at=h(i),
                trained_until=h(i - 1),
                path=f"rul-v{i}.dtrul",
                physics_version="v0",
                failures_known=i,
                metrics={"rmse": float(i), "nested": {"ok": True}},
            ),
        )
    latest = fleet.latest_model(con, "rul")
    assert latest is not None and latest.version == "v2" and latest.trained_until == h(1)
    assert latest.metrics == {"rmse": 2.0, "nested": {"ok": True}}
    assert fleet.latest_model(con, "physics").version == "v0"
    # as of a time, only models trained on data up to it: what the platform had then
    assert fleet.latest_model(con, "rul", as_of=h(1)).version == "v2"
    assert fleet.latest_model(con, "rul", as_of=h(0) + dt.timedelta(minutes=59)).version == "v1"
    assert fleet.latest_model(con, "rul", as_of=h(-1)) is None
    # an identical retrain refreshes its row instead of duplicating it
    fleet.register_model(con, fleet.RegistryEntry("rul", "v1", h(10), h(9)))
    assert fleet.latest_model(con, "rul").version == "v1"
    assert con.execute("SELECT count(*) FROM model_registry").fetchone()[0] == 3


def test_retrain_policy() -> None:
    policy = fleet.RetrainPolicy(min_interval_h=168, max_age_h=336)
    entry = fleet.RegistryEntry("physics", "v", h(0), h(0), failures_known=3)
    reason = fleet.retrain_reason
    assert reason(None, until=h(1), failures=0, policy=policy) == "no model registered yet"
    assert reason(entry, until=h(24), failures=3, policy=policy) is None
    assert reason(entry, until=h(24), failures=4, policy=policy) is None  # too soon
    assert "1 new failure" in reason(entry, until=h(200), failures=4, policy=policy)
    assert "behind the data" in reason(entry, until=h(400), failures=3, policy=policy)
    assert "rebuilt" in reason(entry, until=h(-5), failures=3, policy=policy)
    assert (
        reason(entry, until=h(1), failures=3, policy=policy, force=True) == "forced by run config"
    )


def test_config_round_trips() -> None:
    config = fleet.FleetConfig(cap_h=200.0, windows_h=(4, 8))
    assert fleet.FleetConfig.from_dict(config.describe()) == config


# --- two simulated fleets -----------------------------------------------------------------------

START = dt.date(2026, 1, 5)
TRAIN = {"machines": 16, "days": 40, "seed": 31}
EVAL = {"machines": 12, "days": 30, "seed": 41}


def simulate_and_ingest(home: Path, machines: int, days: int, seed: int) -> dt.datetime:
    """Simulate a line and load it with the platform's ingestion functions; returns the end."""
    from dt_platform.ingest.loader import ingest_landing
    from dt_platform.ingest.maintenance import load_maintenance_log
    from dt_platform.ingest.registry import load_registry, sync_registry
    from dt_platform.ingest.telemetry import build_telemetry_day
    from dt_platform.sim import SimConfig, simulate_line
    from dt_platform.warehouse import Warehouse

    simulate_line(
        SimConfig(
            machines=machines,
            days=days,
            seed=seed,
            start=START,
            interval_s=900,
            outage_prob=0.0,
            redelivery_prob=0.0,
        ),
        home / "landing",
        truth_dir=home / "ground_truth",
        registry_path=home / "machines.yaml",
    )
    with Warehouse(home / "warehouse.duckdb").write() as con:
        sync_registry(con, load_registry(home / "machines.yaml"))
        ingest_landing(con, home / "landing")
        load_maintenance_log(con, home / "landing")
        for i in range(days):
            build_telemetry_day(con, START + dt.timedelta(days=i))
    return dt.datetime.combine(START + dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def fleets(tmp_path_factory: pytest.TempPathFactory):
    from dt_platform.warehouse import Warehouse

    train_home = tmp_path_factory.mktemp("train_fleet")
    eval_home = tmp_path_factory.mktemp("eval_fleet")
    until = simulate_and_ingest(train_home, **TRAIN)
    until_eval = simulate_and_ingest(eval_home, **EVAL)
    with Warehouse(train_home / "warehouse.duckdb").read() as con:
        history = load_history(con, until)
        sig = fleet.hourly_signals(con, until)
    physics = fleet.fit_fleet_robust(history)
    model = fleet.train_fleet_model(history, sig, physics)
    with Warehouse(eval_home / "warehouse.duckdb").read() as con:
        eval_history = load_history(con, until_eval)
        eval_signals = fleet.hourly_signals(con, until_eval)
    trajectory = damage_trajectory(eval_history, physics, n_draws=100)
    base = fleet.assemble_base(
        eval_signals, trajectory, end=until_eval, lives=fleet.lives_table(eval_history)
    )
    return {
        "model": model,
        "train_inputs": (history, sig, physics),
        "physics": physics,
        "base": base,
        "predictions": model.predict(base),
        "eval_home": eval_home,
        "eval_history": eval_history,
        "until_eval": until_eval,
    }


@pytest.mark.slow
def test_fused_rul_beats_each_branch_on_a_held_out_fleet(fleets) -> None:
    model = fleets["model"]
    truth = (
        pl.read_parquet(fleets["eval_home"] / "ground_truth" / "damage.parquet")
        .filter(pl.col("state") != "down")
        .select("machine_id", "ts", pl.col("rul_h").alias("true_rul_h"))
    )
    scored = (
        fleets["predictions"]
        .join(truth, on=["machine_id", "ts"], how="inner")
        .filter(
            pl.col("true_rul_h").is_not_null()
            & (pl.col("true_rul_h") <= model.config.horizon_h)
            & pl.col("rul_physics_h").is_not_null()
            & pl.col("rul_ml_h").is_not_null()
        )
    )
    assert scored.height > 1000 and scored["machine_id"].n_unique() >= 8
    y = scored["true_rul_h"]
    fused, ml, phys = (rmse(scored[c], y) for c in ("rul_fused_h", "rul_ml_h", "rul_physics_h"))
    assert fused < ml and fused < phys, f"fused {fused:.1f} h, ML {ml:.1f} h, physics {phys:.1f} h"
    assert coverage(scored["rul_fused_lo_h"], scored["rul_fused_hi_h"], y) > 0.75
    # every row is fused, or its type's fallback branch decided on held-out training machines
    fallback = {t: f"{b}_fallback" for t, b in model.fallback.items()}
    expected = scored["machine_type"].replace_strict(fallback, default="fused")
    assert (scored["basis"] == expected).all()
    # training reports machine-grouped CV figures; its interval is calibrated on held-out machines
    cv = model.cv["fusion"]["*"]
    assert cv["held_out"] and cv["rmse_ml"] < cv["rmse_physics"]
    assert 0.85 <= cv["coverage"] <= 0.95
    # the fallback follows the held-out per-type figures: a branch replaces the fusion only
    # where it won machine by machine (sign-flip test at 5 %); the alert rule was chosen by cost
    for mtype, figures in model.cv["per_type_held_out"].items():
        candidate = figures[f"rmse_{figures['candidate']}"]
        taken = (
            figures["rmse_fused"] > candidate
            and figures["machines"] >= 3
            and figures["p_candidate_better"] <= 0.05
        )
        assert (mtype in model.fallback) == taken == (figures["fallback"] is not None)
    # the interval is calibrated by machine, pooled over the types (a few machines each)
    assert model.interval_scale["*"] == model.cv["interval_scale"]["*"]["factor"] > 0
    chosen = model.cv["alert_rule"]["chosen"]
    assert model.alert_rule is not None and chosen["horizon_h"] == model.alert_rule.horizon_h
    assert chosen["cost"] <= model.cv["alert_rule"]["default_rule"]["cost"]


@pytest.mark.slow
def test_model_bundle_round_trips_and_is_versioned_by_its_bytes(fleets) -> None:
    model = fleets["model"]
    data = model.to_bytes()
    assert model.version == hashlib.sha256(data).hexdigest()
    again = fleet.FleetModel.from_bytes(data)
    assert again.version == model.version
    assert again.alert_rule == model.alert_rule and again.fallback == model.fallback
    assert again.interval_scale == model.interval_scale
    sample = fleets["base"].filter(pl.col("machine_id").is_in(["CNC-01", "SERVO-02"]))
    assert again.predict(sample).equals(model.predict(sample))
    with pytest.raises(ValueError, match="bad magic"):
        fleet.FleetModel.from_bytes(b"not a model")


@pytest.mark.slow
def test_training_is_deterministic(fleets) -> None:
    """Same history, same bytes: the version identifies the model, not the run."""
    again = fleet.train_fleet_model(*fleets["train_inputs"])
    assert again.version == fleets["model"].version


@pytest.mark.slow
def test_predictions_made_at_a_time_use_nothing_after_it(fleets) -> None:
    """Replaying the evaluation fleet up to day 20 gives the rows the full replay gave."""
    from dt_platform.warehouse import Warehouse

    cut = fleets["until_eval"] - dt.timedelta(days=10)
    with Warehouse(fleets["eval_home"] / "warehouse.duckdb").read() as con:
        history = load_history(con, cut)
        sig = fleet.hourly_signals(con, cut)
    trajectory = damage_trajectory(history, fleets["physics"], n_draws=100)
    base = fleet.assemble_base(sig, trajectory, end=cut, lives=fleet.lives_table(history))
    early = fleets["model"].predict(base).sort("machine_id", "ts")
    full = fleets["predictions"].filter(pl.col("ts") <= cut).sort("machine_id", "ts")
    assert early.height == full.height > 0
    for col in ("rul_physics_h", "rul_ml_h", "rul_fused_h", "rul_fused_hi_h"):
        a, b = early[col].to_numpy(), full[col].to_numpy()
        assert np.allclose(a, b, equal_nan=True, rtol=1e-9, atol=1e-6), col


@pytest.mark.slow
def test_physics_of_one_day_equals_the_full_trajectory(fleets) -> None:
    history, physics = fleets["eval_history"], fleets["physics"]
    since = fleets["until_eval"] - dt.timedelta(days=1)
    day = fleet.physics_hourly(history, physics, since, n_draws=50)
    full = damage_trajectory(history, physics, n_draws=50).filter(pl.col("ts") > since)
    usable = {t for t, f in physics.types.items() if f.usable}
    day_usable = day.filter(pl.col("machine_type").is_in(sorted(usable)))
    assert day_usable.sort("machine_id", "ts").equals(full.sort("machine_id", "ts"))
    # every machine with data has its 24 hours, with the install time of the part in service
    assert day.group_by("machine_id").len()["len"].unique().to_list() == [24]
    assert day["component_installed_at"].null_count() == 0
    assert math.isfinite(float(day_usable["damage"].max()))
