"""One machine in the loop (:class:`Track`): its orders, its run under them, and the view a
policy gets of it at a time (:class:`MachineView`) — the past only, except for the one method
the perfect-foresight bound is allowed to call.

Re-simulating from the start with the orders so far is exact (:mod:`.machine_run`): the past is
reproduced and only what follows a new order changes. Predictions are made once for the whole
run under the current orders and remade after every new order; each hourly prediction uses data
before its hour only (the platform's guarantee, checked by ``tests/twin/test_closed_loop.py``
and by the benchmark's ``lookahead_check``), so reading the prediction at ``now`` from it is what
the platform would have said live at ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from dt_platform.live.machine import DOWN_M, PRODUCTION_M
from dt_platform.sim.registry import MachineSpec
from dt_platform.twin.closed_loop.machine_run import Job, Orders, Trajectory, simulate_machine
from dt_platform.twin.closed_loop.stops import PlannedStops, planned_production

Predictor = Callable[[MachineSpec, Trajectory, int], pl.DataFrame]
"""(spec, trajectory, until_s) → hourly predictions with ``ts, rul_fused_h, rul_fused_lo_h,
rul_fused_hi_h`` (the platform's path: :func:`.observe.predict_machine` with a trained model)."""


@dataclass(frozen=True)
class LoopWindow:
    """Where the loop runs: seed, grid, the evaluated span and how far the physics runs on."""

    seed: int
    interval_s: int
    data_start_s: int
    """The platform has readings from here on (a history before the loop starts)."""
    start_s: int
    """Policies decide from here on; outcomes count from here."""
    end_s: int
    """End of the evaluated span (outcomes count events in ``[start_s, end_s)``)."""
    sim_end_s: int
    """The physics runs on to here (past ``end_s``) so the bound knows failures just after it."""


@dataclass
class Track:
    spec: MachineSpec
    window: LoopWindow
    stops: PlannedStops
    orders: Orders = field(default_factory=Orders)
    traj: Trajectory = field(init=False)
    predictions: pl.DataFrame | None = field(init=False, default=None)
    resimulations: int = field(init=False, default=0)
    last_inspection_s: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        w = self.window
        grid = np.arange(w.data_start_s, w.sim_end_s + 301, 300, dtype=np.int64)
        self._plan_t = grid
        prod = planned_production(self.spec, grid[:-1]).astype(float) * 300 / 3600.0
        self._plan_cum = np.concatenate([[0.0], np.cumsum(prod)])
        self.plan = self.stops.production_plan(self.spec.machine_id)
        self.simulate()

    def simulate(self) -> None:
        w = self.window
        self.traj = simulate_machine(
            self.spec,
            w.seed,
            w.interval_s,
            w.data_start_s,
            w.sim_end_s,
            self.stops.windows,
            self.orders,
        )
        self.predictions = None
        self.resimulations += 1
        step_h = self.traj.interval_s / 3600.0
        self._op_cum = np.concatenate([[0.0], np.cumsum(self.traj.mode == PRODUCTION_M) * step_h])

    def order(
        self,
        *,
        job: Job | None = None,
        drop: Job | None = None,
        derate: tuple[int, float] | None = None,
        inspection: int | None = None,
    ) -> None:
        if drop is not None:
            self.orders.jobs.remove(drop)
        if job is not None:
            self.orders.jobs.append(job)
        if derate is not None:
            self.orders.derates.append(derate)
        if inspection is not None:
            self.orders.inspections.append(inspection)
            self.last_inspection_s = inspection
        self.simulate()

    # --- helpers for views --------------------------------------------------------------------
    def _index(self, t_s: int) -> int:
        """Number of reading steps before ``t_s``."""
        return int(np.searchsorted(self.traj.t, t_s, side="left"))

    def producing_hours(self, t0_s: int, t1_s: int) -> float:
        """Planned producing hours in ``[t0_s, t1_s)`` (the operating plan; clipped to the run)."""
        i0, i1 = (
            int(np.clip((t - self.window.data_start_s) // 300, 0, self._plan_cum.size - 1))
            for t in (t0_s, t1_s)
        )
        extra = 0.0
        if t1_s > self.window.sim_end_s:  # beyond the run: the plan's average share
            share = self._plan_cum[-1] / max((self._plan_t[-1] - self._plan_t[0]) / 3600.0, 1.0)
            extra = share * (t1_s - max(t0_s, self.window.sim_end_s)) / 3600.0
        return float(self._plan_cum[i1] - self._plan_cum[i0]) + extra


class MachineView:
    """What a policy may know about one machine at ``now_s``."""

    def __init__(self, track: Track, now_s: int, busy_crews: int, predictor: Predictor | None):
        self._track = track
        self._predictor = predictor
        self.now_s = now_s
        self.busy_crews = busy_crews
        self.spec = track.spec
        self.machine_id = track.spec.machine_id
        self.machine_type = track.spec.type
        self.stops = track.stops
        self.plan = track.plan
        """The production plan the platform knows (its planned stops), for the policy."""

    # the twin's reported state and the maintenance log, both before now
    def mode(self) -> int:
        """Reported mode of the last reading before now."""
        i = self._track._index(self.now_s)
        return int(self._track.traj.mode[i - 1]) if i else PRODUCTION_M

    def down(self) -> bool:
        return self.mode() == DOWN_M

    def installed_s(self) -> int:
        """When the component in service was installed (the log before now)."""
        return self._track.traj.installed_before(self.now_s)

    def operating_hours(self) -> float:
        """Producing hours of the component in service (the machine's hour meter) before now."""
        t = self._track
        i_now = t._index(self.now_s)
        i_inst = t._index(self.installed_s())
        before = 0.0
        if self.installed_s() < t.window.data_start_s:  # before the data: the plan's hours
            before = producing_hours_plan(t.spec, self.installed_s(), t.window.data_start_s)
        return float(t._op_cum[i_now] - t._op_cum[i_inst]) + before

    def pending_job(self) -> Job | None:
        """A job this policy ordered that has not ended yet."""
        jobs = [
            j for j in self._track.orders.jobs if j.end_s > self.now_s and j.issued_s <= self.now_s
        ]
        return min(jobs, key=lambda j: j.start_s) if jobs else None

    def last_replacement_s(self) -> int:
        return self.installed_s()

    def current_derate(self) -> float:
        since = self.installed_s()
        ds = [d for at, d in sorted(self._track.orders.derates) if since <= at <= self.now_s]
        return ds[-1] if ds else 0.0

    def last_inspection_s(self) -> int | None:
        return self._track.last_inspection_s

    def producing_hours(self, t0_s: int, t1_s: int) -> float:
        return self._track.producing_hours(t0_s, t1_s)

    def prediction(self) -> dict | None:
        """The platform's fused RUL at now (data before now), or None if it has none."""
        t = self._track
        if self._predictor is None:
            raise RuntimeError("this loop runs without the platform's predictions")
        if t.predictions is None:
            t.predictions = self._predictor(t.spec, t.traj, t.window.end_s)
        hour = self.now_s - self.now_s % 3600
        ts = dt.datetime.fromtimestamp(hour, dt.UTC)
        row = t.predictions.filter(pl.col("ts") == ts)
        if row.is_empty() or row["rul_fused_h"][0] is None:
            return None
        return row.row(0, named=True)

    # ground truth: only the perfect-foresight bound calls this
    def true_failure_after(self) -> int | None:
        """GROUND TRUTH: when the component in service fails under the current orders."""
        fails = [f.t_s for f in self._track.traj.failures if f.t_s >= self.now_s]
        return min(fails) if fails else None


def producing_hours_plan(spec: MachineSpec, t0_s: int, t1_s: int) -> float:
    if t1_s <= t0_s:
        return 0.0
    t = np.arange(t0_s, t1_s, 600, dtype=np.int64)
    return float(planned_production(spec, t).sum()) * 600 / 3600.0
