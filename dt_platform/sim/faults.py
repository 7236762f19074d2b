"""Sensor faults: stuck values, dropouts, comm loss (whole lines missing) and spikes.

Shared by the batch simulator and the live line. :meth:`SensorFaults.draw` draws the faults of a
span of grid steps (a :class:`FaultPlan`: every random draw up front, in a fixed order) and
:meth:`SensorFaults.apply` writes them into the readings of any window of that span, logging
each fault (:class:`FaultRecord`, ground truth) when it begins. The batch simulator draws one
plan over the whole run, its episodes cut at the end, and applies it at once; the live line
draws one plan per block of steps and applies it as the steps come, an episode that outlasts its
block (a stuck value of hours) running on into the next blocks.

Ordinary readings stay inside the catalogue's plausible range; only spikes marked
``implausible`` leave it (and the platform must reject them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STUCK_PER_SENSOR_DAY = 0.15
DROPOUT_EPISODES_PER_SENSOR_DAY = 0.2
SINGLE_DROPOUT_PER_READING = 5e-4
COMM_LOSS_PER_MACHINE_DAY = 0.1
SPIKE_PER_READING = 5e-5


@dataclass(frozen=True)
class FaultRecord:
    machine_id: str
    sensor: str | None
    kind: str
    """``stuck``, ``dropout``, ``comm_loss`` (whole lines missing) or ``spike``."""
    start_s: int
    end_s: int
    """Exclusive end, UTC seconds."""
    value: float | None
    implausible: bool | None


@dataclass
class Episode:
    """A fault over grid steps [a, b); ``sensor`` is a column, None for the whole line."""

    kind: str
    sensor: int | None
    a: int
    b: int
    started: bool = False
    held: float | None = None
    """The value a stuck sensor repeats (its reading at ``a``); None if it had none."""


@dataclass(frozen=True)
class Spike:
    step: int
    sensor: int
    value: float
    implausible: bool


@dataclass
class FaultPlan:
    """Every fault drawn for the steps [first, first + n)."""

    first: int
    n: int
    episodes: list[Episode]
    """Per sensor: its stuck episodes, then its dropout episodes."""
    comm: list[Episode]
    single: np.ndarray
    """(n, sensors) readings lost one at a time."""
    spikes: list[Spike]


def _episodes(
    rng: np.random.Generator, n_steps: int, rate: float, min_steps: int, max_steps: int, clip: bool
) -> list[tuple[int, int]]:
    count = rng.poisson(rate)
    starts = rng.integers(0, n_steps, count)
    lengths = rng.integers(min_steps, max_steps + 1, count)
    cap = n_steps if clip else np.iinfo(np.int64).max
    return [(int(s), int(min(cap, s + n))) for s, n in zip(starts, lengths, strict=True)]


@dataclass
class SensorFaults:
    """One machine's sensor faults: draws plans, applies them, logs every fault in
    :attr:`records`. Step ``k`` of the grid is the instant ``origin_s + k * interval_s``."""

    machine: str
    tags: list[str]
    lows: np.ndarray
    highs: np.ndarray
    origin_s: int
    interval_s: int
    fault_scale: float
    records: list[FaultRecord] = field(default_factory=list)
    active: list[Episode] = field(default_factory=list)
    """Sensor episodes that may still touch steps not applied yet (in application order)."""
    active_comm: list[Episode] = field(default_factory=list)

    def _steps(self, minutes: float) -> int:
        return max(1, round(minutes * 60 / self.interval_s))

    def draw(
        self,
        rng: np.random.Generator,
        first: int,
        n: int,
        clip: bool,
        finite: np.ndarray | None = None,
    ) -> FaultPlan:
        """The faults of steps [first, first + n). ``clip`` cuts episodes at the span's end;
        ``finite`` (n, sensors): where a reading exists before any fault (default: everywhere).
        Episodes still running from earlier plans are taken into account (no single dropout or
        spike where nothing is sent)."""
        n_sensors = len(self.tags)
        scale, days = self.fault_scale, n * self.interval_s / 86400.0
        sent = np.ones((n, n_sensors), bool) if finite is None else finite.copy()
        missing = np.zeros(n, dtype=bool)
        for ep in [*self.active, *self.active_comm]:
            if ep.started and ep.kind in ("dropout", "comm_loss") and ep.b > first:
                lo, hi = max(0, ep.a - first), max(0, min(n, ep.b - first))
                if ep.sensor is None:
                    missing[lo:hi] = True
                else:
                    sent[lo:hi, ep.sensor] = False
        episodes: list[Episode] = []
        for j in range(n_sensors):
            for a, b in _episodes(
                rng, n, STUCK_PER_SENSOR_DAY * days * scale, self._steps(20), self._steps(360), clip
            ):
                episodes.append(Episode("stuck", j, first + a, first + b))
            for a, b in _episodes(
                rng,
                n,
                DROPOUT_EPISODES_PER_SENSOR_DAY * days * scale,
                self._steps(1),
                self._steps(30),
                clip,
            ):
                episodes.append(Episode("dropout", j, first + a, first + b))
                sent[a:b, j] = False
        single = (rng.random((n, n_sensors)) < SINGLE_DROPOUT_PER_READING * scale) & sent
        sent &= ~single
        comm = []
        for a, b in _episodes(
            rng, n, COMM_LOSS_PER_MACHINE_DAY * days * scale, self._steps(5), self._steps(90), clip
        ):
            comm.append(Episode("comm_loss", None, first + a, first + b))
            missing[a:b] = True
        return FaultPlan(first, n, episodes, comm, single, self._spikes(rng, sent, missing, first))

    def _spikes(self, rng, sent: np.ndarray, missing: np.ndarray, first: int) -> list[Spike]:
        """Single wild readings: half of them inside the plausible range, half outside it."""
        n_sensors = sent.shape[1]
        candidates = np.flatnonzero((sent & ~missing[:, None]).ravel())
        n_spikes = int(
            rng.binomial(candidates.size, min(1.0, SPIKE_PER_READING * self.fault_scale))
        )
        if not n_spikes:
            return []
        out = []
        for flat in np.sort(rng.choice(candidates, n_spikes, replace=False)):
            k, j = divmod(int(flat), n_sensors)
            low, high = self.lows[j], self.highs[j]
            span = high - low
            implausible = bool(rng.random() < 0.5)
            if implausible:
                wild = high + span * rng.uniform(0.05, 0.5)
                if rng.random() < 0.5:
                    wild = low - span * rng.uniform(0.05, 0.5)
            else:
                wild = low + span * rng.uniform(0.2, 0.9)
            out.append(Spike(first + k, j, float(wild), implausible))
        return out

    def adopt(self, plan: FaultPlan) -> None:
        """Make ``plan``'s episodes active (after those still running)."""
        self.active += plan.episodes
        self.active_comm += plan.comm

    def apply(self, plan: FaultPlan, s0: int, s1: int, values: np.ndarray) -> np.ndarray:
        """Write the active episodes and ``plan``'s single faults into ``values`` (the readings
        of steps [s0, s1), a part of the plan's span, in place) and log those that begin there.
        Windows must come in order. Returns (s1 - s0,) True where the line is missing."""
        for ep in self.active:
            lo, hi = max(ep.a, s0), min(ep.b, s1)
            if lo >= hi:
                continue
            column = values[lo - s0 : hi - s0, ep.sensor]
            if not ep.started:
                if ep.a < s0:  # it began before the first step this machine applied
                    continue
                ep.started = True
                if ep.kind == "stuck":
                    held = column[0]
                    if not np.isfinite(held):
                        continue
                    ep.held = float(held)
                self._log(ep.sensor, ep.kind, ep.a, ep.b, ep.held)
            if ep.kind == "dropout":
                column[:] = np.nan
            elif ep.held is not None:
                column[np.isfinite(column)] = ep.held
        # a single fault needs a reading (a drawn plan may not know which steps have none)
        single = plan.single[s0 - plan.first : s1 - plan.first] & np.isfinite(values)
        for k, j in zip(*np.nonzero(single), strict=True):
            self._log(j, "dropout", s0 + int(k), s0 + int(k) + 1)
        values[single] = np.nan
        missing = np.zeros(s1 - s0, dtype=bool)
        for ep in self.active_comm:
            lo, hi = max(ep.a, s0), min(ep.b, s1)
            if lo >= hi or (not ep.started and ep.a < s0):
                continue
            if not ep.started:
                ep.started = True
                self._log(None, "comm_loss", ep.a, ep.b)
            missing[lo - s0 : hi - s0] = True
        for sp in plan.spikes:
            if s0 <= sp.step < s1 and np.isfinite(values[sp.step - s0, sp.sensor]):
                values[sp.step - s0, sp.sensor] = sp.value
                self._log(sp.sensor, "spike", sp.step, sp.step + 1, sp.value, sp.implausible)
        self.active = [ep for ep in self.active if ep.b > s1]
        self.active_comm = [ep for ep in self.active_comm if ep.b > s1]
        return missing

    def _log(self, sensor, kind, a, b, value=None, implausible=None) -> None:
        dt, t0 = self.interval_s, self.origin_s
        tag = None if sensor is None else self.tags[sensor]
        self.records.append(
            FaultRecord(self.machine, tag, kind, t0 + a * dt, t0 + b * dt, value, implausible)
        )
