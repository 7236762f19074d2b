"""Degradation ("physics") branch: health index, conjugate update, RUL with interval, no cap."""

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy.stats import multivariate_normal

from dt_platform.phm.cmapss import SENSORS, SETTINGS, add_train_rul, make_synthetic_subset
from dt_platform.phm.features import SensorNormalizer
from dt_platform.phm.health_index import HI, DegradationModel, PhysicsBranch, conjugate_update


@pytest.fixture(scope="module")
def branch() -> dict:
    # One fleet (same engine type), split into training units and unseen units.
    fleet, _, _ = make_synthetic_subset(n_train=45, n_test=1, n_regimes=1, seed=21, life=(150, 380))
    train = fleet.filter(pl.col("unit") <= 30)
    norm = SensorNormalizer.fit(train, sensors=SENSORS, settings=SETTINGS)
    fitted = PhysicsBranch.fit(train, unit="unit", time="cycle", normalizer=norm)
    fresh = add_train_rul(fleet.filter(pl.col("unit") > 30))
    return {"branch": fitted, "fresh": fresh, "pred": fitted.predict(fresh)}


def test_conjugate_update_equals_statsmodels_mixed_estimation() -> None:
    rng = np.random.default_rng(0)
    n, sigma2 = 40, 0.3**2
    x = np.column_stack([np.ones(n), -np.expm1(0.02 * np.arange(n))])
    y = x @ [1.0, 0.4] + rng.normal(0, 0.3, n)
    mu0 = np.array([0.9, 0.2])
    cov0 = np.array([[0.04, 0.01], [0.01, 0.09]])
    mean, cov, log_ml = conjugate_update(
        x.T @ x, x.T @ y, np.array(y @ y), np.array(float(n)), mu0, cov0, sigma2
    )
    # Theil-Goldberger: the prior as two extra pseudo-observations, then WLS with known scale.
    root_inv = np.linalg.inv(np.linalg.cholesky(cov0))
    x_aug = np.vstack([x, np.sqrt(sigma2) * root_inv])
    y_aug = np.concatenate([y, np.sqrt(sigma2) * root_inv @ mu0])
    fit = sm.WLS(y_aug, x_aug, weights=np.ones(n + 2)).fit(
        cov_type="fixed scale", cov_kwds={"scale": sigma2}
    )
    assert mean == pytest.approx(fit.params, rel=1e-9)
    assert cov == pytest.approx(fit.cov_params(), rel=1e-9)
    expected = multivariate_normal(x @ mu0, sigma2 * np.eye(n) + x @ cov0 @ x.T).logpdf(y)
    assert float(log_ml) == pytest.approx(expected, rel=1e-9)


def test_health_index_runs_from_one_to_zero(branch: dict) -> None:
    fresh = branch["fresh"]
    hi = branch["branch"].health_index.transform(fresh)
    start = hi.filter(pl.col("cycle") <= 20)[HI].mean()
    end = hi.filter(pl.col("rul") <= 5)[HI].mean()
    assert start == pytest.approx(1.0, abs=0.15)
    assert end == pytest.approx(0.0, abs=0.2)
    assert branch["branch"].health_index.sensors  # informative sensors were selected


def test_the_health_index_is_fitted_when_no_row_has_every_reading() -> None:
    fleet, _, _ = make_synthetic_subset(n_train=12, n_test=1, n_regimes=1, seed=5)
    # every row misses one of the informative sensors: none is a complete case
    informative = ["s2", "s3", "s4", "s7", "s11", "s12"]
    gaps = fleet.with_columns(
        pl.when(pl.int_range(pl.len()) % len(informative) == i)
        .then(None)
        .otherwise(pl.col(s))
        .alias(s)
        for i, s in enumerate(informative)
    )
    norm = SensorNormalizer.fit(gaps, sensors=SENSORS, settings=SETTINGS)
    fitted = PhysicsBranch.fit(gaps, unit="unit", time="cycle", normalizer=norm)
    hi = fitted.health_index.transform(add_train_rul(gaps))
    assert hi[HI].is_finite().all()
    assert (
        hi.filter(pl.col("cycle") <= 20)[HI].mean() > hi.filter(pl.col("rul") <= 5)[HI].mean() + 0.5
    )


def test_rul_is_accurate_near_failure_and_interval_is_calibrated(branch: dict) -> None:
    pred = branch["pred"].join(branch["fresh"].select("unit", "cycle", "rul"), on=["unit", "cycle"])
    late = pred.filter(pl.col("rul") <= 60)
    err = late["rul_phys"].to_numpy() - late["rul"].to_numpy()
    assert np.sqrt(np.mean(err**2)) < 20
    y = pred["rul"].to_numpy()
    inside = (y >= pred["rul_phys_lo"].to_numpy()) & (y <= pred["rul_phys_hi"].to_numpy())
    assert 0.7 <= inside.mean() <= 1.0
    lo, med, hi = (pred[c].to_numpy() for c in ("rul_phys_lo", "rul_phys", "rul_phys_hi"))
    assert (lo <= med).all() and (med <= hi).all() and (lo >= 0).all()
    # the interval narrows as the unit approaches failure
    width = pred.with_columns((pl.col("rul_phys_hi") - pl.col("rul_phys_lo")).alias("w"))
    assert (
        width.filter(pl.col("rul") <= 30)["w"].mean()
        < width.filter(pl.col("rul") >= 150)["w"].mean()
    )


def test_rul_is_not_capped(branch: dict) -> None:
    pred = branch["pred"].join(branch["fresh"].select("unit", "cycle", "rul"), on=["unit", "cycle"])
    early = pred.filter(pl.col("rul") >= 200)
    assert early.height > 0
    assert early["rul_phys"].median() > 150  # well beyond the ML branch's cap of 125


def test_prediction_at_t_uses_only_history_up_to_t(branch: dict) -> None:
    fresh = branch["fresh"]
    cut = fresh.filter(pl.col("cycle") <= 80)
    full = branch["pred"].filter(pl.col("cycle") <= 80)
    assert branch["branch"].predict(cut).equals(full)
    last = branch["branch"].predict(cut, last_only=True)
    assert last.height == fresh["unit"].n_unique()
    assert last.equals(full.group_by("unit", maintain_order=True).tail(1))


def test_serialization_round_trip(branch: dict) -> None:
    again = PhysicsBranch.from_dict(branch["branch"].to_dict())
    sample = branch["fresh"].filter(pl.col("unit") <= 33)
    assert again.predict(sample).equals(branch["branch"].predict(sample))


def test_missing_health_index_rows_carry_the_last_estimate(branch: dict) -> None:
    deg: DegradationModel = branch["branch"].degradation
    unit = branch["branch"].health_index.transform(branch["fresh"].filter(pl.col("unit") == 31))
    t = unit["cycle"].to_numpy().astype(float)
    h = unit[HI].to_numpy().copy()
    base = deg.predict_unit(t, h)
    h[50:53] = np.nan
    gap = deg.predict_unit(t, h)
    assert gap[:50] == pytest.approx(base[:50])
    assert gap[51] == pytest.approx(np.clip(gap[49] - 2.0, 0, None))
    assert np.isfinite(gap).all()


def test_a_run_too_short_to_place_its_curve_stays_out_of_the_fleet_prior(branch: dict) -> None:
    fitted = branch["branch"]
    train = make_synthetic_subset(n_train=45, n_test=1, n_regimes=1, seed=21, life=(150, 380))[0]
    rows = fitted.health_index.transform(train.filter(pl.col("unit") <= 30))
    rows = rows.select("unit", "cycle", HI)
    # a unit that failed 8 cycles into its record: the last 8 rows of another unit's run
    short = (
        rows.filter(pl.col("unit") == 1).tail(8).with_columns(pl.lit(99, pl.Int64).alias("unit"))
    )
    base = DegradationModel.fit(rows, unit="unit", time="cycle")
    with_short = DegradationModel.fit(pl.concat([rows, short]), unit="unit", time="cycle")
    assert {u["unit"] for u in with_short.fleet["units"]} == set(range(1, 31))
    assert with_short.fleet["left_out"] == [99] and "left_out" not in base.fleet
    for key in ("prior_mean", "prior_cov", "log_rate_prior", "threshold_mean", "sigma2"):
        assert getattr(with_short, key) == getattr(base, key), key


def test_fit_needs_degrading_units() -> None:
    rng = np.random.default_rng(0)
    flat = pl.DataFrame(
        {"unit": np.repeat([1, 2], 50), "t": np.tile(np.arange(50), 2), "x": rng.normal(size=100)}
    )
    norm = SensorNormalizer.fit(flat, sensors=["x"])
    with pytest.raises(ValueError, match="no sensor correlates"):
        PhysicsBranch.fit(flat, unit="unit", time="t", normalizer=norm)


@pytest.fixture(scope="module")
def sim_branch(branch: dict) -> dict:
    fleet, _, _ = make_synthetic_subset(n_train=45, n_test=1, n_regimes=1, seed=21, life=(150, 380))
    train = fleet.filter(pl.col("unit") <= 30)
    norm = SensorNormalizer.fit(train, sensors=SENSORS, settings=SETTINGS)
    fitted = PhysicsBranch.fit(
        train, unit="unit", time="cycle", normalizer=norm, method="similarity"
    )
    return {"branch": fitted, "pred": fitted.predict(branch["fresh"])}


def test_similarity_method_gives_an_uncapped_rul_with_ordered_interval(
    branch: dict, sim_branch: dict
) -> None:
    fitted: PhysicsBranch = sim_branch["branch"]
    assert fitted.degradation is None and fitted.similarity is not None
    assert "similarity" in fitted.describe() and "health index" in fitted.describe()
    # the same health index as the exponential branch: only the degradation model differs
    assert fitted.health_index.coef == pytest.approx(branch["branch"].health_index.coef)
    pred = sim_branch["pred"].join(
        branch["fresh"].select("unit", "cycle", "rul"), on=["unit", "cycle"]
    )
    assert pred.columns[:7] == [
        "unit", "cycle", "rul_phys", "rul_phys_lo", "rul_phys_hi", "rul_phys_mean", HI
    ]  # fmt: skip
    late = pred.filter(pl.col("rul") <= 60)
    err = late["rul_phys"].to_numpy() - late["rul"].to_numpy()
    assert np.sqrt(np.mean(err**2)) < 20
    lo, med, hi = (pred[c].to_numpy() for c in ("rul_phys_lo", "rul_phys", "rul_phys_hi"))
    assert (lo <= med).all() and (med <= hi).all() and (lo >= 0).all()
    assert pred.filter(pl.col("rul") >= 200)["rul_phys"].median() > 150


def test_similarity_branch_round_trip_and_old_bundles(branch: dict, sim_branch: dict) -> None:
    sample = branch["fresh"].filter(pl.col("unit") <= 32)
    again = PhysicsBranch.from_dict(sim_branch["branch"].to_dict())
    assert again.predict(sample).equals(sim_branch["branch"].predict(sample))
    # bundles written before the similarity method existed carry no method/similarity keys
    old = branch["branch"].to_dict()
    del old["method"], old["similarity"]
    restored = PhysicsBranch.from_dict(old)
    assert restored.method == "exponential"
    assert restored.predict(sample).equals(branch["branch"].predict(sample))
    with pytest.raises(ValueError, match="method"):
        PhysicsBranch.fit(
            branch["fresh"],
            unit="unit",
            time="cycle",
            normalizer=branch["branch"].health_index.normalizer,
            method="lstm",
        )
