"""Choose the physics branch's design by unit-grouped cross-validation on training units only."""

from __future__ import annotations

import time as time_mod
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from dt_platform.phm.cmapss.config import PipelineConfig
from dt_platform.phm.cmapss.data import TIME, UNIT, add_train_rul
from dt_platform.phm.cmapss.hybrid import fleet_config
from dt_platform.phm.cmapss.stages import (
    PHYS_OUT,
    _fit_fuser,
    _fit_normalizer,
    _fuse,
    _ml_stage,
    _physics_oof,
)
from dt_platform.phm.fusion import ML_COLS
from dt_platform.phm.ml import group_kfold


def choose_design(rows: Sequence[dict[str, Any]], min_gain: float = 0.1) -> tuple[int, int]:
    """``(best, chosen)`` indices: lowest CV fused RMSE, and the design the rule keeps.

    ``rows[0]`` is the incumbent; the best row replaces it only if its ``rmse_fused`` is lower
    by at least ``min_gain`` and its ``score_fused_per_row`` is not higher.
    """
    if not rows:
        raise ValueError("choose_design: no candidates.")
    best = min(range(len(rows)), key=lambda i: rows[i]["rmse_fused"])
    inc, top = rows[0], rows[best]
    keep = inc["rmse_fused"] - top["rmse_fused"] < min_gain or (
        top["score_fused_per_row"] > inc["score_fused_per_row"]
    )
    return best, 0 if keep else best


PHYSICS_DESIGN_KEYS = ("physics_method", "sim_window", "sim_temperature", "sim_level_offset")


def select_physics(
    train: pl.DataFrame,
    candidates: Sequence[dict[str, Any]],
    config: PipelineConfig | None = None,
    *,
    min_gain: float = 0.1,
) -> dict[str, Any]:
    """Compare physics-branch designs by unit-grouped CV on training units only.

    Every candidate (a dict of :data:`PHYSICS_DESIGN_KEYS` overrides of ``config``) gets its
    out-of-fold physics predictions on the same folds; the XGBoost branch (which does not depend
    on the degradation model: its health-index feature comes from the health index alone) is
    fitted once; each candidate is then fused exactly as :func:`fit_hybrid` does and scored on
    the cross-fitted held-out rows. The test set is never touched.

    Rule: ``candidates[0]`` is the incumbent. The candidate with the lowest CV fused RMSE
    replaces it only if it is lower by at least ``min_gain`` *and* its PHM08 score per row is
    not worse; a smaller difference is within fold noise (the one-row-per-unit spread of the
    fused-minus-ML RMSE on FD001 is about 0.3) and does not earn a change.
    """
    config = fleet_config(train, config or PipelineConfig())
    _check_candidates(candidates, config)
    train = add_train_rul(train).sort([UNIT, TIME])
    folds = group_kfold(train[UNIT].to_numpy(), config.n_splits, config.seed)
    normalizer = _fit_normalizer(train, config)
    rows: list[dict[str, Any]] = []
    feats: pl.DataFrame | None = None
    ml_oof: pl.DataFrame | None = None
    for cand in candidates:
        cfg = replace(config, **cand)
        start = time_mod.perf_counter()
        phys_oof = _physics_oof(train, folds, cfg)
        physics_s = time_mod.perf_counter() - start
        if feats is None:
            feats, ml = _ml_stage(train, phys_oof, normalizer, folds, cfg)
            ml_oof = ml.oof
        else:
            feats = feats.drop(*PHYS_OUT).join(
                phys_oof.select(UNIT, TIME, *PHYS_OUT),
                on=[UNIT, TIME],
                how="left",
                maintain_order="left",
            )
        assert ml_oof is not None
        _, cv = _fuse(feats, ml_oof, cfg)
        rows.append(_candidate_row(cfg, cv, physics_s))
    best, chosen = choose_design(rows, min_gain)
    assert feats is not None and ml_oof is not None
    return {
        "candidates": rows,
        "ml_recalibrated_no_physics": _no_physics_baseline(feats, ml_oof, config),
        "best_cv_rmse": best,
        "chosen": chosen,
        "rule": (
            f"lowest CV fused RMSE replaces candidates[0] only if lower by >= {min_gain} and "
            "its PHM08 score per row is not worse"
        ),
        "n_splits": config.n_splits,
        "seed": config.seed,
        "horizon": config.horizon,
    }


def _check_candidates(candidates: Sequence[dict[str, Any]], config: PipelineConfig) -> None:
    """Raise unless the candidates are physics designs that can share one XGBoost branch."""
    if not candidates:
        raise ValueError("select_physics: give at least one candidate design.")
    unknown = {k for c in candidates for k in c} - set(PHYSICS_DESIGN_KEYS)
    if unknown:
        raise ValueError(
            f"select_physics: {sorted(unknown)} are not physics design keys "
            f"{list(PHYSICS_DESIGN_KEYS)}."
        )
    if config.physics_features:
        raise ValueError(
            "select_physics: with physics_features=True the XGBoost branch depends on the "
            "physics design; compare such designs with full fit_hybrid runs instead."
        )


def _candidate_row(cfg: PipelineConfig, cv: dict[str, Any], physics_s: float) -> dict[str, Any]:
    """One design's row of the comparison: its settings and its cross-fitted metrics."""
    return {
        "design": {k: getattr(cfg, k) for k in PHYSICS_DESIGN_KEYS},
        "rmse_fused": cv["rmse_fused"],
        "rmse_ml": cv["rmse_ml"],
        "rmse_physics": cv["rmse_physics"],
        "score_fused_per_row": cv["score_fused_per_row"],
        "score_ml_per_row": cv["score_ml_per_row"],
        "score_physics_per_row": cv["score_physics_per_row"],
        "coverage_fused": cv["coverage"],
        "coverage_physics": cv["coverage_physics"],
        "p_fused_beats_ml_one_row_per_unit": cv["one_row_per_unit"]["p_fused_beats_ml"],
        "physics_oof_s": physics_s,
    }


def _no_physics_baseline(
    feats: pl.DataFrame, ml_oof: pl.DataFrame, config: PipelineConfig
) -> dict[str, Any]:
    """The same fuser with the ML branch in the physics slot, i.e. ML recalibrated (and
    un-capped) along its own output: a physics branch earns its place only by beating this, not
    merely by beating raw ML."""
    base = feats.select(UNIT, TIME, "rul").hstack(ml_oof).filter(pl.col("rul") <= config.horizon)
    alone = _fit_fuser(base, config, physics_cols=ML_COLS, fallback=False).cv
    return {
        "rmse_fused": alone["rmse_fused"],
        "score_fused_per_row": alone["score_fused_per_row"],
        "p_fused_beats_ml_one_row_per_unit": alone["one_row_per_unit"]["p_fused_beats_ml"],
    }
