"""Hybrid RUL on the simulated phone line: train on one fleet, predict another, score against truth.

The platform's own path, end to end, on two simulated fleets with different seeds:

1. simulate a training fleet and a separate evaluation fleet (:func:`dt_platform.sim.simulate_line`);
2. load each through the ingestion functions (registry, dumps, maintenance log, daily telemetry);
3. fit the damage laws on the training fleet and train the data branch and the fuser
   (:func:`~dt_platform.phm.fleet.fit_fleet_robust`, :func:`~dt_platform.phm.fleet.train_fleet_model`);
4. on the evaluation fleet, predict every hour (``--cadence hourly``) or at every UTC midnight
   (``daily``, as the daily partitions do) with the training fleet's models; every prediction at
   ``ts`` uses data before ``ts`` only;
5. score against the evaluation fleet's ground truth, which the platform never reads.

Figures (one JSON line on stdout; progress on stderr):

* ``rmse`` — ``{type: {physics, ml, fused}}`` in hours, over prediction times where the true RUL
  is at most the horizon (336 h, the range the model is built for) and both branches have a value;
  ``rmse["all"]`` pools the types.
* ``coverage_90`` — share of those rows whose true RUL is inside the fused 90 % interval.
* alerts, with the platform's rule (P(RUL ≤ 72 h) ≥ 0.5): ``alert_lead_time_h`` is the median
  warning time over the failures in the evaluation window (the start of the uninterrupted run of
  alerting predictions that reaches the failure; a failure without an alert just before it counts
  0 h); ``warned_24h_share`` the share of failures warned at least 24 h ahead;
  ``false_alarm_rate`` the share of alerting predictions not followed by a failure of that
  machine within the 72 h horizon (:func:`~dt_platform.phm.alerts.false_alarm_rate`).
  ``alert_sweep`` repeats the three for other thresholds (``--sweep-thresholds``).
* ``rmse_capped_all`` — RMSE against the true RUL capped at 336 h over *all* prediction times
  (also those far from failure): the fuser is fitted for the horizon, so beyond it the fused
  value runs low (a lower estimate); this figure shows that cost.
* ``timing_s`` — simulate, ingest, train, predict and total seconds.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dt_platform.phm import alerts, fleet
from dt_platform.phm.damage import damage_trajectory
from dt_platform.phm.episodes import load_history
from dt_platform.phm.scoring import coverage, rmse

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
    from dt_platform.sim import SimConfig, simulate_line
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


def score_alerts(
    predictions: pl.DataFrame, truth_dir: Path, rule: alerts.AlertRule
) -> dict[str, object]:
    evaluated = alerts.evaluate_alerts(predictions, rule).select("machine_id", "ts", "alert")
    failures = (
        pl.read_parquet(truth_dir / "failures.parquet")
        .sort("machine_id", "failed_at")
        .with_columns(pl.col("repair_finished_at").shift(1).over("machine_id").alias("life_start"))
        .filter(pl.col("in_window"))
    )
    leads = alerts.lead_times(evaluated, failures.select("machine_id", "failed_at", "life_start"))
    scored = leads.filter(pl.col("evaluated"))
    lead = scored["lead_h"].to_numpy()
    all_failures = pl.read_parquet(truth_dir / "failures.parquet").select("machine_id", "failed_at")
    return {
        "alert_rule": {"horizon_h": rule.horizon_h, "threshold": rule.threshold},
        "failures_in_window": failures.height,
        "failures_scored": int(lead.size),
        "failures_missed": int((lead == 0).sum()),
        "alert_lead_time_h": round(float(np.median(lead)), 2) if lead.size else None,
        "warned_24h_share": round(float(np.mean(lead >= 24.0)), 4) if lead.size else None,
        "false_alarm_rate": round(
            alerts.false_alarm_rate(evaluated, all_failures, rule.horizon_h), 4
        ),
        "alerting_predictions": int(evaluated["alert"].sum()),
        "predictions": evaluated.height,
    }


def run(args: argparse.Namespace, root: Path) -> dict[str, object]:
    timing: dict[str, float] = {}
    start = time.perf_counter()
    homes = {"train": root / "train", "eval": root / "eval"}
    info: dict[str, dict] = {}
    ends: dict[str, dt.datetime] = {}
    for name, machines, days, seed in (
        ("train", args.train_machines, args.train_days, args.train_seed),
        ("eval", args.eval_machines, args.eval_days, args.eval_seed),
    ):
        log(f"{name}: simulating {machines} machines x {days} days (seed {seed}) and ingesting")
        ends[name], summary, t = simulate_and_ingest(
            homes[name], machines=machines, days=days, seed=seed, interval_s=args.interval_s
        )
        for k, v in t.items():
            timing[f"{k}_s"] = timing.get(f"{k}_s", 0.0) + v
        info[name] = {
            "machines": machines,
            "days": days,
            "seed": seed,
            "failures": summary["failures"],
        }

    t0 = time.perf_counter()
    history, signals = read_history(homes["train"], ends["train"])
    physics = fleet.fit_fleet_robust(history)
    config = fleet.FleetConfig()
    model = fleet.train_fleet_model(history, signals, physics, config)
    timing["train_s"] = time.perf_counter() - t0
    log(f"trained model {model.version[:12]} in {timing['train_s']:.1f} s")

    t0 = time.perf_counter()
    eval_history, eval_signals = read_history(homes["eval"], ends["eval"])
    trajectory = damage_trajectory(eval_history, physics)
    base = fleet.assemble_base(
        eval_signals, trajectory, end=ends["eval"], lives=fleet.lives_table(eval_history)
    )
    predictions = model.predict(base)
    if args.cadence == "daily":
        predictions = predictions.filter(pl.col("ts").dt.hour() == 0)
    timing["predict_s"] = time.perf_counter() - t0
    log(f"predicted {predictions.height} rows in {timing['predict_s']:.1f} s")

    truth = (
        pl.read_parquet(homes["eval"] / "ground_truth" / "damage.parquet")
        .filter(pl.col("state") != "down")
        .select("machine_id", "ts", pl.col("rul_h").alias("true_rul_h"))
    )
    scored = predictions.join(truth, on=["machine_id", "ts"], how="inner").filter(
        pl.col("true_rul_h").is_not_null()
        & (pl.col("true_rul_h") <= config.horizon_h)
        & pl.col("rul_physics_h").is_not_null()
        & pl.col("rul_ml_h").is_not_null()
    )
    y = scored["true_rul_h"]
    out: dict[str, object] = {
        "benchmark": "simulated_phm",
        "train": info["train"],
        "eval": info["eval"],
        "interval_s": args.interval_s,
        "cadence": args.cadence,
        "horizon_h": config.horizon_h,
        "rmse": score_rmse(scored),
        "coverage_90": round(coverage(scored["rul_fused_lo_h"], scored["rul_fused_hi_h"], y), 4),
        "coverage_90_physics": round(
            coverage(scored["rul_physics_lo_h"], scored["rul_physics_hi_h"].fill_null(1e12), y), 4
        ),
        "mean_w_physics": round(float(scored["w_physics"].mean()), 4),
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
    truth_dir = homes["eval"] / "ground_truth"
    out.update(score_alerts(predictions, truth_dir, alerts.AlertRule()))
    out["alert_sweep"] = []
    for threshold in args.sweep_thresholds:
        rule = alerts.AlertRule(threshold=threshold, critical=max(threshold, 0.9))
        figures = score_alerts(predictions, truth_dir, rule)
        out["alert_sweep"].append(
            {
                "threshold": threshold,
                **{
                    k: figures[k]
                    for k in ("alert_lead_time_h", "warned_24h_share", "false_alarm_rate")
                },
            }
        )
    timing["total_s"] = time.perf_counter() - start
    out["timing_s"] = {k: round(v, 2) for k, v in timing.items()}
    out["model_version"] = model.version
    out["cv_fusion"] = model.cv.get("fusion", {}).get("*", {})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-machines", type=int, default=16)
    parser.add_argument("--train-days", type=int, default=45)
    parser.add_argument("--train-seed", type=int, default=7)
    parser.add_argument("--eval-machines", type=int, default=16)
    parser.add_argument("--eval-days", type=int, default=45)
    parser.add_argument("--eval-seed", type=int, default=8)
    parser.add_argument("--interval-s", type=int, default=300, help="sensor sampling interval")
    parser.add_argument("--cadence", choices=("hourly", "daily"), default="hourly")
    parser.add_argument(
        "--sweep-thresholds",
        type=lambda text: [float(x) for x in text.split(",") if x],
        default=[0.3, 0.7],
        help="extra alert thresholds to score (comma-separated)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep files here (default: temp)"
    )
    args = parser.parse_args()
    if args.train_seed == args.eval_seed:
        parser.error("--train-seed and --eval-seed must differ: the evaluation fleet must be new")
    root = args.workdir or Path(tempfile.mkdtemp(prefix="dt-bench-phm-"))
    try:
        print(json.dumps(run(args, root), default=str))
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
