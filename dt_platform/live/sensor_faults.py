"""The batch simulator's sensor faults, for a machine of the live line, as its steps come.

Faults are drawn per block of :data:`~dt_platform.live.machine.CHUNK_STEPS` grid steps from a
stream keyed by (seed, machine, block), like the sensor noise, with the batch simulator's rates
(:mod:`dt_platform.sim.faults`): the same seed gives the same faults at the same sim times
however the wall clock cuts time into ticks. An episode that outlasts its block (a sensor stuck
for hours, a comm loss) runs on into the next blocks. Every fault is logged when it begins
(:attr:`LiveFaults.records`, ground truth; an episode's end is the one drawn, even if the line
stops before it).
"""

from __future__ import annotations

import numpy as np

from dt_platform.sim.config import rng_for
from dt_platform.sim.faults import FaultPlan, FaultRecord, SensorFaults

_FAULTS = 27  # random stream key (the live machine uses 20-25, the line 26)


class LiveFaults:
    """Sensor faults of one live machine. Steps must be applied in order, without gaps."""

    def __init__(
        self,
        seed: int,
        index: int,
        machine_id: str,
        tags: list[str],
        lows: np.ndarray,
        highs: np.ndarray,
        interval_s: int,
        fault_scale: float,
        block_steps: int,
    ) -> None:
        if not fault_scale >= 0:
            raise ValueError(f"fault scale {fault_scale} must be >= 0")
        self.seed, self.index, self.block_steps = seed, index, block_steps
        self.faults = SensorFaults(machine_id, tags, lows, highs, 0, interval_s, fault_scale)
        self._plan: FaultPlan | None = None

    @property
    def records(self) -> list[FaultRecord]:
        return self.faults.records

    def take_records(self) -> list[FaultRecord]:
        """The faults logged since the last call."""
        out, self.faults.records = self.faults.records, []
        return out

    def apply(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Fault the readings ``values`` (k, sensors) at the consecutive grid times ``ts`` in
        place; returns (k,) True where the gateway hears nothing from the machine."""
        steps = ts // self.faults.interval_s
        missing = np.zeros(ts.size, dtype=bool)
        i = 0
        while i < ts.size:
            block = int(steps[i]) // self.block_steps
            first = block * self.block_steps
            j = i + min(ts.size - i, first + self.block_steps - int(steps[i]))
            if self._plan is None or self._plan.first != first:
                rng = rng_for(self.seed, _FAULTS, self.index, block)
                self._plan = self.faults.draw(rng, first, self.block_steps, clip=False)
                self.faults.adopt(self._plan)
            s0 = int(steps[i])
            missing[i:j] = self.faults.apply(self._plan, s0, s0 + j - i, values[i:j])
            i = j
        return missing
