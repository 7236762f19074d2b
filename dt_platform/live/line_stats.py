"""The live line's summary: what :meth:`dt_platform.live.line.LiveLine.stats` returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LineStats:
    sim_time: datetime
    machines: int
    online: int
    published: int
    """Messages the broker confirmed (PUBACK)."""
    readings: int
    """Sensor readings in confirmed messages."""
    applied: int
    rejected: int
    failures: int
    sensor_faults: int = 0
    """Sensor faults the line had this run (each is in the ground-truth log once)."""

    def line(self) -> str:
        return (
            f"{self.sim_time:%Y-%m-%d %H:%M:%S}Z  online {self.online}/{self.machines}  "
            f"published {self.published:,} msgs ({self.readings:,} readings)  "
            f"commands applied {self.applied} rejected {self.rejected}  failures {self.failures}"
            f"  sensor faults {self.sensor_faults}"
        )
