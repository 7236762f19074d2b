"""The hybrid pipeline on every synthetic C-MAPSS layout: it runs to the end, its intervals are
ordered, and its held-out figures are sane, whatever the regimes, fault modes, lives or fleet size.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.cmapss import PipelineConfig, fit_hybrid
from dt_platform.phm.cmapss.hybrid import UNITS_PER_KNOT, fleet_config
from dt_platform.phm.cmapss.synthetic import (
    SYNTHETIC_VARIANTS,
    make_synthetic_subset,
    synthetic_variant,
)
from dt_platform.phm.health_index.conjugate import _row_quantiles
from dt_platform.phm.scoring import coverage
from tests.phm.cmapss_fixtures import LIGHT

INTERVALS = (
    ("rul_phys_lo", "rul_phys", "rul_phys_hi"),
    ("rul_p05", "rul_p50", "rul_p95"),
    ("rul_fused_lo", "rul_fused", "rul_fused_hi"),
)


def test_row_quantiles_are_ordered_even_when_every_draw_is_equal() -> None:
    # The crash of two-fault-mode subsets: all draws of a row equal (every path dropped and
    # clipped to the same horizon) and a·(1−f)+b·f landed one ulp off, 5 % above 95 %.
    values = np.random.default_rng(0).uniform(0.0, 500.0, size=3000)
    rows = np.repeat(values[:, None], 400, axis=1)
    q = _row_quantiles(rows, (0.5, 0.05, 0.95))
    assert (q[:, 1] <= q[:, 0]).all() and (q[:, 0] <= q[:, 2]).all()
    assert np.array_equal(q[:, 0], values)
    noisy = np.random.default_rng(1).normal(size=(40, 300))
    noisy[:, ::7] = np.nan
    expected = np.nanquantile(noisy, (0.5, 0.05, 0.95), axis=1).T
    assert np.allclose(_row_quantiles(noisy, (0.5, 0.05, 0.95)), expected)


def test_two_fault_modes_have_sensors_trending_both_ways() -> None:
    train, _, rul = make_synthetic_subset(n_train=40, n_test=20, n_regimes=1, fault_modes=2, seed=3)
    assert set(rul["fault_mode"].to_list()) == {1, 2}
    first = train.group_by("unit").agg(pl.all().sort_by("cycle").head(30).mean())
    last = train.group_by("unit").agg(pl.all().sort_by("cycle").tail(30).mean())
    drift = last.sort("unit").drop("unit", "cycle").to_numpy() - (
        first.sort("unit").drop("unit", "cycle").to_numpy()
    )
    # Some sensor rises in some engines and falls in others (it never does with one mode).
    both_ways = ((drift > 0.3).any(axis=0) & (drift < -0.3).any(axis=0)).any()
    assert both_ways


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SYNTHETIC_VARIANTS))
def test_pipeline_runs_on_every_layout_with_ordered_intervals(name: str) -> None:
    kwargs = {**SYNTHETIC_VARIANTS[name], "seed": 2}
    kwargs["n_train"] = min(kwargs.get("n_train", 30), 20)
    kwargs["n_test"] = min(kwargs.get("n_test", 15), 10)
    train, test, rul = make_synthetic_subset(**kwargs)
    model = fit_hybrid(train, LIGHT)
    pred = model.predict(test, last_only=False)
    assert pred.height == test.height
    for lo, mid, hi in INTERVALS:
        values = pred.select(lo, mid, hi).to_numpy()
        assert np.isfinite(values).all(), f"{name}: {mid} has NaN or inf"
        assert (values[:, 0] <= values[:, 1]).all() and (values[:, 1] <= values[:, 2]).all()
        assert (values >= 0).all()
    # Every prefix of every unseen engine, with its true RUL: the fused 90 % interval covers
    # most of those the model is built for (true RUL within the horizon).
    truth = pred.join(rul, on="unit").with_columns(
        (pl.col("rul") + pl.col("cycle").max().over("unit") - pl.col("cycle")).alias("truth")
    )
    near = truth.filter(pl.col("truth") <= LIGHT.horizon)
    share = coverage(near["rul_fused_lo"], near["rul_fused_hi"], near["truth"])
    assert 0.7 <= share <= 1.0, f"{name}: coverage {share:.2f}"
    assert model.fuser.basis in {"fused", "ml", "physics"}


def test_the_smallest_fleet_is_one_unit_a_fold_and_a_smaller_one_a_clear_error() -> None:
    from dataclasses import replace

    config = replace(LIGHT, n_splits=5)
    train, test, _ = make_synthetic_subset(n_train=4, n_test=3, n_regimes=1, seed=5)
    model = fit_hybrid(train, config)
    assert model.config.n_splits == 4  # each unit held out once
    assert model.config.fusion_knots == 2  # and the fuser's weights vary linearly at most
    values = model.predict(test).select("rul_fused_lo", "rul_fused", "rul_fused_hi").to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    three = train.filter(pl.col("unit") <= 3)
    with pytest.raises(ValueError, match=r"3 training unit.*at least 4 complete run-to-failure"):
        fit_hybrid(three, config)


def test_a_small_fleet_gets_fewer_fusion_knots_and_a_large_one_those_configured() -> None:
    train, _, _ = make_synthetic_subset(n_train=40, n_test=1, n_regimes=1, seed=6)
    knots = {
        n: fleet_config(train.filter(pl.col("unit") <= n), PipelineConfig()).fusion_knots
        for n in (4, 6, 9, 12, 17, 18, 40)
    }
    assert UNITS_PER_KNOT == 3
    assert knots == {4: 2, 6: 2, 9: 3, 12: 4, 17: 5, 18: 6, 40: 6}
    # the configured count is a ceiling, never raised
    assert fleet_config(train, PipelineConfig(fusion_knots=3)).fusion_knots == 3


def test_missing_readings_go_through_the_files_and_the_benchmark_counts_them(tmp_path) -> None:
    from dt_platform.phm.cmapss import run_benchmark, write_subset

    train, test, rul = make_synthetic_subset(
        n_train=12, n_test=6, seed=2, **{**SYNTHETIC_VARIANTS["dropouts"], "missing": 0.2}
    )
    write_subset(tmp_path, "FD009", train, test, rul.select("unit", "rul"))
    out = run_benchmark(tmp_path, "FD009", LIGHT)
    nulls = {
        name: frame.null_count().sum_horizontal().item()
        for name, frame in (("train", train), ("test", test))
    }
    assert out["missing_readings"] == nulls and 0.15 < nulls["train"] / (train.height * 24) < 0.25
    # the six regimes are still told apart, and the constant sensors still dropped
    assert out["n_regimes"] == 6 and "s1" not in out["sensors_used"]
    # twelve engines: the folds asked for, and one fusion knot per three engines
    assert (out["n_splits"], out["fusion_knots"]) == (LIGHT.n_splits, 4)
    figures = [out[k] for k in ("rmse_physics", "rmse_ml", "rmse_fused", "coverage_90")]
    assert np.isfinite(figures).all()


def test_synthetic_variant_names_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown synthetic variant 'fd009'"):
        synthetic_variant("fd009")


@pytest.mark.slow
def test_past_the_horizon_the_physics_speaks_and_the_interval_opens() -> None:
    from dataclasses import replace

    from dt_platform.phm.cmapss import HybridModel

    train, test, _ = make_synthetic_subset(
        n_train=20, n_test=10, n_regimes=1, life=(250.0, 450.0), test_rul=(5.0, 250.0), seed=4
    )
    model = fit_hybrid(train, LIGHT)
    decision = model.cv["beyond_horizon"]
    assert decision["use_physics"] == model.physics_beyond_horizon
    if decision["units"] >= 3:
        assert decision["use_physics"] == (decision["rmse_physics"] < decision["rmse_fused"])
    on = replace(model, physics_beyond_horizon=True)
    off = replace(model, physics_beyond_horizon=False)
    pred_on, pred_off = on.predict(test, last_only=False), off.predict(test, last_only=False)
    beyond = (pred_on["rul_phys_lo"] >= LIGHT.horizon).to_numpy()
    assert beyond.any(), "long lives must put some test rows past the horizon"
    for phys, fused in (("rul_phys", "rul_fused"), ("rul_phys_lo", "rul_fused_lo")):
        assert np.array_equal(pred_on[fused].to_numpy()[beyond], pred_on[phys].to_numpy()[beyond])
        assert np.array_equal(
            pred_on[fused].to_numpy()[~beyond], pred_off[fused].to_numpy()[~beyond]
        )
    assert (pred_on["w_physics"].to_numpy()[beyond] == 1.0).all()
    # Wherever the interval reaches the cap, its upper end is at least the physics branch's.
    reaches = (pred_off["rul_fused_hi"] >= LIGHT.cap).to_numpy()
    assert reaches.any()
    assert (
        pred_off["rul_fused_hi"].to_numpy()[reaches] >= pred_off["rul_phys_hi"].to_numpy()[reaches]
    ).all()
    again = HybridModel.from_bytes(on.to_bytes())
    assert again.physics_beyond_horizon and again.version == on.version != off.version


def test_a_frame_that_is_not_one_row_per_unit_and_cycle_is_refused_by_name() -> None:
    train, test, _ = make_synthetic_subset(n_train=5, n_test=2, n_regimes=1, seed=6)
    twice = pl.concat([train, train.filter((pl.col("unit") == 3) & (pl.col("cycle") <= 2))])
    with pytest.raises(ValueError, match=r"unit 3 cycle 1 appears 2 times \(2 repeated in all\)"):
        fit_hybrid(twice, LIGHT)
    unnamed = train.with_columns(
        pl.when(pl.col("cycle") == 7).then(None).otherwise(pl.col("unit")).alias("unit")
    )
    with pytest.raises(ValueError, match=r"5 row\(s\) with no unit or cycle"):
        fit_hybrid(unnamed, LIGHT)
    model = fit_hybrid(train, LIGHT)
    with pytest.raises(ValueError, match=r"HybridModel.predict: unit 1 cycle 4 appears 2 times"):
        model.predict(
            pl.concat([test, test.filter((pl.col("unit") == 1) & (pl.col("cycle") == 4))])
        )
