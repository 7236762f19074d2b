"""Synthetic C-MAPSS-layout fleets with known truth, for tests and benchmarks without the NASA files.

:func:`make_synthetic_subset` builds one fleet; :data:`SYNTHETIC_VARIANTS` names the layouts the
pipeline must survive (one or six regimes, one or two fault modes with sensors trending in
opposite directions between units, short and long lives, few units, healthy test engines far
from failure, readings missing at random). ``benchmarks/cmapss.py --synthetic NAME`` runs the
standard protocol on one.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dt_platform.ingest.cmapss_text import layout_frame
from dt_platform.phm.cmapss.data import UNIT

OPERATING_CONDITIONS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 100.0),
    (10.0, 0.25, 100.0),
    (20.0, 0.70, 100.0),
    (25.0, 0.62, 60.0),
    (35.0, 0.84, 100.0),
    (42.0, 0.84, 100.0),
)
"""The six flight conditions of FD002/FD004 (altitude kft, Mach, throttle resolver angle)."""

CONSTANT_SENSORS = frozenset({1, 5, 10, 16, 18, 19})
"""Sensors carrying no wear signal (constant within a regime), as in the NASA subsets."""
FLICKER_SENSOR = 6
"""The sensor that flickers between two values (as s6 does in FD001) and carries no wear."""
WEAR_RATE = (3.0, 7.0)
"""Range of each engine's wear rate ``r`` (uniform): the larger, the later its wear shows."""
OFFSET_SD = 0.05
"""Spread of each engine's own offset on every sensor's wear scale (manufacturing variation)."""
MIN_TEST_AGE = 20
"""Fewest cycles a test engine has run when its series is cut."""

SYNTHETIC_VARIANTS: dict[str, dict[str, Any]] = {
    "fd001_like": {"n_regimes": 1, "fault_modes": 1},
    "six_regimes": {"n_regimes": 6, "fault_modes": 1, "test_rul": (5.0, 200.0)},
    "two_faults": {"n_regimes": 1, "fault_modes": 2},
    "six_regimes_two_faults": {"n_regimes": 6, "fault_modes": 2, "test_rul": (5.0, 200.0)},
    "short_lives": {
        "n_regimes": 1,
        "fault_modes": 1,
        "life": (40.0, 90.0),
        "test_rul": (3.0, 60.0),
    },
    "long_lives": {
        "n_regimes": 1,
        "fault_modes": 2,
        "life": (250.0, 450.0),
        "test_rul": (5.0, 250.0),
    },
    "few_units": {"n_regimes": 1, "fault_modes": 1, "n_train": 6, "n_test": 5},
    "dropouts": {"n_regimes": 6, "fault_modes": 1, "test_rul": (5.0, 200.0), "missing": 0.1},
}
"""Named layouts (keyword arguments of :func:`make_synthetic_subset`). Each keeps the NASA file
layout; truth (regime, fault mode, life) is known per unit."""


@dataclass(frozen=True)
class FleetLaw:
    """What every engine of a synthetic fleet shares: its flight conditions, each regime's sensor
    baseline, each fault mode's sensor response to wear and each sensor's noise."""

    conditions: np.ndarray
    """``(regimes, 3)``: altitude, Mach and throttle of each regime."""
    base: np.ndarray
    """``(regimes, 21)``: every sensor's value in each regime, new."""
    sensitivity: np.ndarray
    """``(fault modes, 21)``: how each sensor moves with wear, per fault mode."""
    noise: np.ndarray
    """``(21,)``: each sensor's noise scale."""


def draw_law(rng: np.random.Generator, n_regimes: int, fault_modes: int) -> FleetLaw:
    """The fleet's :class:`FleetLaw`, the first draws of ``rng`` in :func:`make_synthetic_subset`."""
    conditions = np.asarray(OPERATING_CONDITIONS[:n_regimes])
    base = rng.uniform(10.0, 2000.0, size=(21,)) * (1 + 0.3 * rng.standard_normal((n_regimes, 21)))
    sens, noise = _sensitivities(rng, fault_modes)
    return FleetLaw(conditions, base, sens, noise)


def _sensitivities(rng: np.random.Generator, fault_modes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per fault mode, how each sensor responds to wear ``(modes, 21)``, and the noise scale.

    Mode 1 gives every informative sensor a random sign and size. Each further mode is another
    mechanism: a third of the sensors trend the *other* way, a sixth stay flat, the rest keep
    mode 1's response with a new size (as the HPC vs. fan degradation of FD003/FD004).
    """
    sens = rng.uniform(0.5, 2.0, size=21) * rng.choice([-1.0, 1.0], size=21)
    noise = rng.uniform(0.15, 0.35, size=21)
    for j in CONSTANT_SENSORS:
        sens[j - 1] = 0.0
        noise[j - 1] = 0.0
    modes = [sens]
    for _ in range(1, fault_modes):
        draw = rng.uniform(size=21)
        other = sens * rng.uniform(0.5, 1.5, size=21)
        other = np.where(draw < 1 / 3, -sens, other)
        other = np.where((draw >= 1 / 3) & (draw < 1 / 2), 0.0, other)
        modes.append(other)
    return np.asarray(modes), noise


def wear(x: np.ndarray | float, rate: np.ndarray | float) -> np.ndarray | float:
    """An engine's wear ``(e^x − 1)/(e^r − 1)`` at ``x = r·cycle/life``: 0 new, 1 at failure."""
    return np.expm1(x) / np.expm1(rate)


def _frame(rows: list[list[float]], gaps: np.random.Generator, missing: float) -> pl.DataFrame:
    """Rows in the loader's layout, each setting and sensor reading left out with ``missing``."""
    arr = np.asarray(rows, dtype=np.float64)
    arr[:, 2:][gaps.uniform(size=arr[:, 2:].shape) < missing] = np.nan
    return layout_frame(arr)


def make_synthetic_subset(
    *,
    n_train: int = 30,
    n_test: int = 15,
    n_regimes: int = 6,
    seed: int = 0,
    life: tuple[float, float] = (120.0, 260.0),
    fault_modes: int = 1,
    test_rul: tuple[float, float] = (5.0, 140.0),
    missing: float = 0.0,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A fleet that behaves like C-MAPSS: ``(train, test, rul)`` in :func:`load_subset`'s layout.

    Each engine degrades along ``d(t) = (e^{r t/T} − 1)/(e^{r} − 1)`` (0 new, 1 at failure
    ``T`` drawn from ``life``); every cycle flies one of ``n_regimes`` operating conditions,
    which shifts every sensor far more than wear does. Sensors s1, s5, s10, s16, s18, s19 carry
    no wear signal (constant within a regime), s6 flickers between two values, the rest respond
    to ``d`` with noise, with a sign and size that depend on the engine's fault mode (one of
    ``fault_modes``, drawn per engine). Test engines stop ``test_rul`` cycles (uniform) before
    failure, at least 20 cycles into their life; ``rul`` is the truth. The ``rul`` frame also
    carries each test engine's ``life`` and ``fault_mode`` (the loader's frame has only
    ``unit, rul``; :func:`write_subset` writes ``rul`` alone). ``missing``: the share of setting
    and sensor readings left out (null, written ``nan``), each at random, drawn apart from the
    fleet so the readings that remain are those of the same seed without gaps.
    """
    if not 0.0 <= missing < 1.0:
        raise ValueError("missing must be a share in [0, 1).")
    if not 1 <= n_regimes <= len(OPERATING_CONDITIONS):
        raise ValueError(f"n_regimes must be 1..{len(OPERATING_CONDITIONS)}.")
    if fault_modes < 1:
        raise ValueError("fault_modes must be at least 1.")
    if not 0 < life[0] <= life[1] or life[0] < 22:
        raise ValueError("life must be (low, high) with 22 <= low <= high cycles.")
    rng = np.random.default_rng(seed)
    law = draw_law(rng, n_regimes, fault_modes)
    flicker = FLICKER_SENSOR - 1

    def engine(unit: int, truncate: bool) -> tuple[list[list[float]], tuple[float, float, int]]:
        total = int(rng.uniform(*life))
        rate = rng.uniform(*WEAR_RATE)
        offset = rng.normal(0.0, OFFSET_SD, size=21)
        mode = int(rng.integers(fault_modes)) if fault_modes > 1 else 0
        last = total
        if truncate:
            last = int(np.clip(total - rng.uniform(*test_rul), MIN_TEST_AGE, total - 1))
        rows = []
        for cycle in range(1, last + 1):
            r = int(rng.integers(n_regimes))
            setting = law.conditions[r] + rng.normal(0.0, [1e-3, 1e-4, 0.0])
            d = wear(rate * cycle / total, rate)
            values = law.base[r] + law.sensitivity[mode] * (d + offset)
            values += law.noise * rng.standard_normal(21)
            values[flicker] = law.base[r, flicker] + (0.01 if rng.uniform() < 0.02 else 0.0)
            rows.append([unit, cycle, *setting, *values])
        return rows, (float(total - last), float(total), mode + 1)

    train_rows: list[list[float]] = []
    for u in range(1, n_train + 1):
        train_rows += engine(u, truncate=False)[0]
    test_rows: list[list[float]] = []
    truth = []
    for u in range(1, n_test + 1):
        rows, known = engine(u, truncate=True)
        test_rows += rows
        truth.append(known)

    gaps = np.random.default_rng([seed, 1])

    rul = pl.DataFrame(
        {
            UNIT: list(range(1, n_test + 1)),
            "rul": [t[0] for t in truth],
            "life": [t[1] for t in truth],
            "fault_mode": [t[2] for t in truth],
        },
        schema={UNIT: pl.Int64, "rul": pl.Float64, "life": pl.Float64, "fault_mode": pl.Int64},
    )
    return _frame(train_rows, gaps, missing), _frame(test_rows, gaps, missing), rul


def full_layout(**layout: Any) -> dict[str, Any]:
    """``layout`` with :func:`make_synthetic_subset`'s own defaults for every keyword it leaves
    out (all but ``seed``); a keyword the generator does not take is a :class:`ValueError`."""
    params = inspect.signature(make_synthetic_subset).parameters
    unknown = set(layout) - set(params) | ({"seed"} & set(layout))
    if unknown:
        raise ValueError(f"not a layout keyword of make_synthetic_subset: {sorted(unknown)}")
    return {k: layout.get(k, p.default) for k, p in params.items() if k != "seed"}


def synthetic_variant(
    name: str, *, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One of :data:`SYNTHETIC_VARIANTS` (defaults: 30 training and 15 test engines)."""
    if name not in SYNTHETIC_VARIANTS:
        raise ValueError(
            f"unknown synthetic variant {name!r}; choose one of {sorted(SYNTHETIC_VARIANTS)}."
        )
    return make_synthetic_subset(seed=seed, **SYNTHETIC_VARIANTS[name])
