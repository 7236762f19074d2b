"""The least RMSE any model can reach on a synthetic fleet's test set, and what it takes to reach it.

A synthetic fleet (:mod:`~dt_platform.phm.cmapss.synthetic`) is drawn from a law known exactly, so
each test unit's RUL has a posterior given its readings. It follows from:

- the priors: the life ``T = ⌊U(life)⌋``, the wear rate ``r ~ U(WEAR_RATE)``, the fault mode
  uniform;
- the readings: sensor ``j`` in regime ``k`` reads ``base[k, j] + s[m, j]·(d_t + o_j) + σ_j·ε``,
  with wear ``d_t`` set by ``(T, r)`` and the unit's own offset ``o_j ~ N(0, OFFSET_SD²)``
  integrated out (one Gaussian per sensor over the series, whose covariance is rank one plus
  noise); a missing reading is left out, exactly, and a row missing a setting is placed in its
  regime by its readings (:func:`_regimes`);
- where the series ends (its last cycle given ``T``).

The posterior mean minimises the expected squared error given all of that, which is more than any
model fitted on the training files knows, so none can beat its RMSE in expectation (one test set
of a hundred units can be lucky either way). :func:`bayes_rul` gives three estimates per unit:

- ``rul_bayes``: knows how the test series were cut (``test_rul``, at least ``MIN_TEST_AGE``
  cycles in): the bound itself;
- ``rul_bayes_rows``: takes the last cycle as any cycle of a life, as the training rows are: the
  best a model can do that does not know how a test set is cut;
- ``rul_bayes_capped``: ``E[min(RUL, cap)]`` under the test cut: the best a model of the capped
  RUL can do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy.special import logsumexp

from dt_platform.phm.cmapss.data import SENSORS, SETTINGS, TIME, UNIT
from dt_platform.phm.cmapss.synthetic import (
    FLICKER_SENSOR,
    MIN_TEST_AGE,
    OFFSET_SD,
    WEAR_RATE,
    FleetLaw,
    draw_law,
    full_layout,
    wear,
)
from dt_platform.phm.scoring import rmse

RATE_STEPS = 40
"""Wear rates on the posterior's grid: midpoints of this many equal bins of :data:`WEAR_RATE`
(80 moves a test set's RMSE by under 0.05)."""
ESTIMATES = ("rul_bayes", "rul_bayes_rows", "rul_bayes_capped")


def life_prior(life: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The lives ``T = ⌊U(life)⌋`` can take, and the probability of each."""
    lo, hi = life
    if hi == lo:
        return np.array([int(lo)]), np.array([1.0])
    lives = np.arange(int(lo), int(np.ceil(hi)))
    p = np.clip(np.minimum(lives + 1, hi) - np.maximum(lives, lo), 0.0, None) / (hi - lo)
    return lives[p > 0], p[p > 0]


def cut_probability(lives: np.ndarray, last: int, test_rul: tuple[float, float]) -> np.ndarray:
    """P(a test series ends at cycle ``last`` | life ``T``), for each of ``lives``.

    The generator ends it at ``⌊clip(T − U, MIN_TEST_AGE, T − 1)⌋`` with ``U ~ U(test_rul)``.
    """
    lo, hi = test_rul
    lives = np.asarray(lives, dtype=np.float64)
    left = -np.inf if last <= MIN_TEST_AGE else float(last)
    right = np.where(last >= lives - 1, np.inf, last + 1.0)
    if hi == lo:
        ends = lives - lo
        p = ((ends >= left) & (ends < right)).astype(np.float64)
    else:
        overlap = np.minimum(right, lives - lo) - np.maximum(left, lives - hi)
        p = np.clip(overlap, 0.0, None) / (hi - lo)
    return np.where((last >= MIN_TEST_AGE) & (last <= lives - 1), p, 0.0)


def _regimes(law: FleetLaw, unit: pl.DataFrame) -> np.ndarray:
    """Each row's regime: the nearest flight condition, or, for a row missing a setting, the
    regime whose sensor baseline its readings are nearest. Regimes shift every sensor far more
    than wear and noise do, so that is the regime's posterior to numerical precision; a row with
    no reading carries nothing its regime could change."""
    settings = unit.select(SETTINGS).to_numpy()
    regimes = np.argmin(((settings[:, None, :] - law.conditions[None]) ** 2).sum(-1), axis=1)
    unsure = np.isnan(settings).any(axis=1)
    if unsure.any():
        readings = unit.select(SENSORS).to_numpy()[unsure]
        misfit = np.nansum((readings[:, None, :] - law.base[None]) ** 2, axis=-1)
        regimes[unsure] = np.argmin(misfit, axis=1)
    return regimes


def _log_likelihood(
    law: FleetLaw, unit: pl.DataFrame, lives: np.ndarray, rates: np.ndarray
) -> np.ndarray:
    """log P(the unit's readings | T, r), ``(len(lives), len(rates))``, fault modes summed."""
    regimes = _regimes(law, unit)
    used = np.flatnonzero(law.noise > 0)
    used = used[used != FLICKER_SENSOR - 1]
    u = unit.select(SENSORS).to_numpy()[:, used] - law.base[regimes][:, used]
    seen = ~np.isnan(u)
    u = np.where(seen, u, 0.0)
    t = np.arange(1, unit.height + 1, dtype=np.float64)
    grid_t, grid_r = np.meshgrid(lives.astype(np.float64), rates, indexing="ij")
    d = wear(grid_r.reshape(-1, 1) * t / grid_t.reshape(-1, 1), grid_r.reshape(-1, 1))
    sum_d, sum_d2, sum_ud = d @ seen, (d * d) @ seen, d @ u  # per grid point and sensor
    n, sum_u, sum_u2 = seen.sum(0), u.sum(0), (u * u).sum(0)
    var = law.noise[used] ** 2
    per_mode = []
    for s in law.sensitivity[:, used]:
        shared = s**2 * OFFSET_SD**2  # the offset's variance on this sensor's reading
        shrink = shared / (var + n * shared)
        squares = sum_u2 - 2 * s * sum_ud + s**2 * sum_d2
        total = sum_u - s * sum_d
        quad = ((squares - shrink * total**2) / var).sum(1)
        log_det = (n * np.log(var) + np.log1p(n * shared / var)).sum()
        per_mode.append(-0.5 * (quad + log_det))
    mixed = logsumexp(per_mode, axis=0) - np.log(len(per_mode))  # the modes equally likely
    return mixed.reshape(grid_t.shape)


def _posterior_means(
    log_lik: np.ndarray, lives: np.ndarray, weights: np.ndarray, last: int, cap: float
) -> tuple[float, float]:
    """``E[RUL]`` and ``E[min(RUL, cap)]`` over the grid, each life weighted by ``weights``."""
    with np.errstate(divide="ignore"):
        log_post = log_lik + np.log(weights)[:, None]
    post = np.exp(log_post - log_post.max()).sum(1)
    post /= post.sum()
    rul = lives - last
    return float(post @ rul), float(post @ np.minimum(rul, cap))


def bayes_rul(test: pl.DataFrame, *, seed: int, cap: float = 125.0, **layout: Any) -> pl.DataFrame:
    """Each test unit's posterior-mean RUL under the law of the fleet ``make_synthetic_subset(
    seed=seed, **layout)`` drew ``test`` from (columns ``unit, rul_bayes, rul_bayes_rows,
    rul_bayes_capped``; the module's docstring says what each knows). ``layout`` takes the
    generator's keywords, with its defaults (:func:`~dt_platform.phm.cmapss.synthetic.
    full_layout`).
    """
    layout = full_layout(**layout)
    test_rul = layout["test_rul"]
    law = draw_law(np.random.default_rng(seed), layout["n_regimes"], layout["fault_modes"])
    prior_lives, prior = life_prior(layout["life"])
    rates = (
        WEAR_RATE[0] + (np.arange(RATE_STEPS) + 0.5) * (WEAR_RATE[1] - WEAR_RATE[0]) / RATE_STEPS
    )
    rows: list[tuple[int, float, float, float]] = []
    for (unit_id,), unit in test.sort(UNIT, TIME).group_by(UNIT, maintain_order=True):
        last = int(unit[TIME].max())
        alive = prior_lives >= last
        lives, p = prior_lives[alive], prior[alive]
        log_lik = _log_likelihood(law, unit, lives, rates)
        cut = p * cut_probability(lives, last, test_rul)
        if not cut.sum() > 0:
            raise ValueError(
                f"test unit {unit_id}: a series ending at cycle {last} is not one the "
                "layout's test cut can give"
            )
        mean, capped = _posterior_means(log_lik, lives, cut, last, cap)
        rows_mean, _ = _posterior_means(log_lik, lives, p, last, cap)
        rows.append((int(unit_id), mean, rows_mean, capped))
    return pl.DataFrame(rows, schema=[UNIT, *ESTIMATES], orient="row").with_columns(
        pl.col(UNIT).cast(pl.Int64)
    )


def bayes_bound(
    test: pl.DataFrame, truth: pl.DataFrame, *, seed: int, cap: float, **layout: Any
) -> dict[str, float]:
    """The RMSE of each :func:`bayes_rul` estimate against the truth as given, with that of a
    perfect capped model for scale (``rmse_perfect_capped``)."""
    est = bayes_rul(test, seed=seed, cap=cap, **layout).join(truth, on=UNIT).sort(UNIT)
    y = est["rul"].to_numpy()
    out = {f"rmse_{name.removeprefix('rul_')}": rmse(est[name], y) for name in ESTIMATES}
    out["rmse_perfect_capped"] = rmse(np.minimum(y, cap), y)
    return out
