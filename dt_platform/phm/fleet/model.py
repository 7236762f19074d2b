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
from dt_platform.phm.fleet.config import FleetConfig
from dt_platform.phm.fleet.features import FleetFeaturizer
from dt_platform.phm.fusion import Fuser
from dt_platform.phm.ml import RulModel
from dt_platform.phm.schemas import FUSED_COLS, ML_COLS, PHYSICS_COLS, PREDICTION_SCHEMA


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
    oof: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    """Out-of-fold predictions of both branches on every training row (with ``rul_h``); not
    serialized."""

    @property
    def config(self) -> FleetConfig:
        return self.featurizer.config

    def predict(self, base: pl.DataFrame) -> pl.DataFrame:
        """Physics, ML and fused RUL (hours, 90 % intervals) for every base row.

        ``basis`` tells what the fused value rests on: ``fused``, ``physics_only`` (no ML value),
        ``ml_only`` (no physics value), ``failed`` (a corrective work order is open: 0 h) or
        ``none``.
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
        return combine_branches(out, self.fusers, self.config.physics_clip_h)

    # -- bundle --------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        meta = {
            "kind": "fleet_rul",
            "featurizer": self.featurizer.to_dict(),
            "fusers": {t: f.to_dict() for t, f in sorted(self.fusers.items())},
            "physics_version": self.physics_version,
            "trained_until": self.trained_until,
            "cv": self.cv,
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
        )

    @property
    def version(self) -> str:
        """sha256 of :meth:`to_bytes` (content hash: any change of any part changes it)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def combine_branches(
    frame: pl.DataFrame, fusers: Mapping[str, Fuser] | None, clip_h: float
) -> pl.DataFrame:
    """Fused RUL from physics and ML columns (either may be null), with ``w_physics``/``basis``.

    ``fusers`` maps machine type (or ``"*"``, any type) to a fuser. Without one (no rul model
    trained yet) or without an ML value, the physics estimate and
    its interval are the fused values; without a physics value, the ML ones. A failed component
    (stage ``failed``) has 0 h everywhere.
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
    out = out.with_columns(_basis(failed, has_ph, has_ml).alias("basis"))
    b = pl.col("basis")
    out = out.with_columns(
        _reported(b, 0).alias(FUSED_COLS[0]),
        _reported(b, 1).alias(FUSED_COLS[1]),
        _reported(b, 2).alias(FUSED_COLS[2]),
        pl.when(b == "fused")
        .then(pl.col("_w"))
        .when(b == "physics_only")
        .then(1.0)
        .when(b == "ml_only")
        .then(0.0)
        .otherwise(None)
        .alias("w_physics"),
    )
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


def _basis(failed: pl.Expr, has_ph: pl.Expr, has_ml: pl.Expr) -> pl.Expr:
    """What a row's fused value rests on (see :meth:`FleetModel.predict`)."""
    return (
        pl.when(failed)
        .then(pl.lit("failed"))
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
        .when(basis == "physics_only")
        .then(pl.col(PHYSICS_COLS[i]))
        .when(basis == "ml_only")
        .then(pl.col(ML_COLS[i]))
        .otherwise(None)
    )
