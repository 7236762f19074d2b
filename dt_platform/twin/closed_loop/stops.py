"""A machine's production plan as the closed loop sees it: planned stops and producing hours.

Planned stops are the times a replacement can be done without cutting into a production shift
more than it must: the simulator's own maintenance windows (preventive tasks and inspections,
:func:`~dt_platform.sim.maintenance.plan_maintenance`, drawn from the same random stream as the
batch run) and the starts of the operating plan's switched-off stretches (weekends of the
5.5- and 6-day weeks). Both are known in advance, so every policy may look them up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from dt_platform.sim.config import rng_for
from dt_platform.sim.maintenance import MaintenanceWindow, plan_maintenance
from dt_platform.sim.registry import MachineSpec
from dt_platform.sim.schedule import OFF, PRODUCTION, SHIFT_S, shift_start
from dt_platform.twin.production_plan import ProductionPlan, Shift, Window

_MAINT_STREAM = 5
"""The batch run's key for a machine's maintenance plan (``sim/line.py``)."""


@dataclass(frozen=True)
class PlannedStops:
    """One machine's planned windows and stop times over ``[start_s, end_s)``."""

    windows: tuple[MaintenanceWindow, ...]
    stops: np.ndarray
    """Sorted UTC seconds at which a planned stop begins (window starts, off-stretch starts)."""
    off: tuple[tuple[int, int], ...] = ()
    """The operating plan's switched-off stretches ``(start_s, end_s)``."""

    @classmethod
    def of(cls, spec: MachineSpec, seed: int, start_s: int, end_s: int) -> PlannedStops:
        windows = plan_maintenance(
            rng_for(seed, _MAINT_STREAM, spec.index), spec.model, start_s, end_s
        )
        plan = spec.plan
        first = max(0, int((start_s - int(shift_start(plan.first_shift))) // SHIFT_S))
        last = min(
            plan.level.size, int((end_s - int(shift_start(plan.first_shift))) // SHIFT_S) + 1
        )
        level = plan.level[first:last]
        off = level == OFF
        begins = np.flatnonzero(off & ~np.concatenate([[False], off[:-1]]))
        ends = np.flatnonzero(off & ~np.concatenate([off[1:], [False]])) + 1
        off_starts = shift_start(plan.first_shift + first + begins)
        off_ends = shift_start(plan.first_shift + first + ends)
        times = np.concatenate([[w.start_s for w in windows], off_starts]).astype(np.int64)
        times = np.unique(times[(times >= start_s) & (times < end_s)])
        stretches = tuple((int(a), int(b)) for a, b in zip(off_starts, off_ends, strict=True))
        return cls(tuple(windows), times, stretches)

    def production_plan(self, machine_id: str) -> ProductionPlan:
        """The plan as the platform's policy reads it: every hour a production hour except the
        planned windows and switched-off stretches (its planned stops); idle shifts count as
        producing, a small overstatement of what a job there would cost."""
        utc = dt.UTC
        stops = [(w.start_s, w.end_s) for w in self.windows] + list(self.off)
        return ProductionPlan(
            utc_offset_h=0.0,
            shifts=(Shift("all day", 0.0, 24.0, tuple(range(7))),),
            weekly_stops=(),
            extra_stops=tuple(
                Window(
                    dt.datetime.fromtimestamp(a, utc),
                    dt.datetime.fromtimestamp(b, utc),
                    (machine_id,),
                )
                for a, b in sorted(stops)
                if b > a
            ),
        )

    def next_stop(self, t_s: int) -> int | None:
        """The first planned stop at or after ``t_s``, or None if there is none in the plan."""
        i = int(np.searchsorted(self.stops, t_s, side="left"))
        return int(self.stops[i]) if i < self.stops.size else None

    def window_at(self, t: np.ndarray) -> np.ndarray:
        """True where ``t`` (UTC seconds) falls inside a planned window."""
        inside = np.zeros(np.shape(t), dtype=bool)
        for w in self.windows:
            inside |= (t >= w.start_s) & (t < w.end_s)
        return inside


def planned_production(spec: MachineSpec, t: np.ndarray) -> np.ndarray:
    """True where the operating plan has the machine producing at UTC seconds ``t``."""
    level, _, _ = spec.plan.at(np.asarray(t, dtype=np.int64))
    return level == PRODUCTION


def producing_hours(spec: MachineSpec, t0_s: int, t1_s: int, step_s: int = 300) -> float:
    """Hours the plan has the machine producing in ``[t0_s, t1_s)`` (sampled every ``step_s``)."""
    if t1_s <= t0_s:
        return 0.0
    t = np.arange(t0_s, t1_s, step_s, dtype=np.int64)
    return float(planned_production(spec, t).sum()) * step_s / 3600.0
