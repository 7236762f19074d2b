"""A synthetic C-MAPSS-like fleet, for tests and demos without the NASA files."""

from __future__ import annotations

import numpy as np
import polars as pl

from dt_platform.phm.cmapss.data import COLUMNS, TIME, UNIT

OPERATING_CONDITIONS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 100.0),
    (10.0, 0.25, 100.0),
    (20.0, 0.70, 100.0),
    (25.0, 0.62, 60.0),
    (35.0, 0.84, 100.0),
    (42.0, 0.84, 100.0),
)
"""The six flight conditions of FD002/FD004 (altitude kft, Mach, throttle resolver angle)."""


def make_synthetic_subset(
    *,
    n_train: int = 30,
    n_test: int = 15,
    n_regimes: int = 6,
    seed: int = 0,
    life: tuple[float, float] = (120.0, 260.0),
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A fleet that behaves like C-MAPSS: ``(train, test, rul)`` in :func:`load_subset`'s layout.

    Each engine degrades along ``d(t) = (e^{r t/T} − 1)/(e^{r} − 1)`` (0 new, 1 at failure
    ``T``); every cycle flies one of ``n_regimes`` operating conditions, which shifts every
    sensor far more than wear does. Sensors s1, s5, s10, s16, s18, s19 carry no wear signal
    (constant within a regime), s6 flickers between two values, the rest respond to ``d`` with a
    random sign and noise. Test engines stop at a random cycle; ``rul`` is the truth.
    """
    if not 1 <= n_regimes <= len(OPERATING_CONDITIONS):
        raise ValueError(f"n_regimes must be 1..{len(OPERATING_CONDITIONS)}.")
    rng = np.random.default_rng(seed)
    conds = np.asarray(OPERATING_CONDITIONS[:n_regimes])
    constant = {1, 5, 10, 16, 18, 19}
    base = rng.uniform(10.0, 2000.0, size=(21,)) * (1 + 0.3 * rng.standard_normal((n_regimes, 21)))
    sens = rng.uniform(0.5, 2.0, size=21) * rng.choice([-1.0, 1.0], size=21)
    noise = rng.uniform(0.15, 0.35, size=21)
    for j in constant:
        sens[j - 1] = 0.0
        noise[j - 1] = 0.0

    def engine(unit: int, truncate: bool) -> tuple[list[list[float]], float]:
        total = int(rng.uniform(*life))
        rate = rng.uniform(3.0, 7.0)
        offset = rng.normal(0.0, 0.05, size=21)
        last = total
        if truncate:
            last = int(np.clip(total - rng.uniform(5.0, 140.0), 20, total - 1))
        rows = []
        for cycle in range(1, last + 1):
            r = int(rng.integers(n_regimes))
            setting = conds[r] + rng.normal(0.0, [1e-3, 1e-4, 0.0])
            d = np.expm1(rate * cycle / total) / np.expm1(rate)
            values = base[r] + sens * (d + offset) + noise * rng.standard_normal(21)
            values[5] = base[r, 5] + (0.01 if rng.uniform() < 0.02 else 0.0)
            rows.append([unit, cycle, *setting, *values])
        return rows, float(total - last)

    train_rows: list[list[float]] = []
    for u in range(1, n_train + 1):
        train_rows += engine(u, truncate=False)[0]
    test_rows: list[list[float]] = []
    truth = []
    for u in range(1, n_test + 1):
        rows, remaining = engine(u, truncate=True)
        test_rows += rows
        truth.append(remaining)

    def frame(rows: list[list[float]]) -> pl.DataFrame:
        arr = np.asarray(rows, dtype=np.float64)
        out = pl.DataFrame({c: arr[:, i] for i, c in enumerate(COLUMNS)})
        return out.with_columns(pl.col(UNIT).cast(pl.Int64), pl.col(TIME).cast(pl.Int64))

    rul = pl.DataFrame(
        {UNIT: list(range(1, n_test + 1)), "rul": truth}, schema={UNIT: pl.Int64, "rul": pl.Float64}
    )
    return frame(train_rows), frame(test_rows), rul
