"""Fusion: beats each branch on held-out units, calibrated interval, physics weight early in life."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.fusion import ML_COLS, PHYSICS_COLS, Fuser
from dt_platform.phm.fusion_basis import branch_sigma, hat_basis, precision_share, stack_point

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cmapss"
Z90 = 1.6448536269514722


def _branches(n_units: int, seed: int) -> pl.DataFrame:
    """A fleet where the data branch is sharp but capped at 125 and the physics branch is
    unbiased but noisy: neither dominates everywhere, so a good fusion must beat both."""
    rng = np.random.default_rng(seed)
    parts = []
    for u in range(n_units):
        life = int(rng.uniform(150, 300))
        y = np.arange(life, -1, -1, dtype=float)
        y = y[y <= 200]
        sd_ml = 2.0 + 0.06 * np.minimum(y, 125)
        ml = np.minimum(y, 125) + rng.normal(0, sd_ml)
        sd_ph = 5.0 + 0.07 * y
        ph = y + rng.normal(0, sd_ph)
        parts.append(
            pl.DataFrame(
                {
                    "unit": np.full(len(y), u),
                    "rul": y,
                    "rul_mean": ml,
                    "rul_p05": np.clip(ml - Z90 * sd_ml, 0, None),
                    "rul_p95": ml + Z90 * sd_ml,
                    "rul_phys": ph,
                    "rul_phys_lo": np.clip(ph - Z90 * sd_ph, 0, None),
                    "rul_phys_hi": ph + Z90 * sd_ph,
                }
            )
        )
    return pl.concat(parts)


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.mark.parametrize("method", ["stack", "ivw"])
def test_fusion_beats_both_branches_on_unseen_synthetic_units(method: str) -> None:
    fuser = Fuser.fit(_branches(40, seed=1), truth="rul", groups="unit", method=method)
    cv = fuser.cv
    assert cv["held_out"]
    assert cv["rmse_fused"] < cv["rmse_ml"] and cv["rmse_fused"] < cv["rmse_physics"]
    fresh = _branches(30, seed=2)
    pred = fuser.predict(fresh)
    y = fresh["rul"].to_numpy()
    fused = pred["rul_fused"].to_numpy()
    assert _rmse(fused, y) < _rmse(fresh["rul_mean"].to_numpy(), y)
    assert _rmse(fused, y) < _rmse(fresh["rul_phys"].to_numpy(), y)
    inside = (y >= pred["rul_fused_lo"].to_numpy()) & (y <= pred["rul_fused_hi"].to_numpy())
    assert 0.82 <= inside.mean() <= 0.97
    assert (pred["rul_fused_lo"] <= pred["rul_fused"]).all()
    assert (pred["rul_fused"] <= pred["rul_fused_hi"]).all()
    assert (pred["rul_fused_lo"] >= 0).all()


def test_the_held_out_fusion_is_also_scored_band_by_band() -> None:
    data = _branches(30, seed=5)
    fuser = Fuser.fit(data, truth="rul", groups="unit", bands=(0.0, 60.0, 125.0, 200.0))
    bands = fuser.cv["by_truth_band"]
    assert [(b["rul_from"], b["rul_to"]) for b in bands] == [(0, 60), (60, 125), (125, 200)]
    assert sum(b["rows"] for b in bands) == data.height
    # the bands partition the rows: their squared errors add up to the pooled ones
    for key in ("rmse_fused", "rmse_ml", "rmse_physics"):
        pooled = np.sqrt(sum(b["rows"] * b[key] ** 2 for b in bands) / data.height)
        assert pooled == pytest.approx(fuser.cv[key])
    # the capped data branch loses past the cap, where only the physics can tell the life
    top = bands[-1]
    assert top["rmse_ml"] > top["rmse_fused"] and top["rmse_ml"] > bands[0]["rmse_ml"]
    assert "by_truth_band" not in Fuser.fit(data, truth="rul", groups="unit").cv


def test_physics_dominates_early_in_life_and_data_late() -> None:
    fuser = Fuser.fit(_branches(40, seed=3), truth="rul", groups="unit", method="ivw")
    pred = _branches(20, seed=4)
    w = fuser.predict(pred)["w_physics"].to_numpy()
    y = pred["rul"].to_numpy()
    assert w[y >= 170].mean() > 0.6  # ML is capped and blind there
    assert w[y <= 30].mean() < 0.3  # ML is sharp near failure


def test_asymmetric_fit_predicts_earlier() -> None:
    data = _branches(30, seed=5)
    sym = Fuser.fit(data, truth="rul", method="stack").predict(data)["rul_fused"].to_numpy()
    late_averse = Fuser.fit(data, truth="rul", method="stack", asymmetry=3.0)
    asym = late_averse.predict(data)["rul_fused"].to_numpy()
    y = data["rul"].to_numpy()
    assert (asym - y).mean() < (sym - y).mean()
    assert ((asym - y) > 0).mean() < ((sym - y) > 0).mean()


def test_hat_basis_partition_of_unity_and_interpolation() -> None:
    basis = hat_basis(np.array([-5.0, 0.0, 2.5, 5.0, 10.0, 99.0]), [0.0, 5.0, 10.0])
    assert basis.sum(axis=1) == pytest.approx(np.ones(6))
    assert basis[2].tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert basis[0].tolist() == [1.0, 0.0, 0.0]  # constant beyond the end knots
    assert basis[5].tolist() == [0.0, 0.0, 1.0]


def _one_branch_is_all_there_is(n_units: int, seed: int, best: str) -> pl.DataFrame:
    """``best`` is the conditional mean of the truth (truth = best + noise) and the other
    branch is pure noise: no fusion can add anything, it can only add its fitting error."""
    rng = np.random.default_rng(seed)
    frame = _branches(n_units, seed)
    n = frame.height
    good = rng.uniform(0.0, 200.0, size=n)
    noise = rng.uniform(0.0, 200.0, size=n)
    ml, ph = (good, noise) if best == "ml" else (noise, good)
    return frame.with_columns(
        rul=pl.Series(good + rng.normal(0.0, 8.0, size=n)),
        rul_mean=pl.Series(ml),
        rul_p05=pl.Series(np.clip(ml - 13.0, 0.0, None)),
        rul_p95=pl.Series(ml + 13.0),
        rul_phys=pl.Series(ph),
        rul_phys_lo=pl.Series(np.clip(ph - 13.0, 0.0, None)),
        rul_phys_hi=pl.Series(ph + 13.0),
    )


@pytest.mark.parametrize("best", ["ml", "physics"])
def test_fuser_falls_back_to_the_better_branch_when_fusing_cannot_add(best: str) -> None:
    data = _one_branch_is_all_there_is(30, seed=8, best=best)
    fuser = Fuser.fit(data, truth="rul", groups="unit", fallback=True)
    assert fuser.basis == best and fuser.cv["basis"] == best
    assert fuser.cv["rmse_fusion_held_out"] >= fuser.cv[f"rmse_{best}"]
    evidence = fuser.cv["fallback_test"]  # unit by unit, beyond chance
    assert evidence["fallback"] == best and evidence["groups"] == 30
    assert evidence["p_candidate_better"] <= 0.05
    fresh = _one_branch_is_all_there_is(10, seed=9, best=best)
    pred = fuser.predict(fresh)
    column = "rul_mean" if best == "ml" else "rul_phys"
    assert np.array_equal(pred["rul_fused"].to_numpy(), fresh[column].to_numpy())
    assert (pred["w_physics"] == (1.0 if best == "physics" else 0.0)).all()
    y = fresh["rul"].to_numpy()
    inside = (y >= pred["rul_fused_lo"].to_numpy()) & (y <= pred["rul_fused_hi"].to_numpy())
    assert 0.82 <= inside.mean() <= 0.97  # the fallback keeps a calibrated interval
    assert Fuser.from_dict(fuser.to_dict()).predict(fresh).equals(pred)
    # Without the rule the same rows keep the fusion; where fusing adds, the rule keeps it too.
    assert Fuser.fit(data, truth="rul", groups="unit").basis == "fused"
    assert Fuser.fit(_branches(40, seed=1), truth="rul", groups="unit", fallback=True).basis == (
        "fused"
    )
    with pytest.raises(ValueError, match="pass groups"):
        Fuser.fit(data, truth="rul", fallback=True)


def test_fuser_never_extrapolates_a_branch_beyond_its_fitted_range() -> None:
    data = _branches(20, seed=10)
    fuser = Fuser.fit(data, truth="rul", groups="unit")
    top = fuser.input_max["rul_phys"]
    assert top == pytest.approx(data["rul_phys"].max())
    wild = data.head(50).with_columns(
        rul_phys=pl.lit(1e6), rul_phys_lo=pl.lit(9e5), rul_phys_hi=pl.lit(2e6)
    )
    at_top = data.head(50).with_columns(
        rul_phys=pl.lit(top), rul_phys_lo=pl.lit(top), rul_phys_hi=pl.lit(top)
    )
    assert fuser.predict(wild).equals(fuser.predict(at_top))


def _with_age(n_units: int, seed: int) -> pl.DataFrame:
    """A fleet of alike lives (240-260 cycles) with each row's age: the data branch is sharp but
    capped at 125, the physics branch knows little (sd 40). Past the cap the age tells what is
    left; neither branch does."""
    rng = np.random.default_rng(seed)
    parts = []
    for u in range(n_units):
        age = np.arange(0.0, rng.uniform(240, 260))
        y = age[-1] - age
        age, y = age[y <= 200], y[y <= 200]
        ml = np.minimum(y, 125) + rng.normal(0, 3, len(y))
        ph = y + rng.normal(0, 40, len(y))
        parts.append(
            pl.DataFrame(
                {
                    "unit": np.full(len(y), u),
                    "age": age,
                    "rul": y,
                    "rul_mean": ml,
                    "rul_p05": np.clip(ml - 5, 0, None),
                    "rul_p95": ml + 5,
                    "rul_phys": ph,
                    "rul_phys_lo": np.clip(ph - 66, 0, None),
                    "rul_phys_hi": ph + 66,
                }
            )
        )
    return pl.concat(parts)


def test_a_further_input_lets_the_stack_tell_what_the_capped_branch_cannot() -> None:
    data = _with_age(30, seed=12)
    plain = Fuser.fit(data, truth="rul", groups="unit")
    aged = Fuser.fit(data, truth="rul", groups="unit", inputs=["age"])
    assert aged.inputs == ("age",)
    # held out by unit: with the age the units past the cap are told apart
    assert aged.cv["rmse_fused"] < 0.8 * plain.cv["rmse_fused"]
    past_cap = (data["rul"] > 140).to_numpy()
    err = aged.predict(data)["rul_fused"].to_numpy() - data["rul"].to_numpy()
    err_plain = plain.predict(data)["rul_fused"].to_numpy() - data["rul"].to_numpy()
    assert np.sqrt(np.mean(err[past_cap] ** 2)) < 0.6 * np.sqrt(np.mean(err_plain[past_cap] ** 2))
    # an input beyond the range it was fitted on enters at the edge of that range
    top = aged.input_max["age"]
    assert top == pytest.approx(data["age"].max())
    rows = data.head(40)
    assert aged.predict(rows.with_columns(age=pl.lit(1e6))).equals(
        aged.predict(rows.with_columns(age=pl.lit(top)))
    )
    # the bundle keeps its inputs; a bundle from before them has none
    again = Fuser.from_dict(aged.to_dict())
    assert again.inputs == ("age",) and again.predict(data).equals(aged.predict(data))
    old = {k: v for k, v in plain.to_dict().items() if k != "inputs"}
    assert Fuser.from_dict(old).predict(data).equals(plain.predict(data))
    with pytest.raises(ValueError, match=r"\['age'\] missing"):
        aged.predict(data.drop("age"))
    with pytest.raises(ValueError, match="need method 'stack'"):
        Fuser.fit(data, truth="rul", groups="unit", method="ivw", inputs=["age"])
    with pytest.raises(ValueError, match="missing"):
        Fuser.fit(data.drop("age"), truth="rul", inputs=["age"])


def test_the_stack_with_the_branches_confidence_nests_inverse_variance_weighting() -> None:
    rng = np.random.default_rng(4)
    ml, ph = rng.uniform(0, 150, 50), rng.uniform(0, 150, 50)
    s_ml, s_ph = branch_sigma(ml - 10, ml + rng.uniform(10, 60, 50)), rng.uniform(2, 40, 50)
    share = precision_share(s_ml, s_ph)
    assert np.allclose(share, (1 / s_ph**2) / (1 / s_ml**2 + 1 / s_ph**2))
    one_knot = np.ones((50, 1))
    fused, w_ph = stack_point(one_knot, [0.0, 1.0, 0.0, -1.0, 1.0], ml, ph, None, share)
    assert np.allclose(fused, (1 - share) * ml + share * ph) and np.allclose(w_ph, share)
    with pytest.raises(ValueError, match="for 2 further term"):
        stack_point(one_knot, [0.0, 1.0, 0.0, -1.0, 1.0], ml, ph)


def _uneven_confidence(n_units: int, seed: int) -> pl.DataFrame:
    """Both branches unbiased, each row's either sharp (sd 3) or vague (sd 30) at random and
    independently, and each branch's interval says which: their estimates (the context) do not
    tell the rows apart, their intervals do."""
    rng = np.random.default_rng(seed)
    parts = []
    for u in range(n_units):
        y = np.arange(rng.uniform(150, 250), -1, -1.0)
        y = y[y <= 200]
        columns = {"unit": np.full(len(y), u), "rul": y}
        for mean, lo, hi in (ML_COLS, PHYSICS_COLS):
            sd = np.where(rng.random(len(y)) < 0.5, 3.0, 30.0)
            estimate = y + rng.normal(0, sd)
            columns |= {mean: estimate, lo: estimate - Z90 * sd, hi: estimate + Z90 * sd}
        parts.append(pl.DataFrame(columns))
    return pl.concat(parts)


def test_weighing_the_branches_confidence_lets_the_stack_trust_the_surer_branch_row_by_row() -> (
    None
):
    data = _uneven_confidence(30, seed=21)
    plain = Fuser.fit(data, truth="rul", groups="unit")
    sure = Fuser.fit(data, truth="rul", groups="unit", confidence=True)
    assert sure.confidence and not plain.confidence
    assert len(sure.coef) == 5 * len(sure.knots)  # β0, ML, physics, and both weighed by share
    # held out by unit, and on a fresh fleet: close to inverse-variance weighting (~10.9 RMSE
    # here), which the plain stack cannot reach (~15)
    assert sure.cv["rmse_fused"] < 0.8 * plain.cv["rmse_fused"]
    fresh = _uneven_confidence(20, seed=22)
    y = fresh["rul"].to_numpy()
    pred = sure.predict(fresh)
    assert _rmse(pred["rul_fused"].to_numpy(), y) < 0.8 * _rmse(
        plain.predict(fresh)["rul_fused"].to_numpy(), y
    )
    inside = (y >= pred["rul_fused_lo"].to_numpy()) & (y <= pred["rul_fused_hi"].to_numpy())
    assert 0.85 <= inside.mean() <= 0.95
    # the weight on physics follows its confidence: high where only physics is sharp
    width_ph = (fresh["rul_phys_hi"] - fresh["rul_phys_lo"]).to_numpy()
    width_ml = (fresh["rul_p95"] - fresh["rul_p05"]).to_numpy()
    only_physics_sharp = (width_ph < 20) & (width_ml > 50)
    only_ml_sharp = (width_ph > 50) & (width_ml < 20)
    w_ph = pred["w_physics"].to_numpy()
    assert w_ph[only_physics_sharp].mean() > 0.8 and w_ph[only_ml_sharp].mean() < 0.2
    # the bundle keeps the choice; a bundle from before it fuses without
    again = Fuser.from_dict(sure.to_dict())
    assert again.confidence and again.predict(fresh).equals(pred)
    old = {k: v for k, v in plain.to_dict().items() if k != "confidence"}
    assert Fuser.from_dict(old).predict(fresh).equals(plain.predict(fresh))
    with pytest.raises(ValueError, match="confidence needs method 'stack'"):
        Fuser.fit(data, truth="rul", groups="unit", method="ivw", confidence=True)


def test_round_trip_and_input_errors() -> None:
    data = _branches(12, seed=6)
    fuser = Fuser.fit(data, truth="rul", groups="unit", n_splits=3)
    again = Fuser.from_dict(fuser.to_dict())
    assert again.predict(data).equals(fuser.predict(data))
    with pytest.raises(ValueError, match="missing"):
        Fuser.fit(data.drop("rul_phys"), truth="rul")
    with pytest.raises(ValueError, match="method"):
        Fuser.fit(data, truth="rul", method="average")


@pytest.mark.cmapss
@pytest.mark.slow
@pytest.mark.skipif(
    not (DATA / "train_FD001.txt").is_file(), reason=f"C-MAPSS FD001 not found in {DATA}"
)
def test_fusion_beats_both_branches_on_held_out_cmapss_units() -> None:
    """Cross-fitted on out-of-fold FD001 *training* units only (the test file is not read)."""
    from dt_platform.phm.cmapss import PipelineConfig, fit_hybrid, load_subset
    from dt_platform.phm.ml import XGBParams

    train, _, _ = load_subset(DATA, "FD001")
    config = PipelineConfig(
        params=XGBParams(n_estimators=120, learning_rate=0.1),
        quantile_params=XGBParams(n_estimators=40, max_depth=3, learning_rate=0.2),
    )
    cv = fit_hybrid(train, config).cv
    assert cv["held_out"]
    assert cv["rmse_fused"] < cv["rmse_ml"]
    assert cv["rmse_fused"] < cv["rmse_physics"]
    assert 0.85 <= cv["coverage"] <= 0.95
