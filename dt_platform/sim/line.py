"""The run loop: each machine's components degrade, fail, get repaired, over three phases.

1. history — from the installation of the component in service at the start, unobserved, on a
   10-minute grid (gives components a realistic age at the start);
2. the observed window [start, end) on the ``interval_s`` grid, with maintenance and sensors;
3. the RUL horizon — past the end, unobserved, until the component in service fails (or the
   horizon ends): this gives every observed component a true remaining life.

Inside a phase, time is cut into blocks at every outside change (planned maintenance, a command,
a repair); each block is one vectorized call of the machine physics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dt_platform.sim.config import Command, SimConfig, rng_for
from dt_platform.sim.machines import Params
from dt_platform.sim.maintenance import MaintenanceWindow, WorkOrder, plan_maintenance
from dt_platform.sim.registry import COARSE_DT_S, MachineSpec
from dt_platform.sim.schedule import IDLE, OFF, PRODUCTION

DOWN, MAINTENANCE, HOLD = 3, 4, 5
MODE_NAMES = {
    OFF: "off",
    IDLE: "idle",
    PRODUCTION: "production",
    DOWN: "down",
    MAINTENANCE: "maintenance",
    HOLD: "hold",
}


@dataclass
class ComponentLife:
    component_no: int
    installed_s: int
    params: Params
    failed_s: int | None = None
    """Failure time, if it failed before the end of the observed window."""
    projected_failure_s: int | None = None
    """Failure time past the end (RUL horizon), for the component in service at the end."""
    removed_s: int | None = None
    mode: str | None = None


@dataclass(frozen=True)
class Failure:
    machine_id: str
    component_no: int
    failed_s: int
    mode: str
    notes: str
    repair_start_s: int
    repair_end_s: int


@dataclass
class MachineRun:
    """What happened to one machine; arrays are on the observed grid."""

    spec: MachineSpec
    t: np.ndarray
    mode: np.ndarray
    damage: np.ndarray
    component_no: np.ndarray
    true_values: np.ndarray
    """(steps, sensors) noise-free sensor values in catalogue order of the model's sensors."""
    components: list[ComponentLife] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    work_orders: list[WorkOrder] = field(default_factory=list)

    def failure_time_of(self, component_no: int) -> int | None:
        c = self.components[component_no]
        return c.failed_s if c.failed_s is not None else c.projected_failure_s


def _command_state(commands: Sequence[tuple[int, Command]], t: int) -> tuple[float, bool]:
    derate, hold = 1.0, False
    for at_s, c in commands:
        if at_s > t:
            break
        if c.kind == "derate":
            derate = c.value
        elif c.kind == "hold":
            hold = True
        else:
            derate, hold = 1.0, False
    return derate, hold


class _Runner:
    def __init__(self, spec: MachineSpec, config: SimConfig, commands: Sequence[Command]):
        self.spec = spec
        self.model = spec.model
        self.config = config
        self.mp = spec.params
        self.start_s = config.start_epoch_s()
        self.end_s = config.end_epoch_s()
        self.rng_stress = rng_for(config.seed, 3, spec.index)
        self.rng_component = rng_for(config.seed, 4, spec.index)
        self.rng_maint = rng_for(config.seed, 5, spec.index)
        self.commands = sorted(((int(c.at.timestamp()), c) for c in commands), key=lambda x: x[0])
        self.windows = plan_maintenance(self.rng_maint, self.model, self.start_s, self.end_s)
        self.components: list[ComponentLife] = []
        self.failures: list[Failure] = []
        self.work_orders: list[WorkOrder] = []
        self.down_until: int | None = None
        self.state = self.model.initial_state()
        self.cp: Params = {}
        grid = np.arange(self.start_s, self.end_s, config.interval_s, dtype=np.int64)
        n_sensors = len(self.model.sensors)
        self.t = grid
        self.mode = np.zeros(grid.size, dtype=np.uint8)
        self.damage = np.zeros(grid.size)
        self.component_no = np.zeros(grid.size, dtype=np.int32)
        self.true_values = np.full((grid.size, n_sensors), np.nan)

    # --- events ---------------------------------------------------------------------------------
    def _install(self, t_s: int) -> None:
        self.cp = self.model.draw_component(self.rng_component, self.mp)
        self.state = self.model.initial_state()
        self.components.append(ComponentLife(len(self.components), t_s, self.cp))

    def _fail(self, t_fail: int, repair: bool) -> None:
        comp = self.components[-1]
        mode = self.model.failure_mode(self.mp, self.cp)
        comp.mode = mode
        if not repair:
            comp.projected_failure_s = t_fail
            return
        comp.failed_s = t_fail
        notes = "failure: " + self.model.indicator_text(self.state, self.mp, self.cp)
        delay = self.rng_maint.uniform(0.5, 4.0) * 3600
        duration = self.rng_maint.uniform(*self.model.repair_hours) * 3600
        begin = round((t_fail + delay) / 60.0) * 60
        finish = begin + round(duration / 60.0) * 60
        self.failures.append(
            Failure(self.spec.machine_id, comp.component_no, t_fail, mode, notes, begin, finish)
        )
        self.work_orders.append(
            WorkOrder(
                self.spec.machine_id,
                begin,
                finish,
                "corrective",
                "replace",
                self.model.component,
                notes,
            )
        )
        comp.removed_s = finish
        self.down_until = finish
        for w in self.windows:
            if t_fail <= w.start_s < finish:
                w.cancelled = True

    def _log_windows(self, t_s: int) -> None:
        for w in self.windows:
            if w.done or w.cancelled or w.start_s > t_s:
                continue
            w.done = True
            notes = f"{w.kind}: {w.action} {w.component}"
            if w.kind == "inspection":
                notes = "inspection: " + self.model.indicator_text(self.state, self.mp, self.cp)
            self.work_orders.append(
                WorkOrder(
                    self.spec.machine_id, w.start_s, w.end_s, w.kind, w.action, w.component, notes
                )
            )

    def _active_window(self, t_s: int) -> MaintenanceWindow | None:
        for w in self.windows:
            if not w.cancelled and w.start_s <= t_s < w.end_s:
                return w
        return None

    def _next_boundary(self, t_s: int, with_windows: bool) -> int | None:
        times = [at for at, _ in self.commands if at > t_s]
        if with_windows:
            for w in self.windows:
                if w.cancelled:
                    continue
                times.extend(x for x in (w.start_s, w.end_s) if x > t_s)
        return min(times) if times else None

    # --- phases ---------------------------------------------------------------------------------
    def run(self) -> MachineRun:
        self.run_to_end()
        if self.down_until is None:
            horizon_end = self.end_s + self.config.rul_horizon_days * 86400
            beyond = np.arange(self.end_s, horizon_end, COARSE_DT_S, dtype=np.int64)
            self._phase(beyond, COARSE_DT_S, record=False, horizon=True)
        return MachineRun(
            self.spec,
            self.t,
            self.mode,
            self.damage,
            self.component_no,
            self.true_values,
            self.components,
            self.failures,
            self.work_orders,
        )

    def run_to_end(self) -> None:
        """History and the observed window: the machine as it is at the end of the run."""
        history_s = self.spec.component_installed_s
        self._install(history_s)
        # The replacement that put this component in service, as the CMMS remembers it.
        self.work_orders.append(
            WorkOrder(
                self.spec.machine_id,
                history_s - 2 * 3600,
                history_s,
                "preventive",
                "replace",
                self.model.component,
                "planned replacement",
            )
        )
        coarse = np.arange(history_s, self.start_s, COARSE_DT_S, dtype=np.int64)
        self._phase(coarse, COARSE_DT_S, record=False, horizon=False)
        self._phase(self.t, self.config.interval_s, record=True, horizon=False)

    def _segment_inputs(self, seg: np.ndarray, level_override: int | None = None):
        level, product, load = self.spec.plan.at(seg)
        setpoints = {k: v[product] for k, v in self.spec.products.items()}
        if level_override is not None:
            level = np.full(seg.size, level_override, dtype=np.int8)
        return level, setpoints, load

    def _record(self, i: int, j: int, stress, states, damage, mode) -> None:
        self.mode[i:j] = mode
        self.damage[i:j] = damage
        self.component_no[i:j] = self.components[-1].component_no
        observed = self.model.observe(stress, states, self.mp, self.cp)
        for col, sensor in enumerate(self.model.sensors):
            self.true_values[i:j, col] = observed[sensor.tag]

    def _phase(self, grid: np.ndarray, dt: int, record: bool, horizon: bool) -> None:
        n = grid.size
        i = 0
        while i < n:
            t_i = int(grid[i])
            if self.down_until is not None:
                j = int(np.searchsorted(grid, self.down_until, side="left"))
                if record and j > i:
                    level, setpoints, load = self._segment_inputs(grid[i:j], OFF)
                    stress = self.model.stress(
                        level, setpoints, load, 1.0, self.mp, self.rng_stress
                    )
                    states = np.repeat(self.state[None, :], j - i, axis=0)
                    dmg = self.model.damage(states, self.mp, self.cp)
                    self._record(i, j, stress, states, np.minimum(dmg, 1.0), DOWN)
                if j >= n:
                    return
                self._install(self.down_until)
                self.down_until = None
                i = j
                continue
            if record:
                self._log_windows(t_i)
            boundary = self._next_boundary(t_i, with_windows=record)
            j = n if boundary is None else max(i + 1, int(np.searchsorted(grid, boundary)))
            j = min(j, n)
            seg = grid[i:j]
            derate, hold = _command_state(self.commands, t_i)
            window = self._active_window(t_i) if record else None
            level, setpoints, load = self._segment_inputs(seg, OFF if window else None)
            if hold:
                level = np.minimum(level, IDLE).astype(np.int8)
            stress = self.model.stress(level, setpoints, load, derate, self.mp, self.rng_stress)
            adv = self.model.advance(self.state, stress, float(dt), self.mp, self.cp)
            last = j - i if adv.failed_at is None else adv.failed_at + 1
            if record:
                mode = level.astype(np.uint8)
                if window is not None:
                    mode[:] = MAINTENANCE
                elif hold:
                    mode[level != OFF] = HOLD
                sub = {k: v[:last] for k, v in stress.items()}
                self._record(
                    i,
                    i + last,
                    sub,
                    adv.states[:last],
                    np.minimum(adv.damage[:last], 1.0),
                    mode[:last],
                )
            self.state = adv.states[last - 1]
            if adv.failed_at is None:
                i = j
                continue
            self._fail(int(seg[adv.failed_at]) + dt, repair=not horizon)
            if horizon:
                return
            i += last


@dataclass(frozen=True)
class EndState:
    """A machine's physical state at the end of a batch run, where a live run takes it over."""

    end_s: int
    state: np.ndarray
    component: Params
    component_no: int
    down_until: int | None
    """End of the repair in progress at the end (a new component is installed then), or None."""


def end_state(spec: MachineSpec, config: SimConfig, commands: Sequence[Command] = ()) -> EndState:
    """Replay one machine's batch run to the end of its observed window (same draws, same
    physics) and return its state there."""
    runner = _Runner(spec, config, [c for c in commands if c.machine_id == spec.machine_id])
    runner.run_to_end()
    return EndState(
        runner.end_s,
        runner.state.copy(),
        dict(runner.cp),
        runner.components[-1].component_no,
        runner.down_until,
    )


def run_machine(
    spec: MachineSpec, config: SimConfig, commands: Sequence[Command] = ()
) -> MachineRun:
    """Simulate one machine over history, the observed window and the RUL horizon."""
    return _Runner(spec, config, [c for c in commands if c.machine_id == spec.machine_id]).run()
