"""What the sensors make of the true values: noise, stuck values, dropouts, spikes, lost lines.

Every fault is logged (ground truth). Ordinary readings are kept inside the catalogue's
plausible range; only spikes marked ``implausible`` leave it (and the platform must reject them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.sim.line import MachineRun

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
class Observed:
    values: np.ndarray
    """(steps, sensors) what the machine reports, canonical units, NaN = nothing sent."""
    line_missing: np.ndarray
    """(steps,) True where the gateway received nothing from the machine (comm loss)."""
    faults: list[FaultRecord]

    def readings(self) -> int:
        return int((np.isfinite(self.values) & ~self.line_missing[:, None]).sum())


def _episodes(
    rng: np.random.Generator, n_steps: int, rate: float, min_steps: int, max_steps: int
) -> list[tuple[int, int]]:
    count = rng.poisson(rate)
    starts = rng.integers(0, n_steps, count)
    lengths = rng.integers(min_steps, max_steps + 1, count)
    return [(int(s), int(min(n_steps, s + n))) for s, n in zip(starts, lengths, strict=True)]


def apply_sensor_model(
    run: MachineRun, interval_s: int, fault_scale: float, rng: np.random.Generator
) -> Observed:
    """Turn a machine's true values into what its sensors report, logging every fault."""
    model = run.spec.model
    catalog = MACHINE_TYPES[model.type_name]
    n, n_sensors = run.true_values.shape
    days = n * interval_s / 86400.0
    tags = [s.tag for s in model.sensors]
    faults = _Faults(run.spec.machine_id, tags, run.t, interval_s, days, fault_scale, rng)

    noise = np.array([s.noise for s in model.sensors])
    values = run.true_values + noise * rng.standard_normal((n, n_sensors))
    # a stopped spindle, an empty feeder or a cold fan reads exactly zero
    values = np.where(run.true_values == 0.0, 0.0, values)
    lows = np.array([catalog.sensor_by_tag(s.tag).low for s in model.sensors])
    highs = np.array([catalog.sensor_by_tag(s.tag).high for s in model.sensors])
    values = np.clip(values, lows, highs)

    for j in range(n_sensors):
        faults.stuck_and_dropouts(values[:, j], tags[j])
    faults.single_dropouts(values)
    line_missing = faults.comm_losses(n)
    faults.spikes(values, line_missing, lows, highs)
    return Observed(values, line_missing, faults.records)


@dataclass
class _Faults:
    """Draws one machine's sensor faults, applies them to its values and logs each one."""

    machine: str
    tags: list[str]
    t: np.ndarray
    interval_s: int
    days: float
    fault_scale: float
    rng: np.random.Generator
    records: list[FaultRecord] = field(default_factory=list)

    def _steps(self, minutes: float) -> int:
        return max(1, round(minutes * 60 / self.interval_s))

    def _end_of(self, k: int) -> int:
        return int(self.t[k - 1]) + self.interval_s

    def _log(self, sensor, kind, a, b, value=None, implausible=None) -> None:
        """A fault over steps [a, b)."""
        self.records.append(
            FaultRecord(
                self.machine, sensor, kind, int(self.t[a]), self._end_of(b), value, implausible
            )
        )

    def stuck_and_dropouts(self, column: np.ndarray, tag: str) -> None:
        """Stuck values, then dropout episodes, written into one sensor's ``column`` (a view)."""
        n, rng = column.size, self.rng
        for a, b in _episodes(
            rng,
            n,
            STUCK_PER_SENSOR_DAY * self.days * self.fault_scale,
            self._steps(20),
            self._steps(360),
        ):
            held = column[a]
            if not np.isfinite(held):
                continue
            seg = column[a:b]
            seg[np.isfinite(seg)] = held
            self._log(tag, "stuck", a, b, float(held))
        for a, b in _episodes(
            rng,
            n,
            DROPOUT_EPISODES_PER_SENSOR_DAY * self.days * self.fault_scale,
            self._steps(1),
            self._steps(30),
        ):
            column[a:b] = np.nan
            self._log(tag, "dropout", a, b)

    def single_dropouts(self, values: np.ndarray) -> None:
        """Readings lost one at a time, anywhere."""
        single = (
            self.rng.random(values.shape) < SINGLE_DROPOUT_PER_READING * self.fault_scale
        ) & np.isfinite(values)
        for k, j in zip(*np.nonzero(single), strict=True):
            self._log(self.tags[j], "dropout", k, k + 1)
        values[single] = np.nan

    def comm_losses(self, n: int) -> np.ndarray:
        """Steps at which the gateway received nothing from the machine."""
        line_missing = np.zeros(n, dtype=bool)
        for a, b in _episodes(
            self.rng,
            n,
            COMM_LOSS_PER_MACHINE_DAY * self.days * self.fault_scale,
            self._steps(5),
            self._steps(90),
        ):
            line_missing[a:b] = True
            self._log(None, "comm_loss", a, b)
        return line_missing

    def spikes(
        self, values: np.ndarray, line_missing: np.ndarray, lows: np.ndarray, highs: np.ndarray
    ) -> None:
        """Single wild readings: half of them inside the plausible range, half outside it."""
        rng, n_sensors = self.rng, values.shape[1]
        candidates = np.flatnonzero((np.isfinite(values) & ~line_missing[:, None]).ravel())
        n_spikes = int(
            rng.binomial(candidates.size, min(1.0, SPIKE_PER_READING * self.fault_scale))
        )
        if not n_spikes:
            return
        picks = np.sort(rng.choice(candidates, n_spikes, replace=False))
        for flat in picks:
            k, j = divmod(int(flat), n_sensors)
            low, high = lows[j], highs[j]
            span = high - low
            implausible = bool(rng.random() < 0.5)
            if implausible:
                wild = high + span * rng.uniform(0.05, 0.5)
                if rng.random() < 0.5:
                    wild = low - span * rng.uniform(0.05, 0.5)
            else:
                wild = low + span * rng.uniform(0.2, 0.9)
            values[k, j] = wild
            self._log(self.tags[j], "spike", k, k + 1, float(wild), implausible)
