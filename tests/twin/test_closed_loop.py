"""The closed loop's pieces: machines obey orders, outcomes count what happened, policies see
only the past; and on one small seed the predictive policy beats run-to-failure."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dt_platform.live.machine import DOWN_M, MAINTENANCE_M
from dt_platform.sim.schedule import OFF
from dt_platform.twin.closed_loop.loop import LineSetup, run_policy
from dt_platform.twin.closed_loop.machine_run import Job, Orders, simulate_machine
from dt_platform.twin.closed_loop.outcomes import (
    FORMAT,
    cost,
    outcome,
    outcomes_document,
    summarize,
)
from dt_platform.twin.closed_loop.policies import (
    PerfectForesight,
    Predictive,
    Preventive,
    RunToFailure,
)
from dt_platform.twin.closed_loop.track import Track
from dt_platform.twin.costs import Capacity, Costs

REPO = Path(__file__).resolve().parents[2]
START = dt.date(2026, 1, 5)
H = 3600


@pytest.fixture(scope="module")
def line() -> LineSetup:
    # seed 33: 4 failures of 4 machines in 30 days when nothing is done
    return LineSetup.build(machines=4, days=30, seed=33, start=START)


def _run(line: LineSetup, index: int, orders: Orders):
    w = line.window
    spec = line.specs[index]
    return simulate_machine(
        spec,
        w.seed,
        w.interval_s,
        w.data_start_s,
        w.sim_end_s,
        line.stops[spec.machine_id].windows,
        orders,
    )


def _track(line: LineSetup, index: int, orders: Orders | None = None) -> Track:
    spec = line.specs[index]
    track = Track(spec, line.window, line.stops[spec.machine_id])
    if orders is not None:
        track.orders = orders
        track.simulate()
    return track


def _first_failure(line: LineSetup, index: int) -> int:
    traj = _run(line, index, Orders())
    return min(f.t_s for f in traj.failures if f.t_s >= line.window.start_s)


def test_a_maintenance_job_renews_the_component_and_costs_a_planned_job(line):
    fail = _first_failure(line, 0)
    start = fail - 48 * H - (fail % 300)
    job = Job(start, start + 2 * H, start - H)
    free = _run(line, 0, Orders())
    traj = _run(line, 0, Orders(jobs=[job]))
    before = traj.t < start
    # the past is reproduced exactly; only what follows the order changes
    assert np.array_equal(traj.values[before], free.values[before], equal_nan=True)
    during = (traj.t >= start) & (traj.t < job.end_s)
    assert (traj.mode[during] == MAINTENANCE_M).all() and traj.in_job[during].all()
    assert traj.damage[before][-1] > 0.5
    assert traj.damage[traj.t >= job.end_s][0] < 0.05  # a new component
    assert job.end_s in traj.installed_s
    assert not any(start - 48 * H <= f.t_s < fail + 24 * H for f in traj.failures)
    o = outcome(_track(line, 0, Orders(jobs=[job])))
    assert o.planned_jobs == 1
    assert o.downtime_h >= 2.0
    costs = Costs()
    no_failure = dataclasses.replace(o, unplanned_failures=0)
    assert cost(no_failure, costs) == pytest.approx(
        costs.planned_job + o.production_lost_h * costs.lost_production_per_h
    )


def test_a_failure_costs_an_unplanned_one_and_its_repair_time(line):
    track = _track(line, 0)
    o = outcome(track)
    assert o.unplanned_failures >= 1 and o.planned_jobs == 0
    f = next(f for f in track.traj.failures if f.t_s >= line.window.start_s)
    down = (track.traj.t >= f.t_s) & (track.traj.t < f.repaired_s)
    assert (track.traj.mode[down] == DOWN_M).all()
    assert o.downtime_h >= (f.repaired_s - f.t_s) / H - 0.1
    costs = Costs()
    assert cost(o, costs) >= o.unplanned_failures * costs.unplanned_failure
    assert f.repaired_s in track.traj.installed_s


def test_a_failure_before_a_planned_job_cancels_it(line):
    fail = _first_failure(line, 0)
    start = fail + 48 * H - fail % 300  # after the repair: the order came before the failure
    job = Job(start, start + 2 * H, fail - 24 * H)
    traj = _run(line, 0, Orders(jobs=[job]))
    assert traj.jobs_done == ()
    assert traj.jobs_rejected and traj.jobs_rejected[0][1].startswith("cancelled")


def test_a_derate_slows_the_damage(line):
    w = line.window
    at = w.start_s
    free = _run(line, 2, Orders())
    derated = _run(line, 2, Orders(derates=[(at, 40.0)]))
    cut = (free.t >= at) & (free.t < at + 7 * 86400)
    gain_free = free.damage[cut][-1] - free.damage[cut][0]
    gain_derated = derated.damage[cut][-1] - derated.damage[cut][0]
    assert 0 < gain_derated < gain_free
    assert (derated.derate[cut & (derated.mode != MAINTENANCE_M)] == 40.0).all()


def test_planned_stops_are_windows_and_switched_off_shifts(line):
    spec = line.specs[1]
    stops = line.stops[spec.machine_id]
    assert stops.stops.size > 0 and np.all(np.diff(stops.stops) > 0)
    starts = {w.start_s for w in stops.windows}
    for s in stops.stops:
        level, _, _ = spec.plan.at(np.array([s]))
        assert s in starts or level[0] == OFF
    t = line.window.start_s + 3 * 86400
    assert stops.next_stop(t) >= t


def test_preventive_replaces_at_the_first_stop_after_its_interval(line):
    tracks = run_policy(line, Preventive(dict.fromkeys(("smt_placer", "reflow_oven"), 100.0)))
    smt = next(t for t in tracks if t.spec.type == "smt_placer")
    assert smt.traj.jobs_done
    stops = set(line.stops[smt.spec.machine_id].stops.tolist())
    assert all(j.start_s in stops for j in smt.traj.jobs_done)
    cnc = next(t for t in tracks if t.spec.type == "cnc_spindle")
    assert cnc.traj.jobs_done == ()  # no interval for its type: never replaced


def test_perfect_foresight_prevents_every_failure_in_the_window(line):
    rtf = [outcome(t) for t in run_policy(line, RunToFailure())]
    bound = [outcome(t) for t in run_policy(line, PerfectForesight())]
    assert sum(o.unplanned_failures for o in rtf) >= 3
    assert sum(o.unplanned_failures for o in bound) == 0
    costs = Costs()
    assert summarize(bound, costs)["total_cost"] < summarize(rtf, costs)["total_cost"]


def test_the_policy_view_hides_the_future(line):
    """A policy reading its view at ``now`` gets the same answers whatever happens after now."""
    fail = _first_failure(line, 0)
    now = fail - 30 * H - fail % H
    later = Job(now + 5 * H, now + 7 * H, now + 2 * H)  # ordered after now
    seen = []

    class Spy:
        name = "spy"

        def decide(self, view):
            if view.now_s == now:
                seen.append((view.mode(), view.operating_hours(), view.installed_s()))
            return None

    from dt_platform.twin.closed_loop.track import MachineView

    for orders in (Orders(), Orders(jobs=[later])):
        track = _track(line, 0, orders)
        Spy().decide(MachineView(track, now, 0, None))
    assert seen[0] == seen[1]


def test_the_policy_plans_with_the_machines_own_planned_stops(line):
    """The platform's policy is given the production plan the machine really runs: its next
    planned stop is the simulator's, and no producing hour is counted inside a stop."""
    from dt_platform.twin.closed_loop.policies import decision_context
    from dt_platform.twin.closed_loop.track import MachineView

    track = _track(line, 0)
    stops = track.stops.stops
    now = int(stops[1]) - 6 * H  # six hours before a planned stop
    ctx = decision_context(MachineView(track, now, 0, None), Capacity())
    assert ctx.next_planned_stop == dt.datetime.fromtimestamp(int(stops[1]), dt.UTC)
    window = next(w for w in track.stops.windows if w.end_s - w.start_s >= 2 * H)
    at = dt.datetime.fromtimestamp(window.start_s, dt.UTC)
    inside = ctx.plan.producing_hours(at, at + dt.timedelta(hours=2), track.spec.machine_id)
    assert inside == 0.0


def test_outcomes_document_has_the_shared_format(line):
    rows = [outcome(t) for t in run_policy(line, RunToFailure())]
    doc = outcomes_document(30, [33], Costs(), {"run_to_failure": rows}, {})
    text = json.dumps(doc)
    back = json.loads(text)
    assert back["format"] == FORMAT and back["days"] == 30 and back["seeds"] == [33]
    row = back["policies"]["run_to_failure"][0]
    assert set(row) == {
        "seed",
        "machine_id",
        "machine_type",
        "machine_years",
        "unplanned_failures",
        "planned_jobs",
        "inspections",
        "downtime_h",
        "production_lost_h",
        "derate_pct_h",
    }
    assert back["costs"]["unplanned_failure"] == 20_000


# --- with the platform's trained model (slow: trains it once) ---------------------------------


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import closed_loop as bench

    cache = tmp_path_factory.mktemp("closed-loop-cache")
    model, physics = bench.trained_model(cache, seed=7, machines=16, days=45, interval_s=300)
    return model, bench.predictor(model, physics)


@pytest.mark.slow
def test_predictions_at_a_time_use_no_reading_after_it(line, platform):
    _, predict = platform
    fail = _first_failure(line, 0)
    job_at = fail + 5 * 86400 - fail % H  # a replacement after the repair: both events in the data
    track = _track(line, 0, Orders(jobs=[Job(job_at, job_at + 2 * H, job_at - 86400)]))
    full = predict(track.spec, track.traj, line.window.end_s)
    for now in (fail - 20 * H - fail % H, fail + 3 * H - fail % H, job_at + 6 * H):
        ts = dt.datetime.fromtimestamp(now, dt.UTC)
        cut = predict(track.spec, track.traj, now)
        a = full.filter(pl.col("ts") == ts).row(0, named=True)
        b = cut.filter(pl.col("ts") == ts).row(0, named=True)
        assert a == b, f"prediction at {ts} changed when the data after it was cut"
    # and the prediction does change with data after the cut (the check can fail)
    late = full.filter(pl.col("ts") > dt.datetime.fromtimestamp(job_at + 6 * H, dt.UTC))
    assert late["rul_fused_h"].n_unique() > 1


@pytest.mark.slow
def test_predictive_beats_run_to_failure_on_one_small_seed(line, platform):
    model, predict = platform
    costs = Costs()
    rtf = [outcome(t) for t in run_policy(line, RunToFailure())]
    policy = Predictive(costs=costs, horizon_h=model.config.horizon_h)
    pred = [outcome(t) for t in run_policy(line, policy, predictor=predict)]
    assert policy.decisions > 0
    rtf_s, pred_s = summarize(rtf, costs), summarize(pred, costs)
    assert pred_s["unplanned_failures"] < rtf_s["unplanned_failures"]
    assert pred_s["total_cost"] <= rtf_s["total_cost"]
