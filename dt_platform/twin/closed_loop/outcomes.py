"""What each machine's run cost: raw counts and hours per machine (the outcomes file of issue 14,
read by the ROI model), costs applied to them, and summaries over seeds.

Definitions, over the evaluated span ``[start, end)``:

* ``unplanned_failures`` — failures of the degrading component;
* ``planned_jobs`` — planned replacements done (maintenance on → off);
* ``inspections`` — inspections done;
* ``downtime_h`` — hours down for a repair (delay and repair) or in a planned job;
* ``production_lost_h`` — of those, hours the operating plan had the machine producing, outside
  the simulator's own planned windows (those stop every policy's machines alike);
* ``derate_pct_h`` — derate % × producing hours.

Costs (:class:`Costs`, per event and per hour) are assumptions a manager changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dt_platform.live.machine import DOWN_M, PRODUCTION_M
from dt_platform.twin.closed_loop.stops import planned_production
from dt_platform.twin.closed_loop.track import Track

FORMAT = "dt-closed-loop-outcomes/1"


@dataclass(frozen=True)
class MachineOutcome:
    seed: int
    machine_id: str
    machine_type: str
    machine_years: float
    unplanned_failures: int
    planned_jobs: int
    inspections: int
    downtime_h: float
    production_lost_h: float
    derate_pct_h: float

    def as_row(self) -> dict:
        return asdict(self)


def outcome(track: Track) -> MachineOutcome:
    """Count one machine's run over the evaluated span."""
    w = track.window
    traj = track.traj
    inside = (traj.t >= w.start_s) & (traj.t < w.end_s)
    step_h = traj.interval_s / 3600.0
    stopped = inside & ((traj.mode == DOWN_M) | traj.in_job)
    wanted = planned_production(track.spec, traj.t) & ~traj.in_window
    producing = inside & (traj.mode == PRODUCTION_M)
    return MachineOutcome(
        seed=w.seed,
        machine_id=track.spec.machine_id,
        machine_type=track.spec.type,
        machine_years=round((w.end_s - w.start_s) / (365.25 * 86400), 6),
        unplanned_failures=sum(w.start_s <= f.t_s < w.end_s for f in traj.failures),
        planned_jobs=sum(w.start_s <= j.start_s < w.end_s for j in traj.jobs_done),
        inspections=sum(w.start_s <= t < w.end_s for t, _ in traj.inspections),
        downtime_h=round(float(stopped.sum()) * step_h, 4),
        production_lost_h=round(float((stopped & wanted).sum()) * step_h, 4),
        derate_pct_h=round(float((traj.derate * producing).sum()) * step_h, 4),
    )


def cost(o: MachineOutcome | dict, costs) -> float:
    """Total cost of an outcome (or a sum of outcomes as a dict) with ``costs``."""
    g = o.as_row() if isinstance(o, MachineOutcome) else o
    return (
        g["unplanned_failures"] * costs.unplanned_failure
        + g["planned_jobs"] * costs.planned_job
        + g["inspections"] * costs.inspection
        + g["production_lost_h"] * costs.lost_production_per_h
        + g["derate_pct_h"] * costs.derate_loss_per_pct_h
    )


SUMMED = (
    "unplanned_failures",
    "planned_jobs",
    "inspections",
    "downtime_h",
    "production_lost_h",
    "derate_pct_h",
)


def per_seed(outcomes: list[MachineOutcome], costs) -> dict[int, dict[str, float]]:
    """The line's totals per seed (and ``total_cost``)."""
    out: dict[int, dict[str, float]] = {}
    for o in outcomes:
        g = out.setdefault(o.seed, dict.fromkeys(SUMMED, 0.0))
        for k in SUMMED:
            g[k] += getattr(o, k)
    for g in out.values():
        g["total_cost"] = cost(g, costs)
    return out


def summarize(outcomes: list[MachineOutcome], costs) -> dict[str, float]:
    """Mean over seeds of the line's totals and their 5th / 95th percentiles (``_p05``, ``_p95``).

    ``maintenance_jobs`` is ``planned_jobs`` under the issue's name.
    """
    seeds = per_seed(outcomes, costs)
    out: dict[str, float] = {}
    names = {"planned_jobs": "maintenance_jobs"}
    for k in (*SUMMED, "total_cost"):
        values = np.array([g[k] for g in seeds.values()], dtype=float)
        name = names.get(k, k)
        out[name] = round(float(values.mean()), 2)
        out[f"{name}_p05"] = round(float(np.percentile(values, 5)), 2)
        out[f"{name}_p95"] = round(float(np.percentile(values, 95)), 2)
    return out


def outcomes_document(
    days: int,
    seeds: list[int],
    costs,
    policies: dict[str, list[MachineOutcome]],
    preventive_interval_h: dict[str, float],
) -> dict:
    """The outcomes file (format ``dt-closed-loop-outcomes/1``): raw rows, costs not applied."""
    return {
        "format": FORMAT,
        "days": days,
        "seeds": seeds,
        "costs": asdict(costs),
        "policies": {name: [o.as_row() for o in rows] for name, rows in policies.items()},
        "preventive_interval_h": preventive_interval_h,
    }
