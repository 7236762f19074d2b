"""Hybrid RUL on the simulated phone line: train on one fleet, predict others, score against truth.

The platform's own path, end to end, on simulated fleets with different seeds:

1. simulate a training fleet and one or more separate evaluation fleets
   (:func:`dt_platform.sim.simulate_line`; ``--eval-seed S`` or ``--eval-seeds 8,11,12``);
2. load each through the ingestion functions (registry, dumps, maintenance log, daily telemetry);
3. fit the damage laws on the training fleet and train the data branch and the fuser
   (:func:`~dt_platform.phm.fleet.fit_fleet_robust`, :func:`~dt_platform.phm.fleet.train_fleet_model`).
   Training also decides, on the training fleet's cross-fitted (held-out machine) rows only, the
   per-type fallback of the fusion (only where a branch beats it machine by machine), the
   interval scale (conformal by machine) and the alert rule, by expected cost
   (:mod:`dt_platform.phm.fleet.calibration`, :mod:`dt_platform.phm.fleet.alerting`); the
   evaluation fleets are never looked at for any of it;
4. on each evaluation fleet, predict every hour (``--cadence hourly``) or at every UTC midnight
   (``daily``, as the daily partitions do; the alert rule still runs over the hourly timeline of
   each life, as the alert asset does) with the training fleet's models; every prediction at
   ``ts`` uses data before ``ts`` only;
5. score against the evaluation fleet's ground truth, which the platform never reads.

Figures (one JSON line on stdout; progress on stderr). The top level holds the first evaluation
seed's figures (the layout of a single ``--eval-seed`` run); with several seeds ``per_seed`` holds
each seed's and ``mean`` the means of the headline figures and per-type RMSE.

* ``rmse`` — ``{type: {physics, ml, fused}}`` in hours, over prediction times where the true RUL
  is at most the horizon (336 h, the range the model is built for) and both branches have a value;
  ``rmse["all"]`` pools the types. ``fused`` is the value reported: the fusion, or for a type in
  ``fallback`` the branch that beat it on the training fleet's held-out machines, machine by
  machine (``basis`` counts the rows of each; ``per_type_held_out`` has the training figures the
  decision was made on, with the sign-flip test's ``p_candidate_better``).
  ``fused_vs_ml_by_type`` says whether that choice held on this fleet: per type, the component
  lives scored (``lives``), those whose rows the data branch predicted better
  (``lives_ml_better``) and the one-sided sign-flip p-values of the lives' mean squared errors
  each way (``p_ml_better``, ``p_fused_better``); in ``mean``, pooled over the fleets' lives.
* ``coverage_90`` (and ``coverage_90_by_type``) — share of those rows whose true RUL is inside
  the reported 90 % interval (target 85-95 %); ``interval_scale`` the factor its halves were
  stretched by (``"*"``: pooled over the types), fitted on the training fleet's held-out machines.
* alerts, with the rule the model chose on its training fleet (``alert_rule``;
  ``alert_rule_chosen_on_training`` has the assumed costs, its training figures and the
  runners-up): ``alert_lead_time_h`` is the median warning time over the failures in the
  evaluation window (the start of the uninterrupted run of alerting predictions that reaches the
  failure; a failure without an alert just before it counts 0 h); ``warned_24h_share`` the share
  of failures warned at least 24 h ahead; ``precursor_24h_share`` the share of failures whose
  mechanism moved a sensor at least 24 h before them (from the truth,
  :mod:`dt_platform.sim.precursor`: a spindle bearing's spall can initiate and grow to failure
  within hours, unseen before) and ``warned_24h_share_with_precursor`` the warned share among
  those — the part of the figure condition monitoring can reach; ``failures_missed`` those with
  no alert just before;
  ``false_alarm_episode_share`` the share of alert episodes (a machine's contiguous alerting
  stretch) not followed by a failure of that machine within 72 h of their end
  (:func:`~dt_platform.phm.alert_scoring.alert_episodes`; episodes whose 72 h run past the end
  of the truth are left out, and counted in ``alert_episodes_open``: a rule that warns for weeks
  leaves more of its episodes open at the end, unjudged); ``false_alarm_rate`` the share of alerting *predictions* (hours)
  not followed by a failure within 72 h (:func:`~dt_platform.phm.alerts.false_alarm_rate`) —
  a rule that warns 5 days ahead counts its first 2 days as false here, by construction;
  ``alerting_share`` the share of all predictions that alert, and ``standing_share`` of those
  made more than 336 h before the machine's next failure
  (:func:`~dt_platform.phm.alert_scoring.standing_share`): what a rule that alerts nearly always
  costs in attention, which the episode share does not see.
  ``alert_default_rule`` scores the fixed rule P(RUL ≤ 72 h) ≥ 0.5 on the same predictions and
  ``alert_sweep`` fixed rules at other thresholds (``--sweep-thresholds``).
* ``alert_fixed_rules`` — the rules of ``--fixed-rules H/T/W,...`` (e.g. ``168/0.4/24``) scored on
  the same predictions (and their means over the seeds): a change to the predictions also moves
  the rule the training fleet chooses, and the chosen rule's figures mix both effects; a fixed
  rule shows the predictions' own (a fleet prior for the early exposure rate, 2026-12-06: with
  the chosen rule false episodes 0.055 → 0.100 on seed 7 × 41–60, with either rule fixed equal
  or better).
* ``rmse_capped_all`` — RMSE against the true RUL capped at 336 h over *all* prediction times
  (also those far from failure), and its mean over the seeds in ``mean``. The fuser is fitted on
  the hours within the horizon of a failure, so it learns E[RUL | branches, RUL ≤ 336 h] and
  reads a healthy machine low; this figure shows that cost (seed 7 on fleets 41–60: fused 97 h,
  data branch 65 h). A fuser fitted on every hour with the capped RUL as its target scored
  64 h there, but 88 h within the horizon against the shipped fuser's 77 h, and chose alert
  rules that cry wolf (false episodes 0.30 against 0.055; measured 2026-12-06, the shipped
  fuser of that day), so it is not the one shipped (docs/benchmarks.md has today's figures).
* ``limit_projection`` — per type, the cold-start warning *alone*: what a type the RUL model
  knows nothing of gets (:mod:`dt_platform.phm.fleet.limit_projection`: a health sensor's trend
  over its last week of operation reaching the catalogue failure limit within 72 h), scored as
  above; in ``mean`` pooled over the fleets' failures and judged episodes. Seeds 41-60: SMT
  placers warned ≥ 24 h ahead 0.935 (77 failures), 2 of 75 episodes false; the other types
  0-33 % (their failures come late and fast on their sensors), so the platform uses it only
  where the model has no physics for a type.
* A share with nothing to count (no alert, no failure) is null, and a mean skips it.
* ``timing_s`` — simulate, ingest, train, predict and total seconds (``--reuse-fleets`` with
  ``--workdir`` reuses fleets simulated and ingested by an earlier run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _args import seed_list  # benchmarks/_args.py, beside this script

from dt_platform.phm import alerts, fleet
from dt_platform.phm.alert_scoring import (
    alert_episodes,
    false_alarm_episode_share,
    standing_share,
)
from dt_platform.phm.damage import damage_trajectory
from dt_platform.phm.episodes import load_history
from dt_platform.phm.evidence import sign_flip_p
from dt_platform.phm.fleet.alerting import EPISODE_HORIZON_H, RELEASE_RATIO, STANDING_H
from dt_platform.phm.scoring import coverage, rmse
from dt_platform.sim import SimConfig
from dt_platform.sim.precursor import precursor_hours

START = dt.date(2026, 1, 5)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def simulate_and_ingest(
    home: Path, *, machines: int, days: int, seed: int, interval_s: int
) -> tuple[dt.datetime, dict, dict[str, float]]:
    """Simulate a line into ``home`` and load it as the platform does; returns the end of data,
    the simulator's summary and the timings."""
    from dt_platform.ingest.loader import ingest_landing
    from dt_platform.ingest.maintenance import load_maintenance_log
    from dt_platform.ingest.registry import load_registry, sync_registry
    from dt_platform.ingest.telemetry import build_telemetry_day
    from dt_platform.sim import simulate_line
    from dt_platform.warehouse import Warehouse

    t0 = time.perf_counter()
    result = simulate_line(
        SimConfig(machines=machines, days=days, seed=seed, start=START, interval_s=interval_s),
        home / "landing",
        truth_dir=home / "ground_truth",
        registry_path=home / "machines.yaml",
    )
    t1 = time.perf_counter()
    with Warehouse(home / "warehouse.duckdb").write() as con:
        sync_registry(con, load_registry(home / "machines.yaml"))
        ingest_landing(con, home / "landing")
        load_maintenance_log(con, home / "landing")
        for i in range(days):
            build_telemetry_day(con, START + dt.timedelta(days=i))
    t2 = time.perf_counter()
    until = dt.datetime.combine(START + dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)
    return until, result.as_record(), {"simulate": t1 - t0, "ingest": t2 - t1}


def read_history(home: Path, until: dt.datetime):
    from dt_platform.warehouse import Warehouse

    with Warehouse(home / "warehouse.duckdb").read() as con:
        return load_history(con, until), fleet.hourly_signals(con, until)


def score_rmse(scored: pl.DataFrame) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    groups = [(str(t), part) for (t,), part in scored.group_by("machine_type")]
    for name, part in [*sorted(groups, key=lambda g: g[0]), ("all", scored)]:
        y = part["true_rul_h"]
        out[name] = {
            "physics": round(rmse(part["rul_physics_h"], y), 2),
            "ml": round(rmse(part["rul_ml_h"], y), 2),
            "fused": round(rmse(part["rul_fused_h"], y), 2),
            "rows": part.height,
        }
    return out


def life_losses(scored: pl.DataFrame) -> dict[str, dict[str, list[float]]]:
    """Per machine type, each component life's mean squared error (over its rows within the
    horizon) of the reported RUL (``fused``) and of the data branch's (``ml``)."""
    lives = (
        scored.group_by("machine_type", "machine_id", "component_installed_at")
        .agg(
            ((pl.col(f"rul_{b}_h") - pl.col("true_rul_h")) ** 2).mean().alias(b)
            for b in ("fused", "ml")
        )
        .sort("machine_type", "machine_id", "component_installed_at", nulls_last=True)
    )
    return {
        str(t): {"fused": part["fused"].to_list(), "ml": part["ml"].to_list()}
        for (t,), part in lives.group_by("machine_type", maintain_order=True)
    }


def fused_vs_ml(fleets: list[dict[str, dict[str, list[float]]]]) -> dict[str, dict[str, object]]:
    """Per type, over the component lives of every fleet in ``fleets`` (:func:`life_losses`):
    how many, how many the data branch predicted better, and the sign-flip p each way."""
    out: dict[str, dict[str, object]] = {}
    for t in sorted({t for losses in fleets for t in losses}):
        fused, ml = (
            np.concatenate([losses[t][b] for losses in fleets if t in losses])
            for b in ("fused", "ml")
        )
        worse = fused - ml  # > 0 where the data branch was better
        out[t] = {
            "lives": int(worse.size),
            "lives_ml_better": int((worse > 0).sum()),
            "p_ml_better": round(sign_flip_p(worse), 4),
            "p_fused_better": round(sign_flip_p(-worse), 4),
        }
    return out


def score_alerts(
    predictions: pl.DataFrame,
    truth_dir: Path,
    rule: alerts.AlertRule,
    until: dt.datetime,
    precursor: pl.DataFrame,
    *,
    daily: bool = False,
) -> dict[str, object]:
    """Alert figures of ``rule`` on ``predictions`` against the fleet's truth; ``precursor``:
    ``machine_id, failed_at, precursor_h`` per failure (:func:`fleet_precursors`)."""
    evaluated = alerts.evaluate_alerts(predictions, rule).select("machine_id", "ts", "alert")
    if daily:
        # the rule runs over the hourly timeline of each life, as the daily asset does
        evaluated = evaluated.filter(pl.col("ts").dt.hour() == 0)
    figures = score_timeline(evaluated, truth_dir, until, precursor, daily=daily)
    return {"alert_rule": rule.to_dict(), **figures}


def defined(value: float) -> float | None:
    """``value`` rounded, or None (JSON null) where it is undefined (NaN: no alert at all), so
    that the line stays valid JSON and a mean over fleets skips it."""
    return round(value, 4) if np.isfinite(value) else None


def score_timeline(
    evaluated: pl.DataFrame,
    truth_dir: Path,
    until: dt.datetime,
    precursor: pl.DataFrame,
    *,
    daily: bool = False,
) -> dict[str, object]:
    """Alert figures of a timeline ``machine_id, ts, alert`` against the truth of its machines."""
    machines = evaluated["machine_id"].unique()
    failures = (
        pl.read_parquet(truth_dir / "failures.parquet")
        .filter(pl.col("machine_id").is_in(machines.implode()))
        .sort("machine_id", "failed_at")
        .with_columns(pl.col("repair_finished_at").shift(1).over("machine_id").alias("life_start"))
        .filter(pl.col("in_window"))
    )
    leads = alerts.lead_times(evaluated, failures.select("machine_id", "failed_at", "life_start"))
    scored = leads.filter(pl.col("evaluated")).join(
        precursor, on=["machine_id", "failed_at"], how="left"
    )
    lead = scored["lead_h"].to_numpy()
    visible = scored.filter(pl.col("precursor_h") >= 24.0)["lead_h"].to_numpy()
    all_failures = (
        pl.read_parquet(truth_dir / "failures.parquet")
        .filter(pl.col("machine_id").is_in(machines.implode()))
        .select("machine_id", "failed_at")
    )
    episodes = alert_episodes(
        evaluated,
        all_failures,
        EPISODE_HORIZON_H,
        cadence_h=24.0 if daily else 1.0,
        observed_until=until,
    )
    return {
        "failures_in_window": failures.height,
        "failures_scored": int(lead.size),
        "failures_missed": int((lead == 0).sum()),
        "alert_lead_time_h": round(float(np.median(lead)), 2) if lead.size else None,
        "failures_warned_24h": int((lead >= 24.0).sum()),
        "warned_24h_share": round(float(np.mean(lead >= 24.0)), 4) if lead.size else None,
        "precursor_24h_share": round(visible.size / lead.size, 4) if lead.size else None,
        "warned_24h_share_with_precursor": (
            round(float(np.mean(visible >= 24.0)), 4) if visible.size else None
        ),
        "false_alarm_episode_share": defined(false_alarm_episode_share(episodes)),
        "alert_episodes": episodes.height,
        "alert_episodes_open": int(episodes["false"].is_null().sum()),
        "false_alarm_episodes": int(episodes["false"].fill_null(False).sum()),
        "false_alarm_rate": defined(
            alerts.false_alarm_rate(evaluated, all_failures, EPISODE_HORIZON_H)
        ),
        "alerting_predictions": int(evaluated["alert"].sum()),
        "predictions": evaluated.height,
        "alerting_share": defined(float(evaluated["alert"].mean())) if evaluated.height else None,
        "standing_share": defined(standing_share(evaluated, all_failures, STANDING_H, until)),
    }


def fleet_precursors(damage: pl.DataFrame, truth_dir: Path) -> pl.DataFrame:
    """Per failure of the fleet, how long its mechanism showed in a sensor before it
    (:func:`~dt_platform.sim.precursor.precursor_hours` on the truth's ``damage`` table)."""
    failures = pl.read_parquet(truth_dir / "failures.parquet")
    return precursor_hours(damage, failures).select("machine_id", "failed_at", "precursor_h")


def score_limit_projection(
    base: pl.DataFrame,
    truth_dir: Path,
    until: dt.datetime,
    precursor: pl.DataFrame,
    *,
    daily: bool = False,
) -> dict[str, dict[str, object]]:
    """Per type, the cold-start warning alone (:mod:`dt_platform.phm.fleet.limit_projection`):
    every hour (``daily``: every midnight), alert when the health sensor's trend reaches its
    failure limit within ``LIMIT_ALERT_H`` (the last projection holds while the machine stands;
    none while a failed component waits for its repair). What a type gets before the RUL model
    knows it."""
    projection = fleet.projection_timeline(base).select("machine_id", "ts", "hours_to_limit")
    timeline = (
        base.select("machine_id", "machine_type", "ts", "component_installed_at", "stage")
        .join(projection, on=["machine_id", "ts"], how="left")
        .sort("machine_id", "ts")
        .with_columns(
            pl.col("hours_to_limit").forward_fill().over("machine_id", "component_installed_at")
        )
        .with_columns(
            (
                (pl.col("hours_to_limit") <= alerts.LIMIT_ALERT_H)
                & (pl.col("stage") != "failed").fill_null(True)
            )
            .fill_null(False)
            .alias("alert")
        )
    )
    if daily:
        timeline = timeline.filter(pl.col("ts").dt.hour() == 0)
    out = {}
    for (mtype,), part in sorted(timeline.group_by("machine_type"), key=lambda g: str(g[0])):
        alerts_of_type = part.select("machine_id", "ts", "alert")
        figures = score_timeline(alerts_of_type, truth_dir, until, precursor, daily=daily)
        out[str(mtype)] = {k: figures[k] for k in LIMIT_KEYS}
    return out


LIMIT_KEYS = (
    "failures_scored",
    "failures_warned_24h",
    "warned_24h_share",
    "alert_lead_time_h",
    "false_alarm_episode_share",
    "false_alarm_episodes",
    "alert_episodes",
    "alert_episodes_open",
)


def fleet_home(root: Path, name: str, machines: int, days: int, seed: int, args) -> Path:
    return root / f"{name}-m{machines}-d{days}-s{seed}-i{args.interval_s}"


def prepare_fleet(
    root: Path, name: str, machines: int, days: int, seed: int, args, timing: dict[str, float]
) -> tuple[Path, dt.datetime, dict[str, object]]:
    """Simulate and ingest one fleet, or reuse it from ``--workdir`` (``--reuse-fleets``)."""
    home = fleet_home(root, name, machines, days, seed, args)
    stamp = home / "fleet.json"
    if args.reuse_fleets and stamp.is_file():
        log(f"{name}: reusing the simulated fleet in {home}")
        record = json.loads(stamp.read_text())
        return home, dt.datetime.fromisoformat(record["until"]), record["info"]
    log(f"{name}: simulating {machines} machines x {days} days (seed {seed}) and ingesting")
    until, summary, t = simulate_and_ingest(
        home, machines=machines, days=days, seed=seed, interval_s=args.interval_s
    )
    for k, v in t.items():
        timing[f"{k}_s"] = timing.get(f"{k}_s", 0.0) + v
    info = {"machines": machines, "days": days, "seed": seed, "failures": summary["failures"]}
    stamp.write_text(json.dumps({"until": until.isoformat(), "info": info}))
    return home, until, info


def evaluate_fleet(
    home: Path,
    until: dt.datetime,
    model: fleet.FleetModel,
    physics,
    config: fleet.FleetConfig,
    args: argparse.Namespace,
    timing: dict[str, float],
) -> dict[str, object]:
    """Predict one evaluation fleet with the trained model and score it against its truth."""
    t0 = time.perf_counter()
    eval_history, eval_signals = read_history(home, until)
    trajectory = damage_trajectory(eval_history, physics)
    base = fleet.assemble_base(
        eval_signals, trajectory, end=until, lives=fleet.lives_table(eval_history)
    )
    hourly = model.predict(base)
    predictions = hourly
    if args.cadence == "daily":
        predictions = predictions.filter(pl.col("ts").dt.hour() == 0)
    timing["predict_s"] = timing.get("predict_s", 0.0) + time.perf_counter() - t0
    log(f"predicted {predictions.height} rows in {time.perf_counter() - t0:.1f} s")

    damage = pl.read_parquet(home / "ground_truth" / "damage.parquet")
    truth = damage.filter(pl.col("state") != "down").select(
        "machine_id", "ts", pl.col("rul_h").alias("true_rul_h")
    )
    scored = predictions.join(truth, on=["machine_id", "ts"], how="inner").filter(
        pl.col("true_rul_h").is_not_null()
        & (pl.col("true_rul_h") <= config.horizon_h)
        & pl.col("rul_physics_h").is_not_null()
        & pl.col("rul_ml_h").is_not_null()
    )
    y = scored["true_rul_h"]
    losses = life_losses(scored)
    out: dict[str, object] = {
        "rmse": score_rmse(scored),
        "fused_vs_ml_by_type": fused_vs_ml([losses]),
        "life_losses": losses,
        "coverage_90": round(coverage(scored["rul_fused_lo_h"], scored["rul_fused_hi_h"], y), 4),
        "coverage_90_by_type": {
            str(t): round(
                coverage(part["rul_fused_lo_h"], part["rul_fused_hi_h"], part["true_rul_h"]), 4
            )
            for (t,), part in sorted(scored.group_by("machine_type"), key=lambda g: str(g[0]))
        },
        "coverage_90_physics": round(
            coverage(scored["rul_physics_lo_h"], scored["rul_physics_hi_h"].fill_null(1e12), y), 4
        ),
        "mean_w_physics": round(float(scored["w_physics"].mean()), 4),
        "basis": {
            str(k): int(v) for k, v in scored["basis"].value_counts().sort("basis").iter_rows()
        },
    }
    everything = predictions.join(truth, on=["machine_id", "ts"], how="inner").filter(
        pl.col("true_rul_h").is_not_null()
        & pl.col("rul_physics_h").is_not_null()
        & pl.col("rul_ml_h").is_not_null()
    )
    capped = everything["true_rul_h"].clip(0.0, config.cap_h)
    out["rmse_capped_all"] = {
        "physics": round(rmse(everything["rul_physics_h"].clip(0.0, config.cap_h), capped), 2),
        "ml": round(rmse(everything["rul_ml_h"], capped), 2),
        "fused": round(rmse(everything["rul_fused_h"].clip(0.0, config.cap_h), capped), 2),
        "rows": everything.height,
    }
    truth_dir = home / "ground_truth"
    cadence_h = 24.0 if args.cadence == "daily" else 1.0
    precursor = fleet_precursors(damage, truth_dir)

    def alert_figures(rule: alerts.AlertRule) -> dict[str, object]:
        return score_alerts(
            hourly, truth_dir, rule, until, precursor, daily=args.cadence == "daily"
        )

    out.update(alert_figures(model.alert_rule or alerts.AlertRule()))
    out["alert_cadence_h"] = cadence_h
    baseline = alert_figures(alerts.AlertRule())
    out["alert_default_rule"] = {k: baseline[k] for k in SWEEP_KEYS}
    out["alert_sweep"] = []
    for threshold in args.sweep_thresholds:
        rule = alerts.AlertRule(threshold=threshold, critical=max(threshold, 0.9))
        figures = alert_figures(rule)
        out["alert_sweep"].append({"threshold": threshold, **{k: figures[k] for k in SWEEP_KEYS}})
    out["alert_fixed_rules"] = []
    for name, rule in args.fixed_rules:
        figures = alert_figures(rule)
        out["alert_fixed_rules"].append({"rule": name, **{k: figures[k] for k in SWEEP_KEYS}})
    out["limit_projection"] = score_limit_projection(
        base, truth_dir, until, precursor, daily=args.cadence == "daily"
    )
    return out


def fixed_rule(text: str) -> tuple[str, alerts.AlertRule]:
    """``H/T/W`` (probability horizon h / threshold / smoothing h) as the fleet model's rules are
    built (:mod:`dt_platform.phm.fleet.alerting`: release at half the threshold)."""
    try:
        horizon, threshold, smoothing = (float(x) for x in text.split("/"))
        rule = alerts.AlertRule(
            horizon_h=horizon,
            threshold=threshold,
            critical=max(threshold, 0.9),
            release=threshold * RELEASE_RATIO,
            smoothing_h=smoothing,
        )
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected horizon/threshold/smoothing, e.g. 168/0.4/24 ({exc})"
        ) from exc
    return text, rule


SWEEP_KEYS = (
    "alert_lead_time_h",
    "warned_24h_share",
    "false_alarm_episode_share",
    "false_alarm_rate",
    "failures_missed",
    "alerting_share",
    "standing_share",
)


def finite_mean(values: list[float | None]) -> float | None:
    """Mean of the fleets' figures that are defined (None: none is)."""
    kept = [v for v in values if v is not None and np.isfinite(v)]
    return round(float(np.mean(kept)), 4) if kept else None


def branch_means(figures: list[dict[str, float]]) -> dict[str, float | int | None]:
    """Per branch, the mean of the fleets' RMSEs (those with rows; None if none), and how many
    fleets have rows."""
    out: dict[str, float | int | None] = {}
    for b in ("physics", "ml", "fused"):
        values = [f[b] for f in figures if f.get("rows", 1) and np.isfinite(f[b])]
        out[b] = round(float(np.mean(values)), 2) if values else None
    out["fleets"] = sum(1 for f in figures if f.get("rows", 1))
    return out


MEAN_KEYS = (
    "warned_24h_share",
    "precursor_24h_share",
    "warned_24h_share_with_precursor",
    "false_alarm_episode_share",
    "false_alarm_rate",
    "failures_missed",
    "alerting_share",
    "standing_share",
    "coverage_90",
)


def limit_projection_means(fleets) -> dict[str, dict[str, object]]:
    """Per type, the cold-start warning's figures pooled over the fleets: shares of all their
    failures and of all their judged episodes (a type has 2-4 failures a fleet, so a mean of
    per-fleet shares would weigh a fleet with one failure like one with four)."""
    out: dict[str, dict[str, object]] = {}
    for t in sorted({t for v in fleets for t in v["limit_projection"]}):
        figures = [v["limit_projection"][t] for v in fleets if t in v["limit_projection"]]
        scored = sum(f["failures_scored"] for f in figures)
        warned = sum(f["failures_warned_24h"] for f in figures)
        false = sum(f["false_alarm_episodes"] for f in figures)
        judged = sum(f["alert_episodes"] - f["alert_episodes_open"] for f in figures)
        out[t] = {
            "fleets": len(figures),
            "failures_scored": scored,
            "warned_24h_share": round(warned / scored, 4) if scored else None,
            "false_alarm_episodes": false,
            "alert_episodes_judged": judged,
            "false_alarm_episode_share": round(false / judged, 4) if judged else None,
        }
    return out


def run(args: argparse.Namespace, root: Path) -> dict[str, object]:
    timing: dict[str, float] = {}
    start = time.perf_counter()
    train_home, train_until, train_info = prepare_fleet(
        root, "train", args.train_machines, args.train_days, args.train_seed, args, timing
    )
    evals = [
        prepare_fleet(root, "eval", args.eval_machines, args.eval_days, seed, args, timing)
        for seed in args.eval_seeds
    ]

    t0 = time.perf_counter()
    history, signals = read_history(train_home, train_until)
    physics = fleet.fit_fleet_robust(history)
    config = fleet.FleetConfig()
    model = fleet.train_fleet_model(history, signals, physics, config)
    timing["train_s"] = time.perf_counter() - t0
    log(f"trained model {model.version[:12]} in {timing['train_s']:.1f} s")

    per_seed = {
        str(info["seed"]): {
            "eval": info,
            **evaluate_fleet(home, until, model, physics, config, args, timing),
        }
        for home, until, info in evals
    }
    losses = [v.pop("life_losses") for v in per_seed.values()]
    first = next(iter(per_seed.values()))
    out: dict[str, object] = {
        "benchmark": "simulated_phm",
        "train": train_info,
        "interval_s": args.interval_s,
        "cadence": args.cadence,
        "horizon_h": config.horizon_h,
        **first,
        "fallback": model.fallback,
        "interval_scale": model.interval_scale,
        "alert_rule_chosen_on_training": model.cv.get("alert_rule", {}),
        "per_type_held_out": model.cv.get("per_type_held_out", {}),
    }
    if len(per_seed) > 1:
        out["eval_seeds"] = [int(k) for k in per_seed]
        out["per_seed"] = per_seed
        out["mean"] = {
            k: mean
            for k in MEAN_KEYS
            if (mean := finite_mean([v[k] for v in per_seed.values()])) is not None
        }
        # a small fleet may have no hours of a type within the horizon: its mean is over the
        # fleets that have them
        types = [*sorted({t for v in per_seed.values() for t in v["rmse"]} - {"all"}), "all"]
        out["mean"]["rmse"] = {
            t: branch_means([v["rmse"][t] for v in per_seed.values() if t in v["rmse"]])
            for t in types
        }
        out["mean"]["fused_vs_ml_by_type"] = fused_vs_ml(losses)
        out["mean"]["rmse_capped_all"] = branch_means(
            [v["rmse_capped_all"] for v in per_seed.values()]
        )
        out["mean"]["alert_fixed_rules"] = [
            {
                "rule": fixed["rule"],
                **{
                    k: finite_mean([v["alert_fixed_rules"][i][k] for v in per_seed.values()])
                    for k in ("warned_24h_share", "false_alarm_episode_share", "standing_share")
                },
            }
            for i, fixed in enumerate(first["alert_fixed_rules"])
        ]
        out["mean"]["limit_projection"] = limit_projection_means(per_seed.values())
    timing["total_s"] = time.perf_counter() - start
    out["timing_s"] = {k: round(v, 2) for k, v in timing.items()}
    out["model_version"] = model.version
    out["cv_fusion"] = model.cv.get("fusion", {}).get("*", {})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-machines", type=int, default=16)
    parser.add_argument("--train-days", type=int, default=45)
    parser.add_argument("--train-seed", type=int, default=7)
    parser.add_argument("--eval-machines", type=int, default=16)
    parser.add_argument("--eval-days", type=int, default=45)
    eval_fleets = parser.add_mutually_exclusive_group()
    eval_fleets.add_argument("--eval-seed", type=int, default=8, help="one evaluation fleet")
    eval_fleets.add_argument(
        "--eval-seeds",
        type=seed_list,
        default=None,
        help="several evaluation fleets (comma-separated seeds): per-seed figures and means",
    )
    parser.add_argument("--interval-s", type=int, default=300, help="sensor sampling interval")
    parser.add_argument("--cadence", choices=("hourly", "daily"), default="hourly")
    parser.add_argument(
        "--sweep-thresholds",
        type=lambda text: [float(x) for x in text.split(",") if x],
        default=[0.3, 0.7],
        help="extra alert thresholds to score (comma-separated)",
    )
    parser.add_argument(
        "--fixed-rules",
        type=lambda text: [fixed_rule(x) for x in text.split(",") if x],
        default=[],
        metavar="H/T/W,...",
        help="alert rules to score besides the chosen one, each as probability horizon (h) / "
        "threshold / smoothing (h), e.g. 168/0.4/24: compares predictions without the rule choice",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep files here (default: temp)"
    )
    parser.add_argument(
        "--reuse-fleets",
        action="store_true",
        help="reuse fleets already simulated and ingested in --workdir (same sizes and seeds)",
    )
    args = parser.parse_args()
    args.eval_seeds = args.eval_seeds or [args.eval_seed]
    for machines, days in (
        (args.train_machines, args.train_days),
        (args.eval_machines, args.eval_days),
    ):
        try:  # the simulator's own checks, before anything is simulated
            SimConfig(machines=machines, days=days, interval_s=args.interval_s, start=START)
        except ValueError as exc:
            parser.error(str(exc))
    if args.train_seed in args.eval_seeds:
        parser.error(
            "--train-seed and --eval-seed(s) must differ: the evaluation fleet must be new"
        )
    root = args.workdir or Path(tempfile.mkdtemp(prefix="dt-bench-phm-"))
    try:
        print(json.dumps(run(args, root), default=str))
    except fleet.InsufficientHistory as exc:  # a training fleet with too few lives, said plainly
        print(f"simulated_phm: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
