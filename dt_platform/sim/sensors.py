"""What the sensors make of the true values: noise, stuck values, dropouts, spikes, lost lines.

Every fault is logged (ground truth). Ordinary readings are kept inside the catalogue's
plausible range; only spikes marked ``implausible`` leave it (and the platform must reject them).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Grid:
    """The observed time grid: durations in steps, and the UTC end of a run of steps."""

    t: np.ndarray
    interval_s: int

    def steps(self, minutes: float) -> int:
        return max(1, round(minutes * 60 / self.interval_s))

    def end_of(self, k: int) -> int:
        return int(self.t[k - 1]) + self.interval_s


def apply_sensor_model(
    run: MachineRun, interval_s: int, fault_scale: float, rng: np.random.Generator
) -> Observed:
    """Turn a machine's true values into what its sensors report, logging every fault."""
    model = run.spec.model
    catalog = MACHINE_TYPES[model.type_name]
    n, n_sensors = run.true_values.shape
    days = n * interval_s / 86400.0
    machine = run.spec.machine_id
    grid = _Grid(run.t, interval_s)
    tags = [s.tag for s in model.sensors]
    faults: list[FaultRecord] = []

    noise = np.array([s.noise for s in model.sensors])
    values = run.true_values + noise * rng.standard_normal((n, n_sensors))
    # a stopped spindle, an empty feeder or a cold fan reads exactly zero
    values = np.where(run.true_values == 0.0, 0.0, values)
    lows = np.array([catalog.sensor_by_tag(s.tag).low for s in model.sensors])
    highs = np.array([catalog.sensor_by_tag(s.tag).high for s in model.sensors])
    values = np.clip(values, lows, highs)

    for j, tag in enumerate(tags):
        faults += _stuck_and_dropouts(values[:, j], machine, tag, grid, days, fault_scale, rng)
    faults += _single_dropouts(values, machine, tags, grid, fault_scale, rng)
    line_missing = np.zeros(n, dtype=bool)
    for a, b in _episodes(
        rng, n, COMM_LOSS_PER_MACHINE_DAY * days * fault_scale, grid.steps(5), grid.steps(90)
    ):
        line_missing[a:b] = True
        faults.append(
            FaultRecord(machine, None, "comm_loss", int(grid.t[a]), grid.end_of(b), None, None)
        )
    faults += _spikes(values, line_missing, (lows, highs), machine, tags, grid, fault_scale, rng)
    return Observed(values, line_missing, faults)


def _stuck_and_dropouts(
    column: np.ndarray,
    machine: str,
    tag: str,
    grid: _Grid,
    days: float,
    fault_scale: float,
    rng: np.random.Generator,
) -> list[FaultRecord]:
    """Stuck values, then dropout episodes, written into one sensor's ``column`` (a view)."""
    n, t = column.size, grid.t
    faults = []
    for a, b in _episodes(
        rng, n, STUCK_PER_SENSOR_DAY * days * fault_scale, grid.steps(20), grid.steps(360)
    ):
        held = column[a]
        if not np.isfinite(held):
            continue
        seg = column[a:b]
        seg[np.isfinite(seg)] = held
        faults.append(
            FaultRecord(machine, tag, "stuck", int(t[a]), grid.end_of(b), float(held), None)
        )
    for a, b in _episodes(
        rng, n, DROPOUT_EPISODES_PER_SENSOR_DAY * days * fault_scale, grid.steps(1), grid.steps(30)
    ):
        column[a:b] = np.nan
        faults.append(FaultRecord(machine, tag, "dropout", int(t[a]), grid.end_of(b), None, None))
    return faults


def _single_dropouts(
    values: np.ndarray,
    machine: str,
    tags: list[str],
    grid: _Grid,
    fault_scale: float,
    rng: np.random.Generator,
) -> list[FaultRecord]:
    """Readings lost one at a time, anywhere."""
    single = (rng.random(values.shape) < SINGLE_DROPOUT_PER_READING * fault_scale) & np.isfinite(
        values
    )
    faults = [
        FaultRecord(machine, tags[j], "dropout", int(grid.t[k]), grid.end_of(k + 1), None, None)
        for k, j in zip(*np.nonzero(single), strict=True)
    ]
    values[single] = np.nan
    return faults


def _spikes(
    values: np.ndarray,
    line_missing: np.ndarray,
    limits: tuple[np.ndarray, np.ndarray],
    machine: str,
    tags: list[str],
    grid: _Grid,
    fault_scale: float,
    rng: np.random.Generator,
) -> list[FaultRecord]:
    """Single wild readings: half of them inside the plausible range, half outside it."""
    lows, highs = limits
    n_sensors = values.shape[1]
    candidates = np.flatnonzero((np.isfinite(values) & ~line_missing[:, None]).ravel())
    n_spikes = int(rng.binomial(candidates.size, min(1.0, SPIKE_PER_READING * fault_scale)))
    if not n_spikes:
        return []
    faults = []
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
        faults.append(
            FaultRecord(
                machine,
                tags[j],
                "spike",
                int(grid.t[k]),
                grid.end_of(k + 1),
                float(wild),
                implausible,
            )
        )
    return faults
