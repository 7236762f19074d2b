"""Features: fitted per-regime normalization, constant-sensor dropping, causal (no look-ahead) windows."""

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.cmapss import SENSORS, SETTINGS, make_synthetic_subset
from dt_platform.phm.features import (
    REGIME,
    UNKNOWN_REGIME,
    SensorNormalizer,
    build_features,
    detect_regimes,
    feature_columns,
)


def _fleet(n_units: int = 4, n_rows: int = 60, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_units + 1):
        for t in range(1, n_rows + 1):
            rows.append(
                {
                    "unit": u,
                    "t": t,
                    "op": float(rng.integers(3)) * 10 + rng.normal(0, 0.01),
                    "a": 5 + 0.05 * t + rng.normal(0, 0.3),
                    "b": -2 - 0.02 * t + rng.normal(0, 0.2),
                    "const": 7.0,
                }
            )
    return pl.DataFrame(rows)


@pytest.mark.parametrize("cut", [1, 7, 25, 59])
def test_no_look_ahead_future_rows_do_not_change_past_features(cut: int) -> None:
    frame = _fleet()
    norm = SensorNormalizer.fit(frame, sensors=["a", "b", "const"], settings=["op"])
    kwargs = dict(unit="unit", time="t", sensors=["a", "b", "const"], normalizer=norm)
    before = build_features(frame, **kwargs)
    rng = np.random.default_rng(1)
    future = (pl.col("unit") == 2) & (pl.col("t") > cut)
    perturbed = frame.with_columns(
        pl.when(future)
        .then(pl.col(c) + pl.lit(rng.normal(0, 50, frame.height)))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("a", "b", "op")
    )
    after = build_features(perturbed, **kwargs)
    past = (pl.col("unit") != 2) | (pl.col("t") <= cut)
    cols = feature_columns(norm.sensors)
    assert before.filter(past).select(cols).equals(after.filter(past).select(cols))
    # and the perturbation is visible after the cut, so the comparison above can fail
    if cut < 60:
        assert not before.filter(~past).select(cols).equals(after.filter(~past).select(cols))


def test_truncated_history_gives_the_same_features() -> None:
    """An online prediction at time t equals the one computed later on the full history."""
    frame = _fleet()
    norm = SensorNormalizer.fit(frame, sensors=["a", "b"], settings=["op"])
    kwargs = dict(unit="unit", time="t", sensors=["a", "b"], normalizer=norm)
    full = build_features(frame, **kwargs)
    part = build_features(frame.filter(pl.col("t") <= 33), **kwargs)
    assert part.equals(full.filter(pl.col("t") <= 33))


def test_rolling_values_on_a_known_series() -> None:
    frame = pl.DataFrame(
        {"unit": [1] * 6, "t": list(range(6)), "x": [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]}
    )
    norm = SensorNormalizer(
        sensors=["x"],
        dropped=[],
        settings=[],
        setting_center=[],
        setting_scale=[],
        centroids=[[]],
        mean={"x": [0.0]},
        std={"x": [1.0]},
    )
    f = build_features(
        frame,
        unit="unit",
        time="t",
        sensors=["x"],
        normalizer=norm,
        windows=(3,),
        spans=(3,),
        slope_windows=(3,),
        baseline=2,
    )
    assert f["x_mean3"].to_list() == pytest.approx([0, 1, 2, 4, 6, 8])
    assert f["x_max3"].to_list() == [0, 2, 4, 6, 8, 10]
    assert f["x_min3"].to_list() == [0, 0, 0, 2, 4, 6]
    assert f["x_std3"][0] is None
    assert f["x_std3"][3] == pytest.approx(2.0)
    assert f["x_slope3"][0] is None
    assert f["x_slope3"].to_list()[1:] == pytest.approx([2.0] * 5)
    assert f["x_slope_all"].to_list()[1:] == pytest.approx([2.0] * 5)
    # baseline = mean of the first 2 rows = 1 once two rows exist; drift = ewm - baseline
    assert f["x_drift"][5] == pytest.approx(f["x_ewm3"][5] - 1.0)
    assert f["time_in_service"].to_list() == [0, 1, 2, 3, 4, 5]


def test_units_do_not_leak_into_each_other() -> None:
    frame = pl.DataFrame(
        {"unit": [1, 1, 1, 2, 2, 2], "t": [1, 2, 3] * 2, "x": [1.0, 1, 1, 100, 100, 100]}
    )
    f = build_features(frame, unit="unit", time="t", sensors=["x"], windows=(5,))
    # unit 2's window never reaches unit 1's rows
    assert f.filter(pl.col("unit") == 2)["x_std5"].drop_nulls().to_list() == pytest.approx([0, 0])


def test_detect_regimes_finds_six_conditions_and_one_for_jitter() -> None:
    train, _, _ = make_synthetic_subset(n_train=4, n_test=1, n_regimes=6, seed=3)
    norm = SensorNormalizer.fit(train, sensors=SENSORS, settings=SETTINGS)
    assert norm.n_regimes == 6
    rng = np.random.default_rng(0)
    jitter = rng.normal(0, 1, size=(3000, 3))
    assert len(detect_regimes(jitter)) == 1


def test_regime_normalization_is_fitted_on_train_and_reused() -> None:
    train, test, _ = make_synthetic_subset(n_train=6, n_test=3, n_regimes=6, seed=4)
    norm = SensorNormalizer.fit(train, sensors=SENSORS, settings=SETTINGS)
    z = norm.transform(train)
    stats = z.group_by(REGIME).agg(pl.col("s2").mean().alias("m"), pl.col("s2").std().alias("s"))
    assert stats["m"].abs().max() < 1e-9
    assert stats["s"].to_numpy() == pytest.approx(np.ones(6))
    # raw s2 differs between regimes by far more than its within-regime spread
    raw = train.with_columns(z[REGIME]).group_by(REGIME).agg(pl.col("s2").mean())["s2"]
    assert raw.max() - raw.min() > 10 * stats["s"].max()
    # a shifted "test" fleet keeps the shift: statistics are not re-fitted on it
    shifted = test.with_columns(pl.col("s2") + 1000.0)
    assert norm.transform(shifted)["s2"].mean() > 50
    # serializable: a round trip normalizes identically
    again = SensorNormalizer.from_dict(norm.to_dict())
    assert again.transform(test).equals(norm.transform(test))


def test_a_row_missing_a_setting_keeps_its_regime_only_where_the_others_tell_it() -> None:
    train, _, _ = make_synthetic_subset(n_train=6, n_test=1, n_regimes=6, seed=4)
    full = SensorNormalizer.fit(train, sensors=SENSORS, settings=SETTINGS)
    regime = full.assign_regimes(train)
    # FD002's conditions at 35 and 42 kft share Mach 0.84 and full throttle: a row with its
    # altitude missing could be either, while the other four conditions differ in Mach
    mach_084 = np.isin(regime, [4, 5])
    assert full.n_regimes == 6 and mach_084.any() and (~mach_084).any()
    row = pl.int_range(pl.len())
    gaps = train.with_columns(
        pl.when(row % 10 == 0).then(None).otherwise(pl.col("setting1")).alias("setting1"),
        pl.when(row % 10 == 5).then(None).otherwise(pl.col("setting3")).alias("setting3"),
    ).with_columns(
        pl.when(row % 10 >= 7).then(None).otherwise(pl.col("setting2")).alias("setting2"),
        pl.when(row % 10 == 8).then(None).otherwise(pl.col("setting3")).alias("setting3"),
        pl.when(row % 10 == 3).then(None).otherwise(pl.col("s2")).alias("s2"),
    )
    norm = SensorNormalizer.fit(gaps, sensors=SENSORS, settings=SETTINGS)
    # the regimes and every kept sensor's statistics come from the readings there are
    assert norm.n_regimes == 6 and norm.sensors == full.sensors
    assert norm.mean["s2"] == pytest.approx(full.mean["s2"], rel=1e-3)
    nth = np.arange(gaps.height) % 10
    no_altitude = (nth == 0) & mach_084
    assigned = norm.assign_regimes(gaps)
    # the settings a row has tell its regime: altitude alone (rows 7 and 8), or Mach and
    # throttle away from Mach 0.84; only a Mach-0.84 row without its altitude stays open
    assert (assigned[~no_altitude] == regime[~no_altitude]).all()
    assert (assigned[no_altitude] == UNKNOWN_REGIME).all()
    z = norm.transform(gaps)
    unknown = z.filter(pl.col(REGIME) == UNKNOWN_REGIME)
    assert unknown.height == no_altitude.sum()
    assert unknown.select(norm.sensors).null_count().row(0) == (unknown.height,) * len(norm.sensors)
    known = z.filter(pl.col(REGIME) != UNKNOWN_REGIME)
    assert known["s2"].null_count() == (nth == 3).sum()
    assert known.drop_nulls("s2")["s2"].is_finite().all()
    # a row with no setting at all could be any regime
    blank = gaps.head(3).with_columns(pl.lit(None, dtype=pl.Float64).alias(s) for s in SETTINGS)
    assert (norm.assign_regimes(blank) == UNKNOWN_REGIME).all()
    # one regime: the settings say nothing, and a missing one changes nothing
    flat = SensorNormalizer.fit(gaps, sensors=SENSORS, settings=SETTINGS, n_regimes=1)
    assert (flat.transform(gaps)[REGIME] == 0).all()


def test_constant_sensors_are_dropped_but_small_relative_spread_is_kept() -> None:
    rng = np.random.default_rng(0)
    n = 500
    frame = pl.DataFrame(
        {
            "flat": np.full(n, 518.67),
            "flicker": np.where(rng.uniform(size=n) < 0.02, 21.60, 21.61),
            # like C-MAPSS s8: ~2388 with 0.07 spread (3e-5 relative) - informative, must stay
            "fan": 2388.0 + np.round(rng.normal(0, 0.07, n), 2),
        }
    )
    norm = SensorNormalizer.fit(frame, sensors=["flat", "flicker", "fan"])
    assert norm.sensors == ["fan"]
    assert norm.dropped == ["flat", "flicker"]
    with pytest.raises(ValueError, match="constant"):
        SensorNormalizer.fit(frame, sensors=["flat"])


def test_extra_columns_get_derived_features_and_keep_passes_through() -> None:
    frame = _fleet().with_columns((pl.col("t") * 0.01).alias("damage"), pl.lit(1).alias("label"))
    f = build_features(
        frame, unit="unit", time="t", sensors=["a", "b"], extra=["damage"], keep=["label"]
    )
    assert {"damage", "damage_ewm10", "damage_slope_all", "label"} <= set(f.columns)
    assert f["damage_slope_all"].drop_nulls().to_numpy() == pytest.approx(0.01)


def test_errors_say_what_to_fix() -> None:
    frame = _fleet()
    with pytest.raises(ValueError, match="missing"):
        build_features(frame, unit="unit", time="t", sensors=["nope"])
    with pytest.raises(ValueError, match="numeric service"):
        build_features(
            frame.with_columns(pl.col("t").cast(pl.Utf8)), unit="unit", time="t", sensors=["a"]
        )
