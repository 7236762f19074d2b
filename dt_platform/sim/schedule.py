"""Operating plan of a machine: shifts, week pattern, product mix and short stops.

The plant runs in local time UTC+08:00 with three 8-hour shifts (A 06-14, B 14-22, C 22-06).
Each machine has its own load per shift, its own week pattern and its own product portfolio, and
the product changes at shift starts. This is what makes the stress behind the damage laws differ
between machines and over time, so that the laws can later be fitted from history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLANT_UTC_OFFSET_S = 8 * 3600
SHIFT_S = 8 * 3600
FIRST_SHIFT_LOCAL_S = 6 * 3600

OFF, IDLE, PRODUCTION = 0, 1, 2
"""Plan levels: switched off, powered but not producing, producing."""

WEEK_PATTERNS: dict[str, float] = {"5.5d": 5.5, "6d": 6.0, "7d": 7.0}
"""Week patterns and their production days per week."""


def shift_index(t: np.ndarray | int) -> np.ndarray:
    """Index of the shift holding each UTC epoch second (shift 0 starts 1970-01-01 06:00 local)."""
    return (np.asarray(t, dtype=np.int64) + PLANT_UTC_OFFSET_S - FIRST_SHIFT_LOCAL_S) // SHIFT_S


def shift_start(s: np.ndarray | int) -> np.ndarray:
    """UTC epoch second at which shift ``s`` starts."""
    return np.asarray(s, dtype=np.int64) * SHIFT_S - PLANT_UTC_OFFSET_S + FIRST_SHIFT_LOCAL_S


def _shift_weekday(s: np.ndarray) -> np.ndarray:
    local_day = (s * SHIFT_S + FIRST_SHIFT_LOCAL_S) // 86400
    return (local_day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0


@dataclass(frozen=True)
class OperatingPlan:
    """Per-shift level, product and load of one machine, plus short unplanned stops."""

    first_shift: int
    level: np.ndarray
    product: np.ndarray
    load: np.ndarray
    stops: np.ndarray
    """(n, 2) int64 [start, end) UTC seconds, sorted and disjoint: production pauses."""
    pattern: str
    shift_load: tuple[float, float, float]

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Plan level, product index and load factor at UTC epoch seconds ``t``."""
        s = shift_index(t) - self.first_shift
        if s.size and (s.min() < 0 or s.max() >= self.level.size):
            raise ValueError("time outside the operating plan; build the plan over the full run")
        level = self.level[s].copy()
        if self.stops.size:
            i = np.searchsorted(self.stops[:, 0], t, side="right") - 1
            inside = (i >= 0) & (t < self.stops[np.maximum(i, 0), 1])
            level[inside & (level == PRODUCTION)] = IDLE
        return level, self.product[s], self.load[s]

    def production_fraction(self) -> float:
        return float(np.mean(self.level == PRODUCTION))


def make_plan(rng: np.random.Generator, n_products: int, t_from: int, t_to: int) -> OperatingPlan:
    """Draw a machine's operating plan covering UTC seconds [t_from, t_to)."""
    first = int(shift_index(t_from))
    last = int(shift_index(t_to - 1))
    shifts = np.arange(first, last + 1, dtype=np.int64)
    pattern = str(rng.choice(list(WEEK_PATTERNS), p=[0.5, 0.3, 0.2]))
    shift_load = (
        float(rng.uniform(0.9, 1.0)),
        float(rng.uniform(0.75, 0.95)),
        float(rng.uniform(0.5, 0.8)),
    )
    weekday = _shift_weekday(shifts)
    which = shifts % 3
    level = np.full(shifts.size, PRODUCTION, dtype=np.int8)
    if pattern in ("5.5d", "6d"):
        level[weekday == 6] = OFF
    if pattern == "5.5d":
        level[(weekday == 5) & (which == 2)] = OFF
    load = np.asarray(shift_load)[which] * rng.lognormal(0.0, 0.05, shifts.size)

    # Product changeovers happen at shift starts.
    change = rng.random(shifts.size) < 0.25
    new_product = rng.integers(0, n_products, shifts.size)
    product = np.empty(shifts.size, dtype=np.int16)
    current = int(rng.integers(0, n_products))
    for k in range(shifts.size):  # a few thousand shifts at most
        if change[k]:
            current = int(new_product[k])
        product[k] = current

    # Short unplanned stops (material shortage, operator away) inside production shifts.
    prod_shifts = shifts[level == PRODUCTION]
    n_stops = rng.poisson(0.7, prod_shifts.size)
    owner = np.repeat(prod_shifts, n_stops)
    starts = shift_start(owner) + rng.integers(0, SHIFT_S, owner.size)
    ends = starts + rng.integers(5 * 60, 45 * 60, owner.size)
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    if starts.size:
        # keep them disjoint: a stop ends no later than the next one starts
        ends[:-1] = np.minimum(ends[:-1], starts[1:])
    stops = np.stack([starts, ends], axis=1).astype(np.int64)
    stops = stops[stops[:, 1] > stops[:, 0]]
    return OperatingPlan(first, level, product, load, stops, pattern, shift_load)
