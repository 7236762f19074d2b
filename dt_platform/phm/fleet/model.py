"""The fitted fleet model (:class:`FleetModel`): prediction, the fusion of the physics and data
branches (:func:`combine_branches`) and the bundle it is stored as."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from dt_platform.jsonable import json_roundtrip
from dt_platform.phm.alerts import AlertRule
from dt_platform.phm.fleet.config import FleetConfig
from dt_platform.phm.fleet.features import FleetFeaturizer
from dt_platform.phm.fusion import Fuser
from dt_platform.phm.ml import RulModel
from dt_platform.phm.schemas import (
    FAULT_STAGES,
    FUSED_COLS,
    ML_COLS,
    PHYSICS_COLS,
    PREDICTION_SCHEMA,
)


def fusion_input(frame: pl.DataFrame, clip_h: float) -> pl.DataFrame:
    """Branch estimates as the fuser sees them: physics clipped, an open upper bound → clip."""
    return frame.with_columns(
        pl.col(PHYSICS_COLS[0]).clip(0.0, clip_h),
        pl.col(PHYSICS_COLS[1]).clip(0.0, clip_h),
        pl.col(PHYSICS_COLS[2]).fill_null(clip_h).clip(0.0, clip_h),
    )


@dataclass
class FleetModel:
    """Data branch (XGBoost, conformal 90 % band) and the fusers for the simulated fleet.

    ``fusers`` maps a machine type to its fuser; ``"*"`` is the pooled fuser, the only one
    unless :attr:`FleetConfig.fusion_per_type` is set, and the fallback for any type.
    """

    featurizer: FleetFeaturizer
    ml: RulModel
    fusers: dict[str, Fuser]
    physics_version: str
    trained_until: str
    cv: dict[str, Any] = field(default_factory=dict)
    fallback: dict[str, str] = field(default_factory=dict)
    """Machine type → the branch (``ml`` or ``physics``) reported instead of the fusion, where
    that branch beat it machine by machine on the training fleet's held-out machines
    (:func:`~dt_platform.phm.fleet.calibration.choose_fallbacks`)."""
    interval_scale: dict[str, float] = field(default_factory=dict)
    """Machine type → factor stretching the reported 90 % interval (held-out calibration,
    conformal by machine); ``"*"`` for any type without its own."""
    alert_rule: AlertRule | None = None
    """The alert rule chosen by expected cost on the training fleet (:mod:`.alerting`); None
    in a bundle from before, where the default :class:`AlertRule` applies."""
    oof: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    """Out-of-fold predictions of both branches and the cross-fitted fusion on every training
    row (with ``rul_h``); not serialized."""

    @property
    def config(self) -> FleetConfig:
        return self.featurizer.config

    def predict(self, base: pl.DataFrame) -> pl.DataFrame:
        """Physics, ML and fused RUL (hours, 90 % intervals) for every base row.

        ``basis`` tells what the fused value rests on: ``fused``, ``physics_only`` (no ML value),
        ``ml_only`` (no physics value), ``physics_stage`` (the physics branch tracks a detected
        fault, :data:`FAULT_STAGES`), ``ml_fallback`` / ``physics_fallback`` (see
        :func:`combine_branches`), ``failed`` (a corrective work order is open: 0 h) or ``none``.
        """
        feats = self.featurizer.transform(base)
        ml = self.ml.predict(feats).select(
            pl.col("rul_mean").alias(ML_COLS[0]),
            pl.col("rul_p05").alias(ML_COLS[1]),
            pl.col("rul_p95").alias(ML_COLS[2]),
        )
        out = (
            feats.select("machine_id", "ts")
            .hstack(ml)
            .join(
                base.select(
                    "machine_id",
                    "machine_type",
                    "ts",
                    "component_installed_at",
                    "stage",
                    *PHYSICS_COLS,
                ),
                on=["machine_id", "ts"],
                how="left",
            )
        )
        return combine_branches(
            out,
            self.fusers,
            self.config.physics_clip_h,
            fallback=self.fallback,
            interval_scale=self.interval_scale,
        )

    # -- bundle --------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        meta = {
            "kind": "fleet_rul",
            "featurizer": self.featurizer.to_dict(),
            "fusers": {t: f.to_dict() for t, f in sorted(self.fusers.items())},
            "physics_version": self.physics_version,
            "trained_until": self.trained_until,
            "cv": self.cv,
            "fallback": self.fallback,
            "interval_scale": self.interval_scale,
            "alert_rule": self.alert_rule.to_dict() if self.alert_rule else None,
        }
        return replace(self.ml, meta=json_roundtrip(meta)).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FleetModel:
        ml = RulModel.from_bytes(data)
        meta = ml.meta
        if meta.get("kind") != "fleet_rul":
            raise ValueError(
                "FleetModel.from_bytes: the bundle is not a fleet RUL model (no 'fleet_rul' "
                "metadata); it may be a C-MAPSS model. Retrain with rul_model."
            )
        return cls(
            FleetFeaturizer.from_dict(meta["featurizer"]),
            replace(ml, meta={}),
            {t: Fuser.from_dict(f) for t, f in meta["fusers"].items()},
            meta["physics_version"],
            meta["trained_until"],
            meta.get("cv", {}),
            meta.get("fallback", {}),
            meta.get("interval_scale", {}),
            AlertRule.from_dict(meta["alert_rule"]) if meta.get("alert_rule") else None,
        )

    @property
    def version(self) -> str:
        """sha256 of :meth:`to_bytes` (content hash: any change of any part changes it)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def combine_branches(
    frame: pl.DataFrame,
    fusers: Mapping[str, Fuser] | None,
    clip_h: float,
    *,
    fallback: Mapping[str, str] | None = None,
    interval_scale: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Fused RUL from physics and ML columns (either may be null), with ``w_physics``/``basis``.

    ``fusers`` maps machine type (or ``"*"``, any type) to a fuser. Without one (no rul model
    trained yet) or without an ML value, the physics estimate and
    its interval are the fused values; without a physics value, the ML ones. A failed component
    (stage ``failed``) has 0 h everywhere. ``fallback`` maps a machine type to the branch
    (``ml`` or ``physics``) reported instead of the fusion for that type (basis ``ml_fallback`` /
    ``physics_fallback``); in a :data:`FAULT_STAGES` stage the physics branch is reported (basis
    ``physics_stage``), with its own interval; ``interval_scale`` maps a type (``"*"``: any
    other type) to the factor its fused (or fallback) interval's halves are stretched by around
    the value (see :mod:`.calibration`).
    """
    for col in (*ML_COLS, *PHYSICS_COLS):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    has_ph = pl.col(PHYSICS_COLS[0]).is_not_null()
    has_ml = pl.col(ML_COLS[0]).is_not_null()
    fused = _fuser_estimates(frame, fusers, clip_h, has_ph & has_ml)
    out = frame.with_columns(
        pl.Series("_f", fused[:, 0]).fill_nan(None),
        pl.Series("_lo", fused[:, 1]).fill_nan(None),
        pl.Series("_hi", fused[:, 2]).fill_nan(None),
        pl.Series("_w", fused[:, 3]).fill_nan(None),
    )
    failed = pl.col("stage") == "failed"
    own = (
        pl.col("machine_type")
        .cast(pl.String)
        .replace_strict(dict(fallback or {}), default=None, return_dtype=pl.String)
    )
    out = out.with_columns(_basis(failed, has_ph, has_ml, own).alias("basis"))
    b = pl.col("basis")
    out = out.with_columns(
        _reported(b, 0).alias(FUSED_COLS[0]),
        _reported(b, 1).alias(FUSED_COLS[1]),
        _reported(b, 2).alias(FUSED_COLS[2]),
        pl.when(b == "fused")
        .then(pl.col("_w"))
        .when(b.is_in(["physics_only", "physics_fallback", "physics_stage"]))
        .then(1.0)
        .when(b.is_in(["ml_only", "ml_fallback"]))
        .then(0.0)
        .otherwise(None)
        .alias("w_physics"),
    )
    if interval_scale:
        out = _stretch(out, interval_scale, b.is_in(["fused", "ml_fallback", "physics_fallback"]))
    zero = [
        pl.when(failed).then(0.0).otherwise(pl.col(c)).alias(c) for c in (*PHYSICS_COLS, *ML_COLS)
    ]
    out = out.with_columns(zero).drop("_f", "_lo", "_hi", "_w")
    for col, dtype in PREDICTION_SCHEMA.items():
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return out.select([pl.col(c).cast(t) for c, t in PREDICTION_SCHEMA.items()])


def _fuser_estimates(
    frame: pl.DataFrame, fusers: Mapping[str, Fuser] | None, clip_h: float, has_both: pl.Expr
) -> np.ndarray:
    """Fused value, bounds and physics weight per row (columns in that order); NaN on rows
    without both branches or without a fuser for their type."""
    fused = np.full((frame.height, 4), np.nan)
    both = frame.select(has_both.alias("b"))["b"].to_numpy()
    types = frame["machine_type"].to_numpy()
    for mtype in np.unique(types[both]) if fusers else ():
        fuser = fusers.get(str(mtype)) or fusers.get("*")
        if fuser is None:
            continue
        rows = both & (types == mtype)
        inp = fusion_input(frame.filter(pl.Series(rows)), clip_h)
        fp = fuser.predict(inp)
        fused[rows] = fp.select("rul_fused", "rul_fused_lo", "rul_fused_hi", "w_physics").to_numpy()
    return fused


def _basis(failed: pl.Expr, has_ph: pl.Expr, has_ml: pl.Expr, fallback: pl.Expr) -> pl.Expr:
    """What a row's fused value rests on (see :meth:`FleetModel.predict`)."""
    return (
        pl.when(failed)
        .then(pl.lit("failed"))
        .when(has_ph & pl.col("stage").is_in(FAULT_STAGES))
        .then(pl.lit("physics_stage"))
        .when(has_ph & has_ml & (fallback == "ml"))
        .then(pl.lit("ml_fallback"))
        .when(has_ph & has_ml & (fallback == "physics"))
        .then(pl.lit("physics_fallback"))
        .when(pl.col("_f").is_not_null())
        .then(pl.lit("fused"))
        .when(has_ph)
        .then(pl.lit("physics_only"))
        .when(has_ml)
        .then(pl.lit("ml_only"))
        .otherwise(pl.lit("none"))
    )


def _reported(basis: pl.Expr, i: int) -> pl.Expr:
    """Fused column ``i`` (value, lower, upper bound) as the basis says: 0 h for a failed
    component, else the fuser's value or the one branch there is."""
    return (
        pl.when(basis == "failed")
        .then(0.0)
        .when(basis == "fused")
        .then(pl.col(["_f", "_lo", "_hi"][i]))
        .when(basis.is_in(["physics_only", "physics_fallback", "physics_stage"]))
        .then(pl.col(PHYSICS_COLS[i]))
        .when(basis.is_in(["ml_only", "ml_fallback"]))
        .then(pl.col(ML_COLS[i]))
        .otherwise(None)
    )


def _stretch(frame: pl.DataFrame, scale: Mapping[str, float], rows: pl.Expr) -> pl.DataFrame:
    """The reported interval of ``rows`` stretched by its type's factor around the reported
    value (the lower bound kept at or above 0 h; an open upper bound stays open)."""
    factor = (
        pl.col("machine_type")
        .cast(pl.String)
        .replace_strict(dict(scale), default=scale.get("*", 1.0), return_dtype=pl.Float64)
        .fill_null(scale.get("*", 1.0))
    )
    f, lo, hi = (pl.col(c) for c in FUSED_COLS)
    return frame.with_columns(
        pl.when(rows)
        .then((f - factor * (f - lo)).clip(0.0, None))
        .otherwise(lo)
        .alias(lo.meta.output_name()),
        pl.when(rows).then(f + factor * (hi - f)).otherwise(hi).alias(hi.meta.output_name()),
    )
