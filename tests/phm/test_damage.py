"""Damage, damage rate and physics RUL: Miner's rule, the weekly replay, intervals, no look-ahead.

Histories are built in memory from readings (the warehouse path is covered by test_episodes), with
fitted laws set by hand so every expected number can be worked out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from dt_platform.phm import physics
from dt_platform.phm.damage import (
    STATE_SCHEMA,
    TRAJECTORY_SCHEMA,
    damage_trajectory,
    physics_state,
)
from dt_platform.phm.damage.residual import _equilibrium_residual
from dt_platform.phm.episodes import History, MachineInfo, build_machine_stress
from dt_platform.phm.episodes.stress import frozen_repeats
from dt_platform.phm.fitting import FleetPhysics, ParamEstimate, TypeFit
from dt_platform.phm.physics import LAWS

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday, 00:00 UTC
CNC_RATED = {
    "bearing_dynamic_load_rating_c_kn": 30.0,
    "bearing_preload_kn": 1.0,
    "bearing_load_at_full_load_kn": 7.0,
    "bearing_type": "angular contact ball (p = 3)",
}


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def readings(
    hours: int, values: Callable[[float], dict[str, float]], step_min: int = 10
) -> pl.DataFrame:
    """One row per reading: ``ts_us`` and the sensor columns ``values(hour)`` returns."""
    minutes = np.arange(0, hours * 60, step_min)
    rows = [values(m / 60.0) for m in minutes]
    ts_us = (int(T0.timestamp()) + minutes * 60) * 1_000_000
    return pl.DataFrame({"ts_us": ts_us, **{k: [r[k] for r in rows] for k in rows[0]}})


def oven(temp_c: Callable[[float], float]) -> Callable[[float], dict[str, float]]:
    return lambda x: {"heater_temp_c": temp_c(x), "heater_duty_pct": 60.0}


def make_history(
    machines: dict[str, tuple[str, pl.DataFrame, dict]],
    work_orders: list[tuple],
    until: dt.datetime,
    installed: dict[str, dt.date] | None = None,
) -> History:
    wo = pl.DataFrame(
        work_orders or None,
        schema={
            "work_order": pl.String,
            "machine_id": pl.String,
            "started_at": pl.Datetime("us", "UTC"),
            "finished_at": pl.Datetime("us", "UTC"),
            "kind": pl.String,
            "action": pl.String,
            "component": pl.String,
        },
        orient="row",
    ).select("machine_id", "work_order", "started_at", "finished_at", "kind", "action", "component")
    infos, stress = {}, {}
    for mid, (mtype, frame, rated) in machines.items():
        info = MachineInfo(mid, mtype, (installed or {}).get(mid), rated)
        infos[mid] = info
        ms = build_machine_stress(
            LAWS[mtype],
            info,
            frame.filter(pl.col("ts_us") < int(until.timestamp()) * 1_000_000),
            wo.filter(pl.col("machine_id") == mid),
            int(until.timestamp() // 3600),
        )
        assert ms is not None
        stress[mid] = ms
    return History(until, infos, wo, stress, {})


def make_fit(machine_type: str, eta: float, sigma: float, paris: dict | None = None) -> TypeFit:
    """A 'fitted' law with exact parameters: no parameter uncertainty in the draws."""
    law = LAWS[machine_type]
    values = {**law.prior_theta(), "log_eta": math.log(eta), "log_sigma": math.log(sigma)}
    params = {k: ParamEstimate(k, v, 0.0, v, v, "fitted") for k, v in values.items()}
    return TypeFit(
        machine_type=machine_type,
        law=law.law,
        distribution=law.distribution,
        exposure_unit=law.exposure_unit,
        usable=True,
        params=params,
        free=[],
        cov=[],
        n_episodes=0,
        n_failures=0,
        n_censored=0,
        n_imputed=0,
        loglike=None,
        converged=True,
        paris=paris or {},
    )


def install(mid: str, component: str, at: float, number: str = "WO-1") -> tuple:
    return (number, mid, h(at - 2), h(at), "preventive", "replace", component)


def state_of(frame: pl.DataFrame, mid: str) -> dict:
    return frame.filter(pl.col("machine_id") == mid).row(0, named=True)


def test_damage_is_miners_sum_and_rul_the_remaining_median_life() -> None:
    # 600 h at exactly 550 °C (one exposure unit per hour), median life 2000 h, tiny scatter
    hist = make_history(
        {"OVEN-01": ("reflow_oven", readings(600, oven(lambda x: 550.0)), {})},
        [install("OVEN-01", "heater_element", 0.0)],
        h(600),
    )
    fleet = FleetPhysics({"reflow_oven": make_fit("reflow_oven", 2000.0, 0.01)}, h(600).isoformat())
    s = state_of(physics_state(hist, fleet, h(600)), "OVEN-01")
    assert s["component_installed_at"] == h(0)
    assert s["damage"] == pytest.approx(0.3, abs=1e-6)
    assert s["rul_physics_h"] == pytest.approx(1400.0, rel=1e-3)
    assert s["damage_rate_per_h"] == pytest.approx(1 / 2000, rel=1e-3)
    assert (1 - s["damage"]) / s["damage_rate_per_h"] == pytest.approx(s["rul_physics_h"], rel=1e-3)
    # steady operation for weeks: only the 1 % life scatter is left in the interval
    assert s["rul_physics_lo_h"] < 1400 < s["rul_physics_hi_h"]
    assert s["rul_physics_hi_h"] - s["rul_physics_lo_h"] < 120
    assert s["stage"] == "miner" and s["note"] is None
    assert s["dominant_stress"].startswith("heater_temp_c 550 °C")
    assert s["physics_params_version"] == fleet.version


def test_hotter_operation_uses_life_faster_by_the_arrhenius_factor() -> None:
    machines = {
        "OVEN-01": ("reflow_oven", readings(600, oven(lambda x: 550.0)), {}),
        "OVEN-02": ("reflow_oven", readings(600, oven(lambda x: 590.0)), {}),
    }
    wos = [
        install("OVEN-01", "heater_element", 0.0),
        install("OVEN-02", "heater_element", 0.0, "WO-2"),
    ]
    hist = make_history(machines, wos, h(600))
    fit = make_fit("reflow_oven", 20_000.0, 0.01)
    st = physics_state(hist, FleetPhysics({"reflow_oven": fit}, ""), h(600))
    af = float(physics.arrhenius_af(0.75, physics.OVEN_T_REF_K, 590.0 + physics.ZERO_C_K))
    cool, hot = state_of(st, "OVEN-01"), state_of(st, "OVEN-02")
    assert hot["damage"] / cool["damage"] == pytest.approx(af, rel=1e-3)
    assert hot["damage_rate_per_h"] / cool["damage_rate_per_h"] == pytest.approx(af, rel=1e-2)
    assert "AF" in hot["dominant_stress"]


def test_interval_reflects_life_scatter_and_a_survivor_keeps_a_positive_rul() -> None:
    hist = make_history(
        {"OVEN-01": ("reflow_oven", readings(600, oven(lambda x: 550.0)), {})},
        [install("OVEN-01", "heater_element", 0.0)],
        h(600),
    )
    tight = physics_state(
        hist, FleetPhysics({"reflow_oven": make_fit("reflow_oven", 2000.0, 0.05)}, ""), h(600)
    )
    wide = physics_state(
        hist, FleetPhysics({"reflow_oven": make_fit("reflow_oven", 2000.0, 0.4)}, ""), h(600)
    )
    width = lambda s: s["rul_physics_hi_h"] - s["rul_physics_lo_h"]  # noqa: E731
    assert width(state_of(wide, "OVEN-01")) > 4 * width(state_of(tight, "OVEN-01"))
    # past its median life (D = 1.5): still a positive, shrinking remaining life, not a negative one
    old = FleetPhysics({"reflow_oven": make_fit("reflow_oven", 400.0, 0.3)}, "")
    traj = damage_trajectory(hist, old, n_draws=50).filter(pl.col("ts").is_in([h(500), h(600)]))
    d500, d600 = traj.sort("ts").rows(named=True)
    assert d600["damage"] == pytest.approx(1.5)
    assert 0 < d600["rul_physics_h"] < d500["rul_physics_h"] < 400
    assert d600["rul_physics_lo_h"] <= d600["rul_physics_h"] <= d600["rul_physics_hi_h"]


def test_remaining_life_is_spent_on_the_replayed_operating_week() -> None:
    # runs Monday-Friday, stands still at the weekend; at Friday 20:00 of week 4, 10 h are left
    weekday = lambda x: 550.0 if (x % 168) < 120 else 25.0  # noqa: E731
    now = 3 * 168 + 4 * 24 + 20
    hist = make_history(
        {"OVEN-01": ("reflow_oven", readings(now, oven(weekday)), {})},
        [install("OVEN-01", "heater_element", 0.0)],
        h(now),
    )
    used = 3 * 120 + 4 * 24 + 20
    fleet = FleetPhysics({"reflow_oven": make_fit("reflow_oven", used + 10.0, 0.001)}, "")
    s = state_of(physics_state(hist, fleet, h(now)), "OVEN-01")
    # 4 h on Friday, the weekend, then 6 h on Monday — not 10 h at the weekly mean rate (14 h)
    assert s["rul_physics_h"] == pytest.approx(4 + 48 + 6, abs=0.2)
    # three identical weeks: the machine's own week-to-week spread (zero) replaces the default
    assert s["rul_physics_hi_h"] - s["rul_physics_lo_h"] < 2.0


def failing_oven_history() -> History:
    """An oven whose heater fails at 300 h, is replaced at 304 h; data gaps and a stop."""

    def temp(x: float) -> float:
        return 25.0 if 300 <= x < 304 else 540.0 + 10 * math.sin(x / 7.0)

    frame = readings(500, oven(temp)).filter(
        ~(
            (pl.col("ts_us") >= int(h(150).timestamp() * 1e6))
            & (pl.col("ts_us") < int(h(153).timestamp() * 1e6))
        )
    )
    wos = [
        install("OVEN-01", "heater_element", -30.0),  # 30 h before the first reading
        ("WO-2", "OVEN-01", h(200), h(203), "inspection", "inspect", "heater_element"),
        ("WO-3", "OVEN-01", h(301), h(304), "corrective", "replace", "heater_element"),
    ]
    return make_history({"OVEN-01": ("reflow_oven", frame, {})}, wos, h(500))


def test_trajectory_has_no_look_ahead() -> None:
    hist = failing_oven_history()
    fleet = FleetPhysics({"reflow_oven": make_fit("reflow_oven", 400.0, 0.3)}, "")
    full = damage_trajectory(hist, fleet, n_draws=60)
    assert full.schema == pl.Schema(TRAJECTORY_SCHEMA)
    for cut in (h(120), h(151), h(302), h(304), h(305), h(420)):
        part = damage_trajectory(hist.truncate(cut), fleet, n_draws=60)
        assert part.height == int((cut - h(0)).total_seconds() // 3600)
        assert part.equals(full.filter(pl.col("ts") <= cut)), cut
        state = state_of(physics_state(hist, fleet, cut, n_draws=60), "OVEN-01")
        row = part.filter(pl.col("ts") == cut).row(0, named=True)
        for col in (
            "damage",
            "damage_rate_per_h",
            "rul_physics_h",
            "rul_physics_lo_h",
            "rul_physics_hi_h",
        ):
            assert state[col] == row[col] or (state[col] is None and row[col] is None), (cut, col)


def test_trajectory_follows_the_component_in_service() -> None:
    hist = failing_oven_history()
    fleet = FleetPhysics({"reflow_oven": make_fit("reflow_oven", 400.0, 0.3)}, "")
    traj = damage_trajectory(hist, fleet, n_draws=20)
    first = traj.filter(pl.col("ts") == h(1)).row(0, named=True)
    # the heater began 30 h before the data: its profile fills that part of its life
    assert first["exposure"] > 20
    before = traj.filter(pl.col("ts") == h(300)).row(0, named=True)
    repair = traj.filter(pl.col("ts") == h(302)).row(0, named=True)
    # WO-3 finished at h(304) on the hour: the row at h(304) describes the last hour of the
    # repair, still the failed heater (not a running one with 0 h left: a false critical alert)
    last = traj.filter(pl.col("ts") == h(304)).row(0, named=True)
    new = traj.filter(pl.col("ts") == h(305)).row(0, named=True)
    after = traj.filter(pl.col("ts") == h(306)).row(0, named=True)
    assert before["component_installed_at"] == h(-30)
    assert repair["stage"] == "failed" and repair["rul_physics_h"] == 0.0
    assert last["stage"] == "failed" and last["component_installed_at"] == h(-30)
    assert new["component_installed_at"] == h(304) and new["stage"] != "failed"
    assert after["component_installed_at"] == h(304) and after["damage"] < 0.02
    damage = traj.filter(pl.col("ts") <= h(300))["damage"].to_numpy()
    assert np.all(np.diff(damage[170:]) >= -1e-12)  # after the first week, Miner's sum only grows


def test_state_rows_for_failed_unfitted_and_unknown_machines() -> None:
    hist = failing_oven_history()
    fit = make_fit("reflow_oven", 400.0, 0.3)
    unusable = make_fit("smt_placer", 1.0, 0.3)
    unusable.usable = False
    unusable.decisions = ["no physics RUL for this type until a failure is recorded"]
    hist.machines["SMT-09"] = MachineInfo("SMT-09", "smt_placer", None, {})
    hist.machines["OVEN-09"] = MachineInfo("OVEN-09", "reflow_oven", None, {})
    hist.problems["OVEN-09"] = "no ok telemetry before the as-of time"
    fleet = FleetPhysics({"reflow_oven": fit, "smt_placer": unusable}, "")
    st = physics_state(hist, fleet, h(302) + dt.timedelta(minutes=40), n_draws=20)
    assert st.schema == pl.Schema(STATE_SCHEMA)
    assert st["machine_id"].to_list() == ["OVEN-01", "OVEN-09", "SMT-09"]
    assert st["as_of"].unique().to_list() == [h(302)]
    failed = state_of(st, "OVEN-01")
    assert (
        failed["stage"] == "failed" and failed["rul_physics_h"] == 0.0 and "WO-3" in failed["note"]
    )
    assert state_of(st, "SMT-09")["rul_physics_h"] is None
    assert "until a failure is recorded" in state_of(st, "SMT-09")["note"]
    assert state_of(st, "OVEN-09")["note"] == "no ok telemetry before the as-of time"


def cnc_history(
    onset_h: float,
    fail_h: float,
    until_h: float,
    stuck: tuple[float, float, float] | None = None,
) -> History:
    """A spindle at constant duty; a spall starts at ``onset_h`` and grows by Paris' law (m = 3)
    so that vibration reaches 4.5 mm/s at ``fail_h``. ``stuck`` (start hour, end hour, value):
    the vibration transmitter repeats one reading over that span."""
    base, kappa, a0 = 1.0, 1.1, 0.1
    a_fail = (physics.ISO_10816_3_LIMIT_MM_S - base) / kappa
    # a^(-1/2) falls linearly in time at constant load: a^(-1/2) = a0^(-1/2) - k·(t - onset)
    k = (a0**-0.5 - a_fail**-0.5) / (fail_h - onset_h)
    rng = np.random.default_rng(0)

    def values(x: float) -> dict[str, float]:
        a = (a0**-0.5 - k * (x - onset_h)) ** -2 if x >= onset_h else 0.0
        vibration = base + kappa * a + 0.01 * rng.standard_normal()
        if stuck is not None and stuck[0] <= x < stuck[1]:
            vibration = stuck[2]
        return {"speed_rpm": 12000.0, "load_pct": 60.0, "vibration_rms_mm_s": vibration}

    frame = readings(int(until_h), values, step_min=2)
    return make_history(
        {"CNC-01": ("cnc_spindle", frame, CNC_RATED)},
        [install("CNC-01", "spindle_bearing", 0.0)],
        h(until_h),
    )


def test_spindle_switches_to_paris_growth_after_the_vibration_departs() -> None:
    onset, fail = 300.0, 380.0
    hist = cnc_history(onset, fail, 360.0)
    paris = {"m": 3.0, "growth_log_mean": None, "growth_log_sd": None, "limit_mm_s": 4.5}
    fleet = FleetPhysics({"cnc_spindle": make_fit("cnc_spindle", 1e4, 0.6, paris)}, "")
    traj = damage_trajectory(hist, fleet, n_draws=100)
    stages = dict(zip(traj["ts"].to_list(), traj["stage"].to_list(), strict=True))
    assert stages[h(299)] == "initiation"
    assert stages[h(330)] == "spall_growth"
    # the stage-1 law alone would give thousands of hours; the vibration trend gives the truth
    for now in (330.0, 345.0, 360.0):
        row = traj.filter(pl.col("ts") == h(now)).row(0, named=True)
        true_rul = fail - now
        assert row["rul_physics_h"] == pytest.approx(true_rul, rel=0.25, abs=3.0), now
        assert row["rul_physics_lo_h"] <= true_rul <= row["rul_physics_hi_h"], now
        assert 0 < row["damage"] < 1
    early = traj.filter(pl.col("ts") == h(250)).row(0, named=True)
    assert early["rul_physics_h"] > 1000
    st = state_of(physics_state(hist, fleet, h(360), n_draws=100), "CNC-01")
    assert st["stage"] == "spall_growth" and "Paris trend" in st["note"]
    # P = 1 kN preload + 6 kN · 60 % = 4.6 kN on a C = 30 kN bearing
    assert (
        "bearing load P/C 0.153" in st["dominant_stress"]
        and "vibration_rms_mm_s" in st["dominant_stress"]
    )


def test_frozen_repeats_keep_a_run_s_first_reading_and_chance_pairs() -> None:
    v = np.array([1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, np.nan, np.nan, np.nan, 4.0])
    assert frozen_repeats(v).tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0]
    assert frozen_repeats(np.array([])).size == 0


def test_a_transmitter_frozen_on_a_high_reading_is_no_spall() -> None:
    # frozen at +0.3 mm/s for 2.4 h: shorter than the warehouse's stuck run (2.5 h at 5 min),
    # so its readings arrive as ok; as hourly means they would look like a spall's onset
    hist = cnc_history(300.0, 380.0, 360.0, stuck=(100.0, 102.4, 1.3))
    paris = {"m": 3.0, "growth_log_mean": 3.0, "growth_log_sd": 0.5, "limit_mm_s": 4.5}
    fleet = FleetPhysics({"cnc_spindle": make_fit("cnc_spindle", 1e4, 0.6, paris)}, "")
    traj = damage_trajectory(hist, fleet, n_draws=100)
    stages = dict(zip(traj["ts"].to_list(), traj["stage"].to_list(), strict=True))
    assert {stages[h(x)] for x in range(100, 300)} == {"initiation"}
    assert stages[h(330)] == "spall_growth"


# --- end to end on a small simulated line ---------------------------------------------------------


@pytest.mark.slow
def test_physics_branch_on_a_simulated_line(tmp_path) -> None:
    """Simulator → ingestion → history → fit → state; scored loosely against the hidden truth."""
    from dt_platform.ingest.loader import ingest_landing
    from dt_platform.ingest.maintenance import load_maintenance_log
    from dt_platform.ingest.registry import load_registry, sync_registry
    from dt_platform.ingest.telemetry import build_telemetry_day
    from dt_platform.phm.episodes import load_history
    from dt_platform.phm.fitting import fit_fleet
    from dt_platform.sim import SimConfig, simulate_line
    from dt_platform.warehouse import Warehouse

    config = SimConfig(machines=8, days=30, seed=21, start=dt.date(2026, 9, 1), interval_s=300)
    simulate_line(config, tmp_path / "landing")
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    end = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    with wh.write() as con:
        sync_registry(con, load_registry(tmp_path / "machines.yaml"))
        summary = ingest_landing(con, tmp_path / "landing", now=end)
        load_maintenance_log(con, tmp_path / "landing")
        for day in sorted(summary.touched_days):
            build_telemetry_day(con, day)
    with wh.read() as con:
        hist = load_history(con, end)
    assert not hist.problems and len(hist.stress) == 8

    fleet = fit_fleet(hist)
    assert FleetPhysics.from_json(fleet.to_json()).version == fleet.version
    for fit in fleet.types.values():
        assert fit.decisions, "every fit says which parameters it held and why"
        if fit.usable:
            # the day shift (06-14 local: 22-06 UTC) loads harder than the night (14-22 UTC)
            day = np.asarray(fit.clock)
            assert day.shape == (24,) and day[:6].mean() > 1.0 > day[14:22].mean()
    state = physics_state(hist, fleet, end, n_draws=100)
    assert state.height == 8 and state["physics_params_version"].n_unique() == 1
    usable = state.filter(pl.col("rul_physics_h").is_not_null())
    assert usable.height >= 4  # cnc and servo have literature scales even without failures
    assert (usable["rul_physics_lo_h"] <= usable["rul_physics_h"]).all()
    assert (usable["rul_physics_h"] <= usable["rul_physics_hi_h"]).all()

    traj = damage_trajectory(hist, fleet, n_draws=40)
    cut = dt.datetime(2026, 9, 20, 7, tzinfo=dt.UTC)
    part = damage_trajectory(hist.truncate(cut), fleet, n_draws=40)
    assert part.equals(traj.filter(pl.col("ts") <= cut))

    truth = pl.read_parquet(tmp_path / "ground_truth" / "damage.parquet")
    joined = traj.join(truth, on=["machine_id", "ts"], suffix="_true").filter(
        pl.col("state").is_in(["production", "idle", "off"]) & (pl.col("stage") != "failed")
    )
    # Miner's sum of measured stress tracks the simulator's hidden damage
    for (mtype,), group in joined.group_by(["machine_type"]):
        rho = group.select(pl.corr("damage", "damage_true", method="spearman")).item()
        assert rho > 0.5, (mtype, rho)


@pytest.mark.parametrize("dist", ["lognormal", "weibull"])
def test_equilibrium_residual_is_the_renewal_theory_one(dist: str) -> None:
    from scipy import integrate, stats

    mu, sigma = math.log(500.0), 0.4
    life = (
        stats.lognorm(sigma, scale=math.exp(mu))
        if dist == "lognormal"
        else stats.weibull_min(1.0 / sigma, scale=math.exp(mu))
    )
    # P(R > x) = ∫_x^∞ S(t) dt / E[L]
    for x in (50.0, 300.0, 600.0, 1200.0):
        want = integrate.quad(life.sf, x, np.inf)[0] / life.mean()
        got = physics.std_equilibrium_sf(dist, (math.log(x) - mu) / sigma, sigma)
        assert float(got) == pytest.approx(want, rel=1e-6, abs=1e-9)
    # a part found in service: a size-biased life, a uniform share of it still to run; given it
    # then survived c more, the residual's quantiles are those of the draws past c
    rng = np.random.default_rng(1)
    lives = life.rvs(400_000, random_state=rng)
    biased = rng.choice(lives, lives.size, p=lives / lives.sum())
    r0 = biased * rng.random(lives.size)
    u = np.array([0.1, 0.5, 0.9])
    for c in (0.0, 200.0, 500.0):
        want = np.quantile(r0[r0 > c] - c, u)
        got = _equilibrium_residual(np.full(3, c), mu, sigma, u, dist)
        assert got == pytest.approx(want, rel=0.02)


def test_a_part_of_unknown_age_on_an_old_machine_is_one_found_in_service() -> None:
    # two ovens at 550 °C (one exposure unit an hour), no logged replacement; one installed three
    # years ago (its first heater would be long worn out), one 100 h before its data
    frames = {m: ("reflow_oven", readings(600, oven(lambda x: 550.0)), {}) for m in ("OLD", "NEW")}
    installed = {"OLD": (T0 - dt.timedelta(days=1000)).date(), "NEW": h(-100).date()}
    hist = make_history(frames, [], h(600), installed)
    fleet = FleetPhysics({"reflow_oven": make_fit("reflow_oven", 2000.0, 0.3)}, "")
    old = state_of(physics_state(hist, fleet, h(600)), "OLD")
    # the renewal residual given 600 h survived since the first data, not the residual of a part
    # 24,000 h old
    want = float(_equilibrium_residual(np.array(600.0), math.log(2000.0), 0.3, 0.5, "lognormal"))
    assert 500.0 < want < 1400.0
    assert old["rul_physics_h"] == pytest.approx(want, rel=0.03)
    assert old["rul_physics_lo_h"] < want < old["rul_physics_hi_h"]
    assert "found in service" in old["note"] and "first-week profile" not in old["note"]
    # the damage shown is the one its remaining life implies (1 − 763 / 2000), not 12
    assert old["damage"] == pytest.approx(1.0 - want / 2000.0, rel=0.05)
    new = state_of(physics_state(hist, fleet, h(600)), "NEW")
    assert "assumed new at registry" in new["note"]
    assert new["rul_physics_h"] < 2000.0 - 600.0
