"""What the sensors make of the true values: noise, stuck values, dropouts, spikes, lost lines.

Every fault is logged (ground truth). Ordinary readings are kept inside the catalogue's
plausible range; only spikes marked ``implausible`` leave it (and the platform must reject them).
The faults themselves are drawn and applied by :mod:`dt_platform.sim.faults`, which the live
line shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.sim.faults import (
    COMM_LOSS_PER_MACHINE_DAY,
    DROPOUT_EPISODES_PER_SENSOR_DAY,
    SINGLE_DROPOUT_PER_READING,
    SPIKE_PER_READING,
    STUCK_PER_SENSOR_DAY,
    FaultRecord,
    SensorFaults,
)
from dt_platform.sim.line import MachineRun

__all__ = [
    "COMM_LOSS_PER_MACHINE_DAY",
    "DROPOUT_EPISODES_PER_SENSOR_DAY",
    "SINGLE_DROPOUT_PER_READING",
    "SPIKE_PER_READING",
    "STUCK_PER_SENSOR_DAY",
    "FaultRecord",
    "Observed",
    "apply_sensor_model",
]


@dataclass
class Observed:
    values: np.ndarray
    """(steps, sensors) what the machine reports, canonical units, NaN = nothing sent."""
    line_missing: np.ndarray
    """(steps,) True where the gateway received nothing from the machine (comm loss)."""
    faults: list[FaultRecord]

    def readings(self) -> int:
        return int((np.isfinite(self.values) & ~self.line_missing[:, None]).sum())


def apply_sensor_model(
    run: MachineRun, interval_s: int, fault_scale: float, rng: np.random.Generator
) -> Observed:
    """Turn a machine's true values into what its sensors report, logging every fault."""
    model = run.spec.model
    catalog = MACHINE_TYPES[model.type_name]
    n, n_sensors = run.true_values.shape

    noise = np.array([s.noise for s in model.sensors])
    values = run.true_values + noise * rng.standard_normal((n, n_sensors))
    # a stopped spindle, an empty feeder or a cold fan reads exactly zero
    values = np.where(run.true_values == 0.0, 0.0, values)
    lows = np.array([catalog.sensor_by_tag(s.tag).low for s in model.sensors])
    highs = np.array([catalog.sensor_by_tag(s.tag).high for s in model.sensors])
    values = np.clip(values, lows, highs)

    tags = [s.tag for s in model.sensors]
    origin = int(run.t[0]) if n else 0
    faults = SensorFaults(run.spec.machine_id, tags, lows, highs, origin, interval_s, fault_scale)
    plan = faults.draw(rng, 0, n, clip=True, finite=np.isfinite(values))
    faults.adopt(plan)
    line_missing = faults.apply(plan, 0, n, values)
    return Observed(values, line_missing, faults.records)
