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


def apply_sensor_model(
    run: MachineRun, interval_s: int, fault_scale: float, rng: np.random.Generator
) -> Observed:
    """Turn a machine's true values into what its sensors report, logging every fault."""
    model = run.spec.model
    catalog = MACHINE_TYPES[model.type_name]
    t = run.t
    n, n_sensors = run.true_values.shape
    days = n * interval_s / 86400.0
    machine = run.spec.machine_id
    faults: list[FaultRecord] = []

    def steps(minutes: float) -> int:
        return max(1, round(minutes * 60 / interval_s))

    def end_of(k: int) -> int:
        return int(t[k - 1]) + interval_s

    noise = np.array([s.noise for s in model.sensors])
    values = run.true_values + noise * rng.standard_normal((n, n_sensors))
    # a stopped spindle, an empty feeder or a cold fan reads exactly zero
    values = np.where(run.true_values == 0.0, 0.0, values)
    lows = np.array([catalog.sensor_by_tag(s.tag).low for s in model.sensors])
    highs = np.array([catalog.sensor_by_tag(s.tag).high for s in model.sensors])
    values = np.clip(values, lows, highs)

    for j, spec in enumerate(model.sensors):
        for a, b in _episodes(
            rng, n, STUCK_PER_SENSOR_DAY * days * fault_scale, steps(20), steps(360)
        ):
            held = values[a, j]
            if not np.isfinite(held):
                continue
            seg = values[a:b, j]
            seg[np.isfinite(seg)] = held
            faults.append(
                FaultRecord(machine, spec.tag, "stuck", int(t[a]), end_of(b), float(held), None)
            )
        for a, b in _episodes(
            rng, n, DROPOUT_EPISODES_PER_SENSOR_DAY * days * fault_scale, steps(1), steps(30)
        ):
            values[a:b, j] = np.nan
            faults.append(
                FaultRecord(machine, spec.tag, "dropout", int(t[a]), end_of(b), None, None)
            )

    single = (rng.random((n, n_sensors)) < SINGLE_DROPOUT_PER_READING * fault_scale) & np.isfinite(
        values
    )
    for k, j in zip(*np.nonzero(single), strict=True):
        faults.append(
            FaultRecord(
                machine, model.sensors[j].tag, "dropout", int(t[k]), end_of(k + 1), None, None
            )
        )
    values[single] = np.nan

    line_missing = np.zeros(n, dtype=bool)
    for a, b in _episodes(
        rng, n, COMM_LOSS_PER_MACHINE_DAY * days * fault_scale, steps(5), steps(90)
    ):
        line_missing[a:b] = True
        faults.append(FaultRecord(machine, None, "comm_loss", int(t[a]), end_of(b), None, None))

    candidates = np.flatnonzero((np.isfinite(values) & ~line_missing[:, None]).ravel())
    n_spikes = int(rng.binomial(candidates.size, min(1.0, SPIKE_PER_READING * fault_scale)))
    if n_spikes:
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
                    model.sensors[j].tag,
                    "spike",
                    int(t[k]),
                    end_of(k + 1),
                    float(wild),
                    implausible,
                )
            )
    return Observed(values, line_missing, faults)
