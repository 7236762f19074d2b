"""The closed loop: every machine of a simulated line under one policy, decision by decision.

:func:`run_policy` builds the line of a seed (:func:`~dt_platform.sim.registry.build_machines`,
the simulator's machines and plans), then walks the decision times in order; at each one every
machine's policy sees its :class:`~.track.MachineView` (the past) and may order a job, a derate
or an inspection, which the machine obeys from then on (:mod:`.machine_run`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from dt_platform.sim.config import SimConfig
from dt_platform.sim.registry import build_machines
from dt_platform.twin.closed_loop.stops import PlannedStops
from dt_platform.twin.closed_loop.track import LoopWindow, MachineView, Predictor, Track

HISTORY_DAYS = 7
"""Days of data the platform has before the loop starts: predictions made on the first hours of
a machine's data rest on almost nothing, and a platform in service has a history."""
MARGIN_DAYS = 14
"""The physics runs this far past the evaluated span, so the bound sees failures just after it."""


@dataclass(frozen=True)
class LineSetup:
    """A simulated line for the loop: its machines and the span it runs over."""

    window: LoopWindow
    specs: tuple
    stops: dict[str, PlannedStops]

    @classmethod
    def build(
        cls,
        *,
        machines: int,
        days: int,
        seed: int,
        start: dt.date,
        history_days: int = HISTORY_DAYS,
        interval_s: int = 300,
    ) -> LineSetup:
        """The line of ``seed``: data from ``start``, the loop from ``history_days`` later for
        ``days`` days."""
        config = SimConfig(
            machines=machines,
            days=history_days + days + MARGIN_DAYS,
            seed=seed,
            start=start,
            interval_s=interval_s,
        )
        data_start_s = config.start_epoch_s()
        start_s = data_start_s + history_days * 86400
        end_s = start_s + days * 86400
        window = LoopWindow(seed, interval_s, data_start_s, start_s, end_s, config.end_epoch_s())
        specs = tuple(build_machines(config))
        stops = {
            s.machine_id: PlannedStops.of(s, seed, data_start_s, window.sim_end_s) for s in specs
        }
        return cls(window, specs, stops)


def run_policy(
    setup: LineSetup,
    policy,
    *,
    decide_every_h: float = 1.0,
    predictor: Predictor | None = None,
    machines: Sequence[str] | None = None,
) -> list[Track]:
    """Run ``policy`` over the line; the tracks hold each machine's orders and run."""
    w = setup.window
    tracks = [
        Track(s, w, setup.stops[s.machine_id])
        for s in setup.specs
        if machines is None or s.machine_id in machines
    ]
    step = int(decide_every_h * 3600)
    if step < 3600 or step % 3600:
        raise ValueError(f"decide_every_h {decide_every_h} must be a whole number of hours >= 1")
    if getattr(policy, "passive", False):
        return tracks
    for now in range(w.start_s + step, w.end_s, step):
        busy = sum(1 for t in tracks for j in t.orders.jobs if j.start_s <= now < j.end_s)
        for track in tracks:
            order = policy.decide(MachineView(track, now, busy, predictor))
            if order is None:
                continue
            track.order(
                job=order.job,
                drop=order.drop,
                derate=(now, order.derate) if order.derate is not None else None,
                inspection=now if order.inspect else None,
            )
    return tracks
