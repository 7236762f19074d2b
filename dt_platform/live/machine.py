"""One simulated machine in the live line: its physics step by step, and the settings it obeys.

:class:`LiveMachine` advances a machine over the simulator's reading grid with the pure functions
of its :class:`~dt_platform.sim.machines.base.MachineModel` (``stress``, ``advance``,
``observe``, ``damage``), vectorized over every step due at once. Failures follow the physics as
in the batch run (down for the repair, then a new component).

Randomness is keyed by grid position, not drawn in sequence: the stress jitter and sensor noise
of a step come from a stream of (seed, machine, block of :data:`CHUNK_STEPS` steps). So how the
wall clock happens to cut time into ticks does not change the physics: the same seed and the same
commands at the same sim times give the same states and readings.

With a ``fault_scale`` above 0 the readings also carry the batch simulator's sensor faults
(:mod:`dt_platform.live.sensor_faults`): stuck values, dropouts (NaN), spikes, and comm loss
(:attr:`Readings.missing`: the gateway hears nothing from the machine), each logged in
:attr:`LiveMachine.faults`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.live.desired import Desired, Verdict, check_values
from dt_platform.live.machine_data import Applied, FailureEvent, Readings
from dt_platform.live.sensor_faults import LiveFaults
from dt_platform.sim.config import rng_for
from dt_platform.sim.line import EndState
from dt_platform.sim.registry import MachineSpec
from dt_platform.sim.schedule import IDLE, OFF, PRODUCTION

CHUNK_STEPS = 64
MODES = ("off", "idle", "production", "down", "maintenance")
OFF_M, IDLE_M, PRODUCTION_M, DOWN_M, MAINTENANCE_M = range(5)
_PLAN_MODE = {OFF: OFF_M, IDLE: IDLE_M, PRODUCTION: PRODUCTION_M}

# keys of this module's random streams (the batch simulator uses 1-6)
_STRESS, _NOISE, _COMPONENT, _REPAIR, _BUSY, _LINK = 20, 21, 22, 23, 24, 25


@dataclass
class LiveMachine:
    """A machine of the simulated line, advanced step by step. Not thread-safe: one owner."""

    spec: MachineSpec
    seed: int
    interval_s: int
    next_t: int
    """Time of the next grid step to simulate."""
    fault_scale: float = 0.0
    """Multiplies the batch simulator's sensor-fault rates; 0: noise only."""
    state: np.ndarray = field(init=False)
    component: dict = field(init=False)
    component_no: int = field(init=False, default=0)
    down_until: int | None = field(init=False, default=None)
    applied: Applied = field(init=False, default_factory=Applied)
    applied_version: int = field(init=False, default=0)
    handled_version: int = field(init=False, default=0)
    """Last version acknowledged (applied or rejected): older or equal ones are ignored."""
    inspection_finding: str | None = field(init=False, default=None)
    failures: list[FailureEvent] = field(init=False, default_factory=list)
    last_mode: int = field(init=False, default=OFF_M)

    def __post_init__(self) -> None:
        if self.next_t % self.interval_s:
            raise ValueError(f"start {self.next_t} is not on the {self.interval_s}-s grid")
        self.model = self.spec.model
        self.mp = self.spec.params
        i = self.spec.index
        self._rng_component = rng_for(self.seed, _COMPONENT, i)
        self._rng_repair = rng_for(self.seed, _REPAIR, i)
        self._rng_busy = rng_for(self.seed, _BUSY, i)
        catalog = MACHINE_TYPES[self.model.type_name]
        sensors = [catalog.sensor_by_tag(s.tag) for s in self.model.sensors]
        self.tags = [s.tag for s in self.model.sensors]
        self._noise = np.array([s.noise for s in self.model.sensors])
        self._low = np.array([s.low for s in sensors])
        self._high = np.array([s.high for s in sensors])
        self._stress_cache: dict[tuple, dict[str, np.ndarray]] = {}
        self._noise_cache: dict[int, np.ndarray] = {}
        self.state = self.model.initial_state()
        self.component = self.model.draw_component(self._rng_component, self.mp)
        self.faults: LiveFaults | None = None
        """Sensor faults (None without); their log: ``faults.take_records()``."""
        if self.fault_scale:
            self.faults = LiveFaults(
                self.seed,
                i,
                self.machine_id,
                self.tags,
                self._low,
                self._high,
                self.interval_s,
                self.fault_scale,
                CHUNK_STEPS,
            )

    @classmethod
    def continuing(
        cls, spec: MachineSpec, seed: int, interval_s: int, end: EndState, fault_scale: float = 0.0
    ):
        """The machine as a batch run left it at ``end.end_s``."""
        m = cls(spec, seed, interval_s, end.end_s, fault_scale)
        m.state = end.state.copy()
        m.component = dict(end.component)
        m.component_no = end.component_no
        m.down_until = end.down_until
        return m

    # --- what the twin sees ------------------------------------------------------------------
    @property
    def machine_id(self) -> str:
        return self.spec.machine_id

    @property
    def damage(self) -> float:
        """True damage of the component in service (ground truth)."""
        return float(self.model.damage(self.state[None, :], self.mp, self.component)[0])

    def reported(self) -> dict:
        """The ``twin/reported`` value of the convention."""
        value = {
            "mode": MODES[self.last_mode],
            "settings": self.applied.as_dict(),
            "applied_version": self.applied_version,
        }
        if self.inspection_finding is not None:
            value["inspection_finding"] = self.inspection_finding
        return value

    # --- obeying -------------------------------------------------------------------------------
    def decide(self, doc: Desired, now_s: float, busy_prob: float) -> Verdict:
        """Accept or reject a new desired state. ``now_s``: wall-clock unix seconds (the
        platform's clock, for ``expires_at``); ``busy_prob``: chance that a changeover is in
        progress (drawn from the machine's own stream, one draw per decision)."""
        busy = bool(self._rng_busy.random() < busy_prob)
        verdict = check_values(doc, now_s)
        if verdict.reason:
            return verdict
        a = self.applied
        if doc.maintenance and float(doc.derate_pct) != a.derate_pct:
            return Verdict("interlock", "derate while in maintenance mode")
        if self.down_until is not None and (doc.maintenance or doc.inspection != a.inspection):
            return Verdict("interlock", f"machine down for repair until {self.down_until}")
        if busy:
            return Verdict("busy", "changeover in progress")
        return Verdict()

    def apply(self, doc: Desired) -> None:
        """Take a validated desired state from the next step on."""
        a = self.applied
        if a.maintenance and not doc.maintenance:
            self._install()  # leaving maintenance: the degrading component was renewed
        if doc.inspection and doc.inspection != a.inspection:
            self.inspection_finding = self.model.indicator_text(self.state, self.mp, self.component)
        self.applied = Applied(float(doc.derate_pct), doc.maintenance, doc.inspection)
        self.applied_version = doc.version
        if doc.maintenance and self.down_until is None:
            self.last_mode = MAINTENANCE_M

    # --- physics -------------------------------------------------------------------------------
    def advance_to(self, t_s: int) -> Readings:
        """Simulate every grid step at or before ``t_s`` not simulated yet."""
        dt = self.interval_s
        if t_s < self.next_t:
            return Readings.empty()
        ts = np.arange(self.next_t, t_s + 1, dt, dtype=np.int64)
        n = ts.size
        mode = np.empty(n, dtype=np.int8)
        values = np.empty((n, len(self.tags)))
        damage = np.empty(n)
        missing = np.zeros(n, dtype=bool)
        i = 0
        while i < n:
            if self.down_until is not None:
                j = int(np.searchsorted(ts, self.down_until, side="left"))
                if j > i:
                    stress = self._stress(ts[i:j], off=True)
                    states = np.repeat(self.state[None, :], j - i, axis=0)
                    sl = slice(i, j)
                    self._record(
                        ts[sl], stress, states, mode[sl], values[sl], damage[sl], missing[sl]
                    )
                    mode[i:j] = DOWN_M
                if j >= n:
                    break
                self._install()
                self.down_until = None
                i = j
                continue
            off = self.applied.maintenance
            stress = self._stress(ts[i:], off=off)
            adv = self.model.advance(self.state, stress, float(dt), self.mp, self.component)
            last = n - i if adv.failed_at is None else adv.failed_at + 1
            sub = {k: v[:last] for k, v in stress.items()}
            sl = slice(i, i + last)
            self._record(
                ts[sl], sub, adv.states[:last], mode[sl], values[sl], damage[sl], missing[sl]
            )
            if off:
                mode[sl] = MAINTENANCE_M
            self.state = adv.states[last - 1]
            if adv.failed_at is not None:
                self._fail(int(ts[i + adv.failed_at]) + dt)
            i += last
        self.next_t = int(ts[-1]) + dt
        self.last_mode = int(mode[-1])
        return Readings(ts, mode, values, damage, missing)

    def _install(self) -> None:
        self.component = self.model.draw_component(self._rng_component, self.mp)
        self.state = self.model.initial_state()
        self.component_no += 1

    def _fail(self, t_fail: int) -> None:
        """As the batch run: repair starts 0.5-4 h later and takes the type's repair hours."""
        rng = self._rng_repair
        begin = round((t_fail + rng.uniform(0.5, 4.0) * 3600) / 60.0) * 60
        finish = begin + round(rng.uniform(*self.model.repair_hours) * 3600 / 60.0) * 60
        mode = self.model.failure_mode(self.mp, self.component)
        self.failures.append(FailureEvent(t_fail, self.component_no, mode, finish))
        self.down_until = finish

    def _chunk(self, c: int, off: bool) -> dict[str, np.ndarray]:
        key = (c, off, self.applied.derate_pct)
        hit = self._stress_cache.get(key)
        if hit is not None:
            return hit
        span = CHUNK_STEPS * self.interval_s
        t = np.arange(c * span, (c + 1) * span, self.interval_s, dtype=np.int64)
        level, product, load = self.spec.plan.at(t)
        if off:
            level = np.full(t.size, OFF, dtype=np.int8)
        setpoints = {k: v[product] for k, v in self.spec.products.items()}
        derate = 1.0 - self.applied.derate_pct / 100.0
        rng = rng_for(self.seed, _STRESS, self.spec.index, c)
        stress = self.model.stress(level, setpoints, load, derate, self.mp, rng)
        stress = {k: np.broadcast_to(np.asarray(v), t.shape) for k, v in stress.items()}
        if len(self._stress_cache) > 64:
            self._stress_cache.clear()
        self._stress_cache[key] = stress
        return stress

    def _chunk_pieces(self, ts: np.ndarray):
        steps = ts // self.interval_s
        chunks = steps // CHUNK_STEPS
        for c in np.unique(chunks):
            pos = (steps[chunks == c] - c * CHUNK_STEPS).astype(np.intp)
            yield int(c), pos

    def _stress(self, ts: np.ndarray, off: bool) -> dict[str, np.ndarray]:
        parts = [
            {k: v[pos] for k, v in self._chunk(c, off).items()} for c, pos in self._chunk_pieces(ts)
        ]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _sensor_noise(self, ts: np.ndarray) -> np.ndarray:
        out = []
        for c, pos in self._chunk_pieces(ts):
            z = self._noise_cache.get(c)
            if z is None:
                rng = rng_for(self.seed, _NOISE, self.spec.index, c)
                z = rng.standard_normal((CHUNK_STEPS, len(self.tags)))
                if len(self._noise_cache) > 64:
                    self._noise_cache.clear()
                self._noise_cache[c] = z
            out.append(z[pos])
        return np.concatenate(out)

    def _record(self, ts, stress, states, mode, values, damage, missing) -> None:
        level = np.asarray(stress["level"])
        mode[:] = np.where(level == PRODUCTION, PRODUCTION_M, np.where(level == IDLE, IDLE_M, 0))
        damage[:] = np.minimum(self.model.damage(states, self.mp, self.component), 1.0)
        observed = self.model.observe(stress, states, self.mp, self.component)
        true = np.stack([np.asarray(observed[tag], dtype=float) for tag in self.tags], axis=1)
        noisy = true + self._noise * self._sensor_noise(ts)
        # a stopped spindle, an empty feeder or a cold fan reads exactly zero (as the batch)
        values[:] = np.clip(np.where(true == 0.0, 0.0, noisy), self._low, self._high)
        if self.faults is not None:
            missing[:] = self.faults.apply(ts, values)
