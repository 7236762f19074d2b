"""The live line's clock: accelerated sim time that never runs ahead of the wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    """Sim time = ``start_s + speed × wall elapsed``, capped at the wall clock: once it has caught
    up it runs in real time (the platform rejects readings stamped in the future)."""

    def __init__(self, start_s: float, speed: float, wall: Callable[[], float] = time.time) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} must be positive")
        now = wall()
        if start_s > now:
            raise ValueError("the start is in the future: sim time may not run ahead of the wall")
        self.start_s = start_s
        self.speed = speed
        self.wall = wall
        self._wall0 = now

    def now(self) -> float:
        wall = self.wall()
        return min(self.start_s + self.speed * (wall - self._wall0), wall)
