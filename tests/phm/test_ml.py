"""XGBoost RUL branch: capped target, unit-grouped folds, determinism, content-hash version, bands."""

import hashlib

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.cmapss import SENSORS, SETTINGS, add_train_rul, make_synthetic_subset
from dt_platform.phm.features import SensorNormalizer, build_features, feature_columns
from dt_platform.phm.ml import RulModel, XGBParams, capped_rul, conformal_margin, group_kfold

SMALL = XGBParams(n_estimators=25, max_depth=3, learning_rate=0.2)
SMALL_Q = XGBParams(n_estimators=15, max_depth=3, learning_rate=0.2)
FEATURES = dict(windows=(5, 15), stats=("mean",), spans=(10,), slope_windows=(20,))


def _features(frame: pl.DataFrame, norm: SensorNormalizer) -> pl.DataFrame:
    return build_features(
        frame,
        unit="unit",
        time="cycle",
        sensors=SENSORS,
        normalizer=norm,
        keep=[c for c in ("rul",) if c in frame.columns],
        **FEATURES,
    )


@pytest.fixture(scope="module")
def fleet() -> dict:
    # One fleet (same engine type), split into training units and unseen units.
    fleet, _, _ = make_synthetic_subset(n_train=32, n_test=1, n_regimes=1, seed=11)
    fleet = add_train_rul(fleet)
    train = fleet.filter(pl.col("unit") <= 20)
    norm = SensorNormalizer.fit(train, sensors=SENSORS, settings=SETTINGS)
    feats = _features(train, norm)
    cols = feature_columns(norm.sensors, **FEATURES)
    model = RulModel.fit(
        feats,
        feats["rul"],
        feats["unit"],
        feature_columns=cols,
        params=SMALL,
        quantile_params=SMALL_Q,
        n_splits=4,
    )
    fresh = fleet.filter(pl.col("unit") > 20)
    return {
        "feats": feats,
        "cols": cols,
        "model": model,
        "norm": norm,
        "fresh": _features(fresh, norm),
    }


def test_capped_target_is_piecewise_linear() -> None:
    assert capped_rul([0, 50, 125, 200, -3]).tolist() == [0, 50, 125, 125, 0]
    assert capped_rul([10, 300], cap=130).tolist() == [10, 130]
    assert capped_rul([10, 300], cap=None).tolist() == [10, 300]
    with pytest.raises(ValueError):
        capped_rul([1], cap=0)


def test_group_kfold_holds_out_whole_units_deterministically() -> None:
    groups = np.repeat(np.arange(13), np.arange(13) + 5)
    folds = group_kfold(groups, 4, seed=3)
    seen = np.concatenate([va for _, va in folds])
    assert sorted(seen.tolist()) == list(range(len(groups)))  # every row validated exactly once
    for tr, va in folds:
        assert not set(groups[tr]) & set(groups[va])
    again = group_kfold(groups, 4, seed=3)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))
    with pytest.raises(ValueError, match="folds"):
        group_kfold([1, 1, 2], 3)


def test_model_is_deterministic_and_versioned_by_content(fleet: dict) -> None:
    f, cols, model = fleet["feats"], fleet["cols"], fleet["model"]
    again = RulModel.fit(
        f,
        f["rul"],
        f["unit"],
        feature_columns=cols,
        params=SMALL,
        quantile_params=SMALL_Q,
        n_splits=4,
    )
    assert again.to_bytes() == model.to_bytes()
    assert model.version == hashlib.sha256(model.to_bytes()).hexdigest()
    reseeded = RulModel.fit(
        f,
        f["rul"],
        f["unit"],
        feature_columns=cols,
        params=XGBParams(**{**SMALL.__dict__, "seed": 7}),
        quantile_params=SMALL_Q,
        n_splits=4,
    )
    assert reseeded.version != model.version


def test_bytes_round_trip_predicts_identically(fleet: dict) -> None:
    model = fleet["model"]
    loaded = RulModel.from_bytes(model.to_bytes())
    assert loaded.version == model.version
    assert loaded.predict(fleet["fresh"]).equals(model.predict(fleet["fresh"]))
    with pytest.raises(ValueError, match="truncated"):
        RulModel.from_bytes(model.to_bytes()[:-10])
    with pytest.raises(ValueError, match="magic"):
        RulModel.from_bytes(b"not a model")


def test_quantiles_are_ordered_non_negative_and_capped(fleet: dict) -> None:
    pred = fleet["model"].predict(fleet["fresh"])
    p05, p50, p95, mean = (
        pred[c].to_numpy() for c in ("rul_p05", "rul_p50", "rul_p95", "rul_mean")
    )
    assert (p05 >= 0).all()
    assert (p05 <= p50).all() and (p50 <= p95).all()
    assert (p05 <= mean).all() and (mean <= p95).all()
    assert mean.max() <= 125.0


def test_interval_is_calibrated_on_held_out_units(fleet: dict) -> None:
    model, f = fleet["model"], fleet["feats"]
    y = np.minimum(f["rul"].to_numpy(), 125)
    oof = model.oof
    assert oof["fold"].min() == 0  # every training row got an out-of-fold prediction
    inside = (y >= oof["rul_p05"].to_numpy()) & (y <= oof["rul_p95"].to_numpy())
    assert inside.mean() >= 0.9  # split-conformal guarantee on the calibration rows
    fresh = fleet["fresh"]
    pred = model.predict(fresh)
    y_new = np.minimum(fresh["rul"].to_numpy(), 125)
    cover = ((y_new >= pred["rul_p05"].to_numpy()) & (y_new <= pred["rul_p95"].to_numpy())).mean()
    assert 0.75 <= cover <= 1.0
    # the point model learned something real on unseen units
    naive = np.sqrt(np.mean((y_new - y_new.mean()) ** 2))
    assert np.sqrt(np.mean((pred["rul_mean"].to_numpy() - y_new) ** 2)) < 0.5 * naive


def test_conformal_margin_hand_case() -> None:
    lo, hi = np.zeros(9), np.full(9, 10.0)
    y = np.array([-3, -1, 2, 5, 8, 11, 12, 14, 20], dtype=float)
    # scores max(lo-y, y-hi): 3, 1, -2, -5, -2, 1, 2, 4, 10; level ceil(10*0.8)/9 -> 8th of 9 sorted = 4
    assert conformal_margin(lo, hi, y, 0.8) == 4.0


def test_fit_rejects_folds_that_mix_units(fleet: dict) -> None:
    f, cols = fleet["feats"], fleet["cols"]
    idx = np.arange(f.height)
    with pytest.raises(ValueError, match="split by unit"):
        RulModel.fit(
            f,
            f["rul"],
            f["unit"],
            feature_columns=cols,
            params=SMALL,
            quantile_params=SMALL_Q,
            folds=[(idx[::2], idx[1::2])],
        )
    with pytest.raises(ValueError, match="aligned"):
        RulModel.fit(f, f["rul"][:-1], f["unit"], feature_columns=cols, params=SMALL)
