"""When a machine's link to its gateway is down: random offline episodes in sim time.

Episodes start at ``rate_per_h`` per machine-hour of sim time (exponential gaps) and last from
:data:`MIN_OFFLINE_S` to :data:`MAX_OFFLINE_S`. Drawn from the machine's own stream, in sim
time, so a seed gives the same episodes whatever the wall clock does.
"""

from __future__ import annotations

import math

import numpy as np

from dt_platform.sim.config import rng_for

MIN_OFFLINE_S = 5 * 60
MAX_OFFLINE_S = 3600
_LINK = 25


class LinkSchedule:
    def __init__(self, seed: int, index: int, rate_per_h: float, t0: int) -> None:
        if not 0.0 <= rate_per_h <= 60.0:
            raise ValueError(f"offline rate {rate_per_h} per machine-hour must be within 0-60")
        self.rate = rate_per_h
        self.rng = rng_for(seed, _LINK, index)
        self.online = True
        self.next_change = self._next_outage(t0)

    def _next_outage(self, t: float) -> float:
        if self.rate <= 0:
            return math.inf
        return t + self.rng.exponential(3600.0 / self.rate)

    def force_offline(self, t_s: int, until_s: int) -> None:
        """Take the link down from ``t_s`` until ``until_s`` (tests, demos)."""
        self.online = False
        self.next_change = float(max(until_s, t_s))

    def online_at(self, ts: np.ndarray) -> np.ndarray:
        """Whether the link is up at each of the increasing times ``ts`` (advances the state)."""
        out = np.empty(ts.size, dtype=bool)
        i = 0
        while i < ts.size:
            j = max(i, int(np.searchsorted(ts, self.next_change, side="left")))
            out[i:j] = self.online
            if j >= ts.size:
                break
            if self.online:
                back = self.next_change + self.rng.uniform(MIN_OFFLINE_S, MAX_OFFLINE_S)
                self.online, self.next_change = False, back
            else:
                self.online, self.next_change = True, self._next_outage(self.next_change)
            i = j
        return out
