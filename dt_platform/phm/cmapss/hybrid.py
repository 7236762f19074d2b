"""The fitted hybrid model (physics branch, XGBoost branch, fuser) and how it is fitted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.cmapss.config import UNITS_PER_KNOT, PipelineConfig
from dt_platform.phm.cmapss.data import TIME, UNIT, add_train_rul, check_series
from dt_platform.phm.cmapss.stages import (
    PHYS_OUT,
    _features,
    _fit_normalizer,
    _fit_physics,
    _fuse,
    _ml_stage,
    _physics_oof,
)
from dt_platform.phm.features import SensorNormalizer
from dt_platform.phm.fusion import Fuser
from dt_platform.phm.health_index import PhysicsBranch
from dt_platform.phm.ml import RulModel, group_kfold
from dt_platform.phm.scoring import rmse

FUSED_OUT = ("rul_fused", "rul_fused_lo", "rul_fused_hi")
MIN_TRAIN_UNITS = 4
"""Fewest training units: the physics branch's fleet prior needs 3 units, in every fold too
(with fewer than ``n_splits`` units each unit is its own fold, so a fold fits on all but one)."""
MIN_BEYOND_UNITS = 3
"""Fewest held-out training units in the beyond-horizon region to decide on it."""


@dataclass
class HybridModel:
    """Physics branch + XGBoost branch + fuser for one C-MAPSS-like fleet. Build: :func:`fit_hybrid`."""

    config: PipelineConfig
    normalizer: SensorNormalizer
    physics: PhysicsBranch
    ml: RulModel
    fuser: Fuser
    cv: dict[str, Any] = field(default_factory=dict)
    """Cross-fitted metrics on held-out training units (see :attr:`Fuser.cv`)."""
    physics_beyond_horizon: bool = False
    """Where the physics branch is 95 % sure the RUL lies beyond the fuser's horizon (its 5 %
    bound above it), report the physics estimate and interval instead of the fusion, which is
    fitted within the horizon only and would pin a healthy unit near the cap. Decided on the
    training units' out-of-fold rows (:func:`_beyond_horizon`)."""

    def predict(self, frame: pl.DataFrame, *, last_only: bool = True) -> pl.DataFrame:
        """Physics, ML and fused RUL with 90 % intervals, for each unit's last row or every row.

        Columns: ``unit, cycle, rul_phys, rul_phys_lo, rul_phys_hi, rul_mean, rul_p05, rul_p50,
        rul_p95, rul_fused, rul_fused_lo, rul_fused_hi, w_physics``.
        """
        check_series(frame, "HybridModel.predict")
        phys = self.physics.predict(frame, last_only=False)
        feats = _features(frame, phys, self.normalizer, self.config)
        if last_only:
            feats = feats.group_by(UNIT, maintain_order=True).tail(1)
        out = feats.select(UNIT, TIME, *PHYS_OUT).hstack(self.ml.predict(feats))
        fused = self.fuser.predict(out)
        if self.physics_beyond_horizon:
            beyond = out["rul_phys_lo"] >= self.config.horizon
            fused = fused.with_columns(
                *(
                    pl.when(beyond).then(out[src]).otherwise(pl.col(dst)).alias(dst)
                    for src, dst in zip(PHYS_OUT, FUSED_OUT, strict=True)
                ),
                pl.when(beyond).then(1.0).otherwise(pl.col("w_physics")).alias("w_physics"),
            )
        # An interval reaching the cap admits a unit past it, where the data branch is blind
        # and the fusion has no rows: its upper end is at least the physics branch's.
        hi = fused["rul_fused_hi"].to_numpy()
        past_cap = hi >= self.config.cap
        upper = np.where(past_cap, np.maximum(hi, out["rul_phys_hi"].to_numpy()), hi)
        return out.hstack(fused.with_columns(pl.Series("rul_fused_hi", upper)))

    def to_bytes(self) -> bytes:
        """One bundle: the XGBoost boosters, with config, normalizer, physics and fuser as metadata."""
        meta = {
            "config": self.config.describe(),
            "normalizer": self.normalizer.to_dict(),
            "physics": self.physics.to_dict(),
            "fuser": self.fuser.to_dict(),
            "physics_beyond_horizon": self.physics_beyond_horizon,
        }
        return replace(self.ml, meta=meta).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> HybridModel:
        ml = RulModel.from_bytes(data)
        meta = ml.meta
        missing = {"config", "normalizer", "physics", "fuser"} - set(meta)
        if missing:
            raise ValueError(
                f"HybridModel.from_bytes: the bundle lacks {sorted(missing)}; it is a bare RulModel."
            )
        return cls(
            PipelineConfig.from_dict(meta["config"]),
            SensorNormalizer.from_dict(meta["normalizer"]),
            PhysicsBranch.from_dict(meta["physics"]),
            replace(ml, meta={}),
            Fuser.from_dict(meta["fuser"]),
            physics_beyond_horizon=bool(meta.get("physics_beyond_horizon", False)),
        )

    @property
    def version(self) -> str:
        """sha256 of :meth:`to_bytes`: any change to any branch or the fuser changes it."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def fleet_config(train: pl.DataFrame, config: PipelineConfig) -> PipelineConfig:
    """``config`` for a training fleet of this size: each unit its own fold when there are fewer
    units than ``config.n_splits``, and at most one fusion knot per ``UNITS_PER_KNOT`` units (at
    least 2); a :class:`ValueError` below ``MIN_TRAIN_UNITS`` or for a frame that is not one row
    per unit and cycle (:func:`check_series`)."""
    check_series(train, "training units")
    units = train[UNIT].n_unique()
    if units < MIN_TRAIN_UNITS:
        raise ValueError(
            f"{units} training unit(s): the fuser is fitted on held-out predictions and the "
            f"physics prior on 3 units, so the pipeline needs at least {MIN_TRAIN_UNITS} complete "
            "run-to-failure units."
        )
    return replace(
        config,
        n_splits=min(config.n_splits, units),
        fusion_knots=min(config.fusion_knots, max(2, units // UNITS_PER_KNOT)),
    )


def fit_hybrid(train: pl.DataFrame, config: PipelineConfig | None = None) -> HybridModel:
    """Fit all branches and the fuser on complete run-to-failure training units only.

    One unit-grouped K-fold split is shared by every stage: physics out-of-fold predictions
    (its health index also feeds XGBoost, as an out-of-fold feature), XGBoost out-of-fold
    predictions, then the fuser on those out-of-fold rows (with its own cross-fitting for the
    interval and the CV metrics). The final branches are refitted on all training units. With
    fewer units than ``config.n_splits`` folds, each unit is its own fold, and a small fleet gets
    fewer fusion knots (:func:`fleet_config`).
    """
    config = fleet_config(train, config or PipelineConfig())
    train = add_train_rul(train).sort([UNIT, TIME])
    folds = group_kfold(train[UNIT].to_numpy(), config.n_splits, config.seed)
    phys_oof = _physics_oof(train, folds, config)
    normalizer = _fit_normalizer(train, config)
    physics = _fit_physics(train, normalizer, config)
    feats, ml = _ml_stage(train, phys_oof, normalizer, folds, config)
    assert ml.oof is not None
    fuser, cv = _fuse(feats, ml.oof, config)
    beyond = _beyond_horizon(feats, ml.oof, fuser, config)
    cv["beyond_horizon"] = beyond
    return HybridModel(config, normalizer, physics, ml, fuser, cv, beyond["use_physics"])


def _beyond_horizon(
    feats: pl.DataFrame, ml_oof: pl.DataFrame, fuser: Fuser, config: PipelineConfig
) -> dict[str, Any]:
    """Should the physics estimate replace the fusion where its 5 % bound is past the horizon?

    Scored on the out-of-fold training rows in that region, against their true (uncapped) RUL:
    yes when the physics RMSE there is below the fused one, on at least ``MIN_BEYOND_UNITS``
    units. The fuser never saw those rows (it is fitted within the horizon) and the branch
    values are out of fold, so they are held out for both.
    """
    rows = (
        feats.select(UNIT, TIME, "rul", *PHYS_OUT)
        .hstack(ml_oof)
        .filter(pl.col("rul_phys_lo") >= config.horizon)
    )
    out: dict[str, Any] = {"rows": rows.height, "units": rows[UNIT].n_unique()}
    if out["units"] < MIN_BEYOND_UNITS:
        return {**out, "use_physics": False, "reason": "too few held-out units in the region"}
    y = rows["rul"].to_numpy()
    out["rmse_physics"] = rmse(rows["rul_phys"], y)
    out["rmse_fused"] = rmse(fuser.predict(rows)["rul_fused"], y)
    return {**out, "use_physics": out["rmse_physics"] < out["rmse_fused"]}
