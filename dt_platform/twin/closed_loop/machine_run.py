"""One machine of the closed loop, simulated from its orders: :func:`simulate_machine`.

The machine is a :class:`~dt_platform.live.machine.LiveMachine` (the live line's physics, step by
step) and obeys its orders as desired-state documents, exactly as it obeys the platform's
``DCMD`` (:meth:`~dt_platform.live.machine.LiveMachine.decide`, then ``apply``, with the machine's
reasons for rejecting one): a planned replacement job is maintenance on at its start and off at
its end (leaving maintenance renews the degrading component), a derate lowers the load and with
it the damage rate, an inspection reads the component's indicator. Failures follow the physics:
down for the repair delay and repair time, then a new component (as the simulator does).

The simulator's own planned windows (preventive tasks on other parts, inspections) stop the
machine without touching the degrading component, as in the batch run; a window that would start
while the machine is down for a repair is cancelled, as there.

Randomness is keyed by (seed, machine, grid position) or drawn in a fixed order per machine, so the
same seed and the same orders always give the same run: re-simulating a machine from its start
with one more order reproduces its past exactly and changes only what follows the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dt_platform.live.desired import Desired
from dt_platform.live.machine import MAINTENANCE_M, Applied, FailureEvent, LiveMachine
from dt_platform.sim.maintenance import MaintenanceWindow
from dt_platform.sim.registry import MachineSpec


@dataclass(frozen=True)
class Job:
    """A planned replacement of the degrading component over ``[start_s, end_s)``, ordered at
    ``issued_s``. A failure between the order and the start cancels it (the repair replaced the
    component already)."""

    start_s: int
    end_s: int
    issued_s: int


@dataclass
class Orders:
    """Everything a policy ordered for one machine."""

    jobs: list[Job] = field(default_factory=list)
    derates: list[tuple[int, float]] = field(default_factory=list)
    """(from UTC second, derate %) changes."""
    inspections: list[int] = field(default_factory=list)

    def copy(self) -> Orders:
        return Orders(list(self.jobs), list(self.derates), list(self.inspections))


@dataclass(frozen=True)
class Trajectory:
    """What happened to one machine from the start of the loop to ``t[-1] + interval``."""

    t: np.ndarray
    """(k,) UTC seconds of each reading step from the start."""
    mode: np.ndarray
    """(k,) index into :data:`dt_platform.live.machine.MODES`."""
    values: np.ndarray
    """(k, sensors) sensor readings (NaN: none)."""
    damage: np.ndarray
    """(k,) true damage (ground truth: for scoring and tests, never shown to a policy)."""
    derate: np.ndarray
    """(k,) derate % the machine ran with."""
    in_job: np.ndarray
    """(k,) True inside a planned replacement job."""
    in_window: np.ndarray
    """(k,) True inside one of the simulator's planned windows."""
    failures: tuple[FailureEvent, ...]
    """Every failure since the component in service at the start was installed."""
    jobs_done: tuple[Job, ...]
    jobs_rejected: tuple[tuple[Job, str], ...]
    """Jobs not done, with the reason (cancelled by a failure, or the machine's rejection)."""
    inspections: tuple[tuple[int, str], ...]
    """(time, finding) of each inspection done."""
    windows: tuple[MaintenanceWindow, ...]
    """The planned windows that took place."""
    installed_s: tuple[int, ...]
    """Install time of every component (the first one before the start)."""
    tags: tuple[str, ...]
    interval_s: int

    def installed_before(self, t_s: int) -> int:
        """Install time of the component in service at ``t_s``."""
        return max(s for s in self.installed_s if s <= t_s) if self.installed_s else t_s


class _Runner:
    def __init__(self, spec: MachineSpec, seed: int, interval_s: int) -> None:
        self.m = LiveMachine(spec, seed, interval_s, spec.component_installed_s)
        self.dt = interval_s
        self.version = 0
        self.chunks: list[tuple] = []
        self.installed = [spec.component_installed_s]
        self.in_job = False
        self.in_window = False
        self.pending_derate: float | None = None

    def command(self, t_s: int, *, derate: float, maintenance: bool, inspection: str) -> str | None:
        """Send a desired state effective from ``t_s``; the machine's reason if it rejects it."""
        self.version += 1
        doc = Desired(
            self.version, f"closed-loop-{self.version}", derate, maintenance, inspection, None
        )
        verdict = self.m.decide(doc, float(t_s), 0.0)
        self.m.handled_version = doc.version
        if verdict.reason is None:
            self.m.apply(doc)
        return verdict.reason

    def advance(self, until_s: int) -> None:
        """Simulate the steps before ``until_s`` and keep them."""
        r = self.m.advance_to(until_s - self.dt)
        if len(r):
            self.chunks.append(
                (
                    r,
                    self.m.applied.derate_pct if not self.m.applied.maintenance else 0.0,
                    self.in_job,
                    self.in_window,
                )
            )

    def down_at(self, t_s: int) -> bool:
        return self.m.down_until is not None and self.m.down_until > t_s

    def hold(self, on: bool) -> None:
        """Stop or restart the machine for a planned window without renewing the component (the
        batch run's windows stop it the same way); not a command of the platform."""
        a = self.m.applied
        self.m.applied = Applied(a.derate_pct, on, a.inspection)


def _events(orders: Orders, windows, start_s: int, end_s: int) -> list[tuple[int, int, object]]:
    ev: list[tuple[int, int, object]] = []
    for w in windows:
        ev += [(w.start_s, 1, ("window_on", w)), (w.end_s, 0, ("window_off", w))]
    for j in orders.jobs:
        ev += [(j.start_s, 2, ("job_on", j)), (j.end_s, 0, ("job_off", j))]
    for at, pct in orders.derates:
        ev.append((at, 3, ("derate", pct)))
    for at in orders.inspections:
        ev.append((at, 4, ("inspect", at)))
    ev = [e for e in ev if start_s <= e[0] < end_s]
    ev.sort(key=lambda e: (e[0], e[1]))
    return ev


def simulate_machine(
    spec: MachineSpec,
    seed: int,
    interval_s: int,
    start_s: int,
    end_s: int,
    windows: tuple[MaintenanceWindow, ...],
    orders: Orders,
) -> Trajectory:
    """Run one machine from its component's installation (silently up to ``start_s``) to
    ``end_s`` under ``orders``; steps from ``start_s`` on are kept."""
    if start_s % interval_s or end_s % interval_s:
        raise ValueError(f"start {start_s} and end {end_s} must lie on the {interval_s}-s grid")
    run = _Runner(spec, seed, interval_s)
    run.m.advance_to(start_s - interval_s)
    done: list[Job] = []
    rejected: list[tuple[Job, str]] = []
    inspections: list[tuple[int, str]] = []
    held_windows: list[MaintenanceWindow] = []
    active_job: Job | None = None
    active_window: MaintenanceWindow | None = None
    for t, _, (kind, what) in _events(orders, windows, start_s, end_s):
        run.advance(t)
        a = run.m.applied
        if kind == "window_on":
            if run.down_at(t) or active_window is not None:
                continue  # cancelled: the machine is down for a repair
            active_window = what
            held_windows.append(what)
            run.in_window = True
            if active_job is None:
                run.hold(True)
        elif kind == "window_off" and what is active_window:
            active_window = None
            run.in_window = False
            if active_job is None:
                run.hold(False)
                if run.pending_derate is not None:
                    run.command(
                        t, derate=run.pending_derate, maintenance=False, inspection=a.inspection
                    )
                    run.pending_derate = None
        elif kind == "job_on":
            failed = [f for f in run.m.failures if what.issued_s <= f.t_s < t]
            if failed or active_job is not None:
                reason = "cancelled: failed before the job" if failed else "busy: another job"
                rejected.append((what, reason))
                continue
            reason = run.command(t, derate=a.derate_pct, maintenance=True, inspection=a.inspection)
            if reason is not None:
                rejected.append((what, reason))
                continue
            active_job = what
            run.in_job = True
        elif kind == "job_off" and what is active_job:
            run.command(t, derate=0.0, maintenance=False, inspection=a.inspection)
            run.installed.append(t)
            done.append(what)
            active_job = None
            run.in_job = False
            run.pending_derate = None
            if active_window is not None:
                run.hold(True)
        elif kind == "derate":
            if active_job is not None or active_window is not None:
                run.pending_derate = float(what)
            elif float(what) != a.derate_pct:
                run.command(t, derate=float(what), maintenance=False, inspection=a.inspection)
        elif kind == "inspect":
            reason = run.command(
                t, derate=a.derate_pct, maintenance=a.maintenance, inspection=f"inspection-{t}"
            )
            if reason is None:
                inspections.append((t, run.m.inspection_finding or ""))
    run.advance(end_s)
    for f in run.m.failures:
        if f.repaired_s < end_s:
            run.installed.append(f.repaired_s)
    return _collect(run, done, rejected, inspections, held_windows)


def _collect(run: _Runner, done, rejected, inspections, windows) -> Trajectory:
    parts = run.chunks
    t = np.concatenate([p[0].t for p in parts])
    mode = np.concatenate([p[0].mode for p in parts])
    values = np.concatenate([p[0].values for p in parts])
    damage = np.concatenate([p[0].damage for p in parts])
    derate = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    in_job = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    in_window = np.concatenate([np.full(len(p[0]), p[3]) for p in parts]) & (mode == MAINTENANCE_M)
    return Trajectory(
        t=t,
        mode=mode,
        values=values,
        damage=damage,
        derate=derate,
        in_job=in_job,
        in_window=in_window,
        failures=tuple(run.m.failures),
        jobs_done=tuple(done),
        jobs_rejected=tuple(rejected),
        inspections=tuple(inspections),
        windows=tuple(windows),
        installed_s=tuple(sorted(set(run.installed))),
        tags=tuple(run.m.tags),
        interval_s=run.dt,
    )
