"""A machine's production plan as the closed loop sees it: planned stops and producing hours.

Planned stops are the times a replacement can be done without cutting into a production shift
more than it must: the simulator's own maintenance windows (preventive tasks and inspections,
:func:`~dt_platform.sim.maintenance.plan_maintenance`, drawn from the same random stream as the
batch run) and the starts of the operating plan's switched-off stretches (weekends of the
5.5- and 6-day weeks). Both are known in advance, so every policy may look them up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dt_platform.sim.config import rng_for
from dt_platform.sim.maintenance import MaintenanceWindow, plan_maintenance
from dt_platform.sim.registry import MachineSpec
from dt_platform.sim.schedule import OFF, PRODUCTION, SHIFT_S, shift_start

_MAINT_STREAM = 5
"""The batch run's key for a machine's maintenance plan (``sim/line.py``)."""


@dataclass(frozen=True)
class PlannedStops:
    """One machine's planned windows and stop times over ``[start_s, end_s)``."""

    windows: tuple[MaintenanceWindow, ...]
    stops: np.ndarray
    """Sorted UTC seconds at which a planned stop begins (window starts, off-stretch starts)."""

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
        off_starts = shift_start(plan.first_shift + first + begins)
        times = np.concatenate([[w.start_s for w in windows], off_starts]).astype(np.int64)
        times = np.unique(times[(times >= start_s) & (times < end_s)])
        return cls(tuple(windows), times)

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
