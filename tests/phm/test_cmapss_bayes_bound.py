"""The Bayes bound of a synthetic fleet: its priors, its likelihood and its estimates."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import multivariate_normal

from dt_platform.phm.cmapss.bayes_bound import (
    _log_likelihood,
    bayes_bound,
    bayes_rul,
    cut_probability,
    life_prior,
)
from dt_platform.phm.cmapss.data import SENSORS
from dt_platform.phm.cmapss.synthetic import (
    FLICKER_SENSOR,
    MIN_TEST_AGE,
    OFFSET_SD,
    SYNTHETIC_VARIANTS,
    draw_law,
    full_layout,
    make_synthetic_subset,
    wear,
)


def test_the_life_prior_is_that_of_the_generator() -> None:
    lives, p = life_prior((120.5, 130.2))
    assert lives.tolist() == list(range(120, 131)) and p.sum() == pytest.approx(1.0)
    draws = np.random.default_rng(0).uniform(120.5, 130.2, 400_000).astype(int)
    counts = np.bincount(draws - 120, minlength=11) / draws.size
    assert counts == pytest.approx(p, abs=3e-3)
    assert life_prior((50.0, 50.0)) == (np.array([50]), np.array([1.0]))


@pytest.mark.parametrize("test_rul", [(5.0, 140.0), (5.0, 200.0), (0.2, 3.0), (30.0, 30.0)])
def test_the_cut_probability_is_that_of_the_generator(test_rul: tuple[float, float]) -> None:
    """Where the generator ends a test series (``⌊clip(T − U, 20, T − 1)⌋``), life by life: the
    probabilities sum to one and match its draws, the clips at both ends included."""
    rng = np.random.default_rng(1)
    for life in (22, 60, 181):
        lasts = np.arange(0, life + 2)
        p = np.array([cut_probability(np.array([life]), a, test_rul)[0] for a in lasts])
        assert p.sum() == pytest.approx(1.0) and p[lasts < MIN_TEST_AGE].sum() == 0
        ends = np.clip(life - rng.uniform(*test_rul, 200_000), MIN_TEST_AGE, life - 1).astype(int)
        seen = np.bincount(ends, minlength=lasts.size)[: lasts.size] / ends.size
        assert seen == pytest.approx(p, abs=4e-3)


def test_the_likelihood_is_the_gaussian_with_each_units_offset_integrated_out() -> None:
    """Checked against the joint normal of every sensor's readings over the series, written out
    in full (offset covariance ``s²·OFFSET_SD²`` everywhere, noise on the diagonal), two fault
    modes averaged, a missing reading left out."""
    layout = dict(n_train=1, n_test=1, n_regimes=6, fault_modes=2, seed=4, test_rul=(150.0, 150.0))
    _, test, _ = make_synthetic_subset(**layout, life=(160.0, 170.0))
    unit = test.head(8).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("s2")).alias("s2")
    )
    law = draw_law(np.random.default_rng(4), 6, 2)
    lives, rates = np.array([150.0, 165.0]), np.array([3.5, 6.0])
    got = _log_likelihood(law, unit, lives, rates)

    settings = unit.select("setting1", "setting2", "setting3").to_numpy()
    regimes = np.argmin(((settings[:, None] - law.conditions[None]) ** 2).sum(-1), axis=1)
    readings = unit.select(SENSORS).to_numpy() - law.base[regimes]
    used = [j for j in range(21) if law.noise[j] > 0 and j != FLICKER_SENSOR - 1]
    t = np.arange(1, unit.height + 1)
    want = np.empty((2, 2))
    for i, life in enumerate(lives):
        for k, rate in enumerate(rates):
            d = wear(rate * t / life, rate)
            per_mode = []
            for s in law.sensitivity:
                total = 0.0
                for j in used:
                    seen = ~np.isnan(readings[:, j])
                    n = int(seen.sum())
                    cov = s[j] ** 2 * OFFSET_SD**2 * np.ones((n, n)) + law.noise[j] ** 2 * np.eye(n)
                    total += multivariate_normal(s[j] * d[seen], cov).logpdf(readings[seen, j])
                per_mode.append(total)
            want[i, k] = np.log(np.mean(np.exp(np.array(per_mode) - max(per_mode)))) + max(per_mode)
    # up to the constant every grid point shares (the normal's 2π)
    assert got - got[0, 0] == pytest.approx(want - want[0, 0], abs=1e-6)


def test_the_bound_is_unbiased_and_beats_the_estimate_that_ignores_the_cut() -> None:
    """On 300 test engines of the FD001-like layout: the posterior mean is unbiased, and knowing
    how the test series were cut beats taking the last cycle as any cycle of a life."""
    layout = {**SYNTHETIC_VARIANTS["fd001_like"], "n_train": 1, "n_test": 300}
    _, test, truth = make_synthetic_subset(seed=2, **layout)
    est = bayes_rul(test, seed=2, **layout).join(truth, on="unit")
    err = (est["rul_bayes"] - est["rul"]).to_numpy()
    assert abs(err.mean()) < 3 * err.std() / np.sqrt(err.size)
    figures = bayes_bound(test, truth.select("unit", "rul"), seed=2, cap=125.0, **layout)
    assert figures["rmse_bayes"] < figures["rmse_bayes_rows"]
    assert figures["rmse_bayes_capped"] >= figures["rmse_bayes"] - 1.0
    # the readings matter: another fleet's law (another seed) is far off
    wrong = bayes_bound(test, truth.select("unit", "rul"), seed=3, cap=125.0, **layout)
    assert wrong["rmse_bayes"] > figures["rmse_bayes"] + 5


def test_missing_readings_and_settings_cost_the_bound_little() -> None:
    """The same engines with 10 % of their readings missing (the generator draws the gaps apart
    from the fleet): a row missing a setting is placed by its readings, so the bound stays near
    the one without gaps."""
    layout = {**SYNTHETIC_VARIANTS["six_regimes"], "n_train": 1, "n_test": 60}
    _, full, truth = make_synthetic_subset(seed=5, **layout)
    _, gappy, _ = make_synthetic_subset(seed=5, **layout, missing=0.1)
    assert gappy.select(pl.col("setting1").is_null().sum()).item() > 0
    y = truth.select("unit", "rul")
    complete = bayes_bound(full, y, seed=5, cap=125.0, **layout)["rmse_bayes"]
    gaps = bayes_bound(gappy, y, seed=5, cap=125.0, **layout)["rmse_bayes"]
    assert complete <= gaps + 1.0 and gaps < complete + 3.0


def test_the_bound_takes_the_generators_own_defaults_and_refuses_other_keywords() -> None:
    layout = full_layout(**SYNTHETIC_VARIANTS["fd001_like"])
    assert layout["life"] == (120.0, 260.0) and layout["test_rul"] == (5.0, 140.0)
    assert layout["n_regimes"] == 1 and "seed" not in layout
    _, test, _ = make_synthetic_subset(n_train=1, n_test=2, seed=0)
    with pytest.raises(ValueError, match=r"not a layout keyword.*'lives'"):
        bayes_rul(test, seed=0, lives=(1.0, 2.0))
