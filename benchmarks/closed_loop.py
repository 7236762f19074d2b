"""Closed loop: the simulator and the platform together, run-to-failure vs preventive vs predictive.

Every policy runs the same simulated lines (same seeds), hour by hour, seeing only the past and
acting only through orders the simulated machines obey (:mod:`dt_platform.twin.closed_loop`):

* ``run_to_failure`` — nothing is ordered; failures are repaired as the simulator repairs them
  (down for a delay of 0.5-4 h and the type's repair time, then a new component);
* ``preventive`` — a planned replacement at the first planned stop after the component has run a
  fixed number of producing hours; the interval per machine type is the best of a grid by total
  cost on the **tuning seeds** (``--tune-seeds``), never on the evaluation seeds;
* ``predictive`` — the platform's own path: the fused RUL model trained on a separate training
  fleet (as ``benchmarks/simulated_phm.py`` trains it; cached in ``--cache``) predicts each
  machine hourly from its data so far, and the decision policy (``choose_action``) chooses the
  action of least expected cost; it never sees ground truth;
* ``perfect_foresight`` — knows when each component will fail and replaces it at the last
  planned stop before (the bound on what prediction can save).

The platform has ``--history-days`` of data before the loop starts (a platform in service has a
history); outcomes count ``--days`` from there. Figures: one JSON line on stdout (progress on
stderr) — per policy the means over the evaluation seeds of the line's unplanned failures,
downtime hours, planned replacement jobs, production hours lost and total cost, each with its
5th and 95th percentile over seeds (``_p05``, ``_p95``); ``predictive_vs_rtf_failure_reduction``
(target ≥ 0.7) and ``predictive_vs_preventive_cost_ratio`` (target < 1). Costs are
:class:`Costs` defaults — assumptions a manager changes (the ROI model does, from the outcomes
file ``--outcomes FILE``: raw counts per machine and seed, costs not applied).
``lookahead_check`` re-predicts a few (machine, hour) pairs from data cut at that hour and gives
the largest difference to the prediction the policy used (0: the policy saw only the past).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simulated_phm
from _args import seed_list

from dt_platform.phm import fleet
from dt_platform.phm.fitting import FleetPhysics
from dt_platform.trust.snapshot.version import code_version
from dt_platform.twin.closed_loop.loop import LineSetup, run_policy
from dt_platform.twin.closed_loop.observe import predict_machine
from dt_platform.twin.closed_loop.outcomes import (
    outcome,
    outcomes_document,
    per_seed,
    summarize,
)
from dt_platform.twin.closed_loop.policies import (
    PerfectForesight,
    Predictive,
    Preventive,
    RunToFailure,
)
from dt_platform.twin.costs import Costs

START = dt.date(2026, 1, 5)
TYPES = ("smt_placer", "reflow_oven", "cnc_spindle", "servo_drive")
DEFAULT_GRID = (50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 600.0, 800.0)
COST_NOTE = "costs are assumptions (Costs defaults); change them in the ROI model"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def trained_model(
    cache: Path, *, seed: int, machines: int, days: int, interval_s: int
) -> tuple[fleet.FleetModel, FleetPhysics]:
    """The platform's RUL model and fitted physics from a training fleet, as
    ``simulated_phm.py`` trains them; cached in ``cache`` (train once per version of the code:
    the key holds the hash of the platform's sources, so a change to the model retrains it)."""
    key = f"m{machines}-d{days}-s{seed}-i{interval_s}-{code_version().split('+src.')[-1]}"
    bundle, phys = cache / f"rul-{key}.dtrul", cache / f"physics-{key}.json"
    if bundle.is_file() and phys.is_file():
        log(f"training: cached model {bundle}")
        return fleet.FleetModel.from_bytes(bundle.read_bytes()), FleetPhysics.from_json(
            phys.read_text()
        )
    opts = argparse.Namespace(interval_s=interval_s, reuse_fleets=True)
    home, until, _ = simulated_phm.prepare_fleet(cache, "train", machines, days, seed, opts, {})
    history, signals = simulated_phm.read_history(home, until)
    physics = fleet.fit_fleet_robust(history)
    model = fleet.train_fleet_model(history, signals, physics, fleet.FleetConfig())
    bundle.write_bytes(model.to_bytes())
    phys.write_text(physics.to_json())
    log(f"training: model {model.version[:12]} trained on seed {seed}, cached in {cache}")
    return model, physics


def line_setup(args: argparse.Namespace, seed: int) -> LineSetup:
    """The simulated line of ``seed`` at the run's size, start and sampling."""
    return LineSetup.build(
        machines=args.machines,
        days=args.days,
        seed=seed,
        start=START,
        history_days=args.history_days,
        interval_s=args.interval_s,
    )


def predictor(model: fleet.FleetModel, physics: FleetPhysics):
    def predict(spec, traj, until_s: int) -> pl.DataFrame:
        return predict_machine(spec, traj, until_s, model, physics)

    return predict


def search_preventive(
    seeds: list[int], grid: tuple[float, ...], args, costs
) -> tuple[dict[str, float | None], dict]:
    """The best interval per type (producing hours; None: never replace) by total cost over
    the tuning seeds."""
    totals: dict[str, dict[str, float]] = {t: {} for t in TYPES}
    for seed in seeds:
        setup = line_setup(args, seed)
        for interval in (*grid, None):
            if interval is None:
                tracks = run_policy(setup, RunToFailure())
            else:
                policy = Preventive(dict.fromkeys(TYPES, interval))
                tracks = run_policy(setup, policy, decide_every_h=args.decide_every_h)
            for t in tracks:
                o = outcome(t)
                key = "never" if interval is None else f"{interval:g}"
                row = totals[o.machine_type]
                row[key] = row.get(key, 0.0) + _cost(o, costs)
        log(f"preventive search: tuning seed {seed} done")
    best: dict[str, float | None] = {}
    for mtype, row in totals.items():
        if not row:
            continue
        key = min(row, key=row.get)
        best[mtype] = None if key == "never" else float(key)
    return best, {t: {k: round(v, 2) for k, v in row.items()} for t, row in totals.items()}


def _cost(o, costs) -> float:
    from dt_platform.twin.closed_loop.outcomes import cost

    return cost(o, costs)


def lookahead_check(tracks, predict, rng: np.random.Generator, n: int) -> list[float]:
    """|prediction used − prediction from data cut at that hour| for ``n`` random pairs."""
    diffs = []
    for track in rng.choice(
        np.array(tracks, dtype=object), size=min(n, len(tracks)), replace=False
    ):
        w = track.window
        hours = np.arange(w.start_s + 3600, w.end_s, 3600)
        now = int(rng.choice(hours))
        ts = dt.datetime.fromtimestamp(now, dt.UTC)
        full = predict(track.spec, track.traj, w.end_s).filter(pl.col("ts") == ts)
        cut = predict(track.spec, track.traj, now).filter(pl.col("ts") == ts)
        if full.is_empty() or cut.is_empty():
            continue
        a, b = full["rul_fused_h"][0], cut["rul_fused_h"][0]
        if a is None or b is None:
            diffs.append(0.0 if a is b else float("inf"))
        else:
            diffs.append(abs(float(a) - float(b)))
    return diffs


def run(args: argparse.Namespace) -> dict:
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    costs = Costs()
    args.cache.mkdir(parents=True, exist_ok=True)
    model, physics = trained_model(
        args.cache,
        seed=args.train_seed,
        machines=args.train_machines,
        days=args.train_days,
        interval_s=args.interval_s,
    )
    timing["train_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    intervals, search = search_preventive(args.tune_seeds, tuple(args.grid), args, costs)
    timing["preventive_search_s"] = time.perf_counter() - t1
    log(f"preventive intervals (producing h): {intervals}")
    predict = predictor(model, physics)
    rng = np.random.default_rng(0)
    rows: dict[str, list] = {
        n: [] for n in ("run_to_failure", "preventive", "predictive", "perfect_foresight")
    }
    diffs: list[float] = []
    decisions = 0
    t2 = time.perf_counter()
    for seed in args.eval_seeds:
        setup = line_setup(args, seed)
        predictive = Predictive(costs=costs, horizon_h=model.config.horizon_h)
        policies = {
            "run_to_failure": RunToFailure(),
            "preventive": Preventive({t: v for t, v in intervals.items() if v is not None}),
            "predictive": predictive,
            "perfect_foresight": PerfectForesight(),
        }
        for name, policy in policies.items():
            ts = time.perf_counter()
            tracks = run_policy(
                setup,
                policy,
                decide_every_h=args.decide_every_h,
                predictor=predict if name == "predictive" else None,
            )
            rows[name] += [outcome(t) for t in tracks]
            if name == "predictive":
                decisions += predictive.decisions
                diffs += lookahead_check(tracks, predict, rng, args.lookahead_checks)
            total = per_seed([outcome(t) for t in tracks], costs)[seed]
            log(
                f"seed {seed} {name}: failures {total['unplanned_failures']:.0f}, jobs "
                f"{total['planned_jobs']:.0f}, cost {total['total_cost']:,.0f} "
                f"({time.perf_counter() - ts:.0f} s)"
            )
    timing["evaluate_s"] = time.perf_counter() - t2
    summary = {name: summarize(r, costs) for name, r in rows.items()}
    rtf, prev, pred = (summary[n] for n in ("run_to_failure", "preventive", "predictive"))
    reduction = (
        1.0 - pred["unplanned_failures"] / rtf["unplanned_failures"]
        if rtf["unplanned_failures"]
        else None
    )
    ratio = pred["total_cost"] / prev["total_cost"] if prev["total_cost"] else None
    if args.outcomes is not None:
        doc = outcomes_document(
            args.days,
            list(args.eval_seeds),
            costs,
            rows,
            {t: v for t, v in intervals.items() if v is not None},
        )
        args.outcomes.write_text(json.dumps(doc) + "\n")
        log(f"outcomes written to {args.outcomes}")
    timing["total_s"] = time.perf_counter() - t0
    return {
        "benchmark": "closed_loop",
        "seeds": list(args.eval_seeds),
        "machines": args.machines,
        "days": args.days,
        "history_days": args.history_days,
        "decide_every_h": args.decide_every_h,
        "policies": summary,
        "predictive_vs_rtf_failure_reduction": None if reduction is None else round(reduction, 4),
        "predictive_vs_preventive_cost_ratio": None if ratio is None else round(ratio, 4),
        "targets_met": {
            "failure_reduction_ge_0.7": reduction is not None and reduction >= 0.7,
            "predictive_cheaper_than_preventive": ratio is not None and ratio < 1.0,
        },
        "preventive_interval_h": intervals,
        "preventive_search": {"tune_seeds": list(args.tune_seeds), "cost_by_interval": search},
        "policy_source": "dt_platform.twin.policy",
        "predictive_decisions": decisions,
        "costs": dataclasses.asdict(costs),
        "cost_note": COST_NOTE,
        "lookahead_check": {
            "pairs": len(diffs),
            "max_abs_diff_h": round(max(diffs), 6) if diffs else None,
        },
        "model": {
            "version": model.version,
            "train_seed": args.train_seed,
            "train_machines": args.train_machines,
            "train_days": args.train_days,
            "horizon_h": model.config.horizon_h,
        },
        "timing_s": {k: round(v, 1) for k, v in timing.items()},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=16)
    parser.add_argument("--days", type=int, default=60, help="evaluated days per seed")
    parser.add_argument("--history-days", type=int, default=7)
    parser.add_argument("--eval-seeds", type=seed_list, default=[41, 42, 43, 44, 45])
    parser.add_argument("--tune-seeds", type=seed_list, default=[7, 9], help="preventive search")
    parser.add_argument("--train-seed", type=int, default=7)
    parser.add_argument("--train-machines", type=int, default=16)
    parser.add_argument("--train-days", type=int, default=45)
    parser.add_argument("--interval-s", type=int, default=300)
    parser.add_argument("--decide-every-h", type=int, default=1)
    parser.add_argument(
        "--grid",
        type=lambda text: [float(x) for x in text.split(",") if x.strip()],
        default=list(DEFAULT_GRID),
        help="preventive intervals to try (producing hours); 'never' is always tried",
    )
    parser.add_argument("--lookahead-checks", type=int, default=2, help="pairs per seed")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "dt-platform" / "closed-loop",
        help="trained model and training fleet (reused across runs)",
    )
    parser.add_argument("--outcomes", type=Path, default=None, help="write the outcomes file")
    args = parser.parse_args(argv)
    overlap = set(args.eval_seeds) & ({args.train_seed} | set(args.tune_seeds))
    if overlap:
        parser.error(f"evaluation seeds {sorted(overlap)} are also training or tuning seeds")
    if args.machines < 1 or args.days < 1:  # the seed lists are checked by seed_list
        parser.error("need at least one machine and one day")
    return args


def main(argv: list[str] | None = None) -> None:
    print(json.dumps(run(parse_args(argv)), default=str))


if __name__ == "__main__":
    main()
