"""The stages of the hybrid pipeline on shared unit-grouped folds: normalizer, physics branch
(out of fold), XGBoost features and branch, fuser.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.cmapss.config import UNITS_PER_KNOT, PipelineConfig
from dt_platform.phm.cmapss.data import SENSORS, SETTINGS, TIME, UNIT
from dt_platform.phm.features import SensorNormalizer, build_features, feature_columns
from dt_platform.phm.fusion import Fuser
from dt_platform.phm.health_index import HI, PhysicsBranch
from dt_platform.phm.ml import RulModel
from dt_platform.phm.scoring import coverage, rmse

PHYS_OUT = ("rul_phys", "rul_phys_lo", "rul_phys_hi")


def _fit_normalizer(frame: pl.DataFrame, config: PipelineConfig) -> SensorNormalizer:
    return SensorNormalizer.fit(
        frame, sensors=SENSORS, settings=SETTINGS, n_regimes=config.n_regimes, seed=config.seed
    )


def _fit_physics(
    frame: pl.DataFrame, normalizer: SensorNormalizer, config: PipelineConfig
) -> PhysicsBranch:
    return PhysicsBranch.fit(
        frame,
        unit=UNIT,
        time=TIME,
        normalizer=normalizer,
        degradation_kwargs={"seed": config.seed},
        method=config.physics_method,
        similarity_kwargs={
            "window": config.sim_window,
            "temperature": config.sim_temperature,
            "level_offset": config.sim_level_offset,
        },
    )


def _physics_oof(
    train: pl.DataFrame, folds: list[tuple[np.ndarray, np.ndarray]], config: PipelineConfig
) -> pl.DataFrame:
    """Physics branch predictions for every training row from models that never saw its unit."""
    parts = []
    for tr_idx, va_idx in folds:
        fold_train = train[tr_idx]
        branch = _fit_physics(fold_train, _fit_normalizer(fold_train, config), config)
        parts.append(branch.predict(train[va_idx]))
    return pl.concat(parts).sort([UNIT, TIME])


def _features(
    frame: pl.DataFrame, phys: pl.DataFrame, normalizer: SensorNormalizer, config: PipelineConfig
) -> pl.DataFrame:
    """XGBoost features: normalized sensors plus the health index as an extra signal."""
    data = frame.join(phys.select(UNIT, TIME, HI, *PHYS_OUT), on=[UNIT, TIME], how="left")
    return build_features(
        data,
        unit=UNIT,
        time=TIME,
        sensors=SENSORS,
        normalizer=normalizer,
        windows=config.windows,
        stats=config.stats,
        spans=config.spans,
        slope_windows=config.slope_windows,
        extra=[HI],
        keep=list(PHYS_OUT),
    )


def _ml_stage(
    train: pl.DataFrame,
    phys_oof: pl.DataFrame,
    normalizer: SensorNormalizer,
    folds: list[tuple[np.ndarray, np.ndarray]],
    config: PipelineConfig,
) -> tuple[pl.DataFrame, RulModel]:
    """Features of every training row (out-of-fold HI and physics outputs) and the XGBoost
    branch with its out-of-fold predictions on the shared folds."""
    feats = _features(train, phys_oof, normalizer, config).join(
        train.select(UNIT, TIME, "rul"), on=[UNIT, TIME], how="left", maintain_order="left"
    )
    cols = feature_columns(
        [*normalizer.sensors, HI],
        windows=config.windows,
        stats=config.stats,
        spans=config.spans,
        slope_windows=config.slope_windows,
    )
    if config.age_feature:
        cols.append(TIME)
    if config.physics_features:
        cols += list(PHYS_OUT)
    ml = RulModel.fit(
        feats,
        feats["rul"],
        feats[UNIT],
        feature_columns=cols,
        cap=config.cap,
        params=config.params,
        quantile_params=config.quantile_params,
        folds=folds,
        coverage=config.coverage,
    )
    assert ml.oof is not None
    return feats, ml


def _fit_fuser(rows: pl.DataFrame, config: PipelineConfig, **options: Any) -> Fuser:
    """A fuser on out-of-fold ``rows`` with the pipeline's fusion settings, cross-fitted by unit."""
    return Fuser.fit(
        rows,
        truth="rul",
        groups=UNIT,
        method=config.fusion_method,
        n_knots=config.fusion_knots,
        asymmetry=config.fusion_asymmetry,
        coverage=config.coverage,
        n_splits=config.n_splits,
        seed=config.seed,
        bands=cv_bands(config),
        **{"fallback": config.fusion_fallback, "inputs": config.fusion_inputs, **options},
    )


def cv_bands(config: PipelineConfig) -> tuple[float, ...]:
    """Edges of the true RUL the held-out fusion is also scored by: near failure, mid-life, just
    under the cap, and past it up to the horizon (where only un-capping can score)."""
    edges = (0.0, 0.5 * config.cap, 0.8 * config.cap, config.cap, config.horizon)
    return tuple(sorted({e for e in edges if e <= config.horizon}))


def _fusion_terms(oof: pl.DataFrame, config: PipelineConfig) -> tuple[Fuser, dict[str, Any]]:
    """The fuser with the further terms that earn their place on the held-out training units.

    Candidates, each nesting the one before: the two branches alone; with ``config.fusion_inputs``
    (the unit's age); with the branches' confidence too (``config.fusion_confidence``,
    :attr:`~dt_platform.phm.fusion.Fuser.confidence`). A knot learns its weights from the
    units whose estimates fall near it: :data:`~dt_platform.phm.cmapss.config.UNITS_PER_KNOT`
    for the plain three terms and one more per further term, so a candidate is tried only where
    the fleet has that many training units a knot. Six engines cannot teach a stack four terms
    a knot: ``few_units`` on ten data seeds (two knots), test RMSE 21.9 with the age where its
    held-out engines chose it, 18.2 without; a hundred can (FD001).
    Kept: the lowest held-out RMSE among those whose PHM08 score per row is no higher than the
    plain fuser's."""
    units_per_knot = oof[UNIT].n_unique() / config.fusion_knots
    terms = [((), False), (config.fusion_inputs, False), (config.fusion_inputs, True)]
    if not config.fusion_confidence:
        terms.pop()
    fusers = [
        _fit_fuser(oof, config, inputs=inputs, confidence=confidence)
        for inputs, confidence in dict.fromkeys(terms)
        if (not inputs and not confidence)  # the plain fuser, on any fleet
        or UNITS_PER_KNOT + len(inputs) + 2 * confidence <= units_per_knot
    ]
    plain_score = fusers[0].cv["score_fused_per_row"]
    admitted = [f for f in fusers if f.cv["score_fused_per_row"] <= plain_score]
    kept = min(admitted, key=lambda f: f.cv["rmse_fused"])
    return kept, {
        "inputs": list(kept.inputs),
        "confidence": kept.confidence,
        "candidates": [
            {
                "inputs": list(f.inputs),
                "confidence": f.confidence,
                "rmse_fused": f.cv["rmse_fused"],
                "score_fused_per_row": f.cv["score_fused_per_row"],
            }
            for f in fusers
        ],
    }


def _fuse(
    feats: pl.DataFrame, ml_oof: pl.DataFrame, config: PipelineConfig
) -> tuple[Fuser, dict[str, Any]]:
    """Fuser on the out-of-fold rows within ``horizon``, and its held-out metrics."""
    oof = (
        feats.select(UNIT, TIME, "rul", *PHYS_OUT)
        .hstack(ml_oof)
        .filter(pl.col("rul") <= config.horizon)
    )
    fuser, terms = _fusion_terms(oof, config)
    y = oof["rul"].to_numpy()
    cv = {
        **fuser.cv,
        "fusion_terms": terms,
        "rows": "out-of-fold training rows with true RUL <= horizon",
        "horizon": config.horizon,
        "coverage_ml_capped": coverage(oof["rul_p05"], oof["rul_p95"], np.minimum(y, config.cap)),
        "coverage_physics": coverage(oof["rul_phys_lo"], oof["rul_phys_hi"], y),
        "rmse_ml_capped": rmse(oof["rul_mean"], np.minimum(y, config.cap)),
    }
    return fuser, cv
