"""What shapes the fleet model: :class:`FleetConfig` and the XGBoost parameters (the row
schemas and column names are :mod:`dt_platform.phm.schemas`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dt_platform.phm.ml import XGBParams

FLEET_PARAMS = XGBParams(
    n_estimators=250,
    max_depth=4,
    learning_rate=0.05,
    subsample=0.8,
    colsample_bytree=0.5,
    min_child_weight=5.0,
    max_bin=64,
)
FLEET_QUANTILE_PARAMS = XGBParams(
    n_estimators=120, max_depth=4, learning_rate=0.1, colsample_bytree=0.5, max_bin=64
)


@dataclass(frozen=True)
class FleetConfig:
    """Everything that shapes the fleet model; stored in the model bundle."""

    cap_h: float = 336.0
    """ML target cap: two weeks. Lives last 3-6 weeks; beyond two weeks the signals cannot tell
    one remaining week from another, and the maintenance horizons that matter are shorter."""
    horizon_h: float = 336.0
    """Fusion is fitted (and CV-scored) on rows with known RUL ≤ this."""
    windows_h: tuple[int, ...] = (6, 24, 168)
    """Rolling windows in operating hours: a shift, a day, a week."""
    stats: tuple[str, ...] = ("mean",)
    spans: tuple[int, ...] = (24,)
    slope_windows_h: tuple[int, ...] = (24, 168)
    baseline_h: int = 24
    """Operating hours of a life that define its own baseline (drift features, Vce rise)."""
    utilization_windows_h: tuple[int, ...] = (24, 168)
    n_splits: int = 4
    physics_draws: int = 100
    """Monte-Carlo draws of the out-of-fold physics trajectories (training only)."""
    physics_clip_h: float = 504.0
    """Physics RUL (and its interval) is clipped here before fusion: 1.5 × the horizon. The
    stacking is linear, and a damage law fitted on a few lives can be off by thousands of hours
    on a new machine; clipped, a far-away physics estimate means "far", not "3000 h"."""
    fusion_knots: int = 3
    """Few knots: a fleet holds a few dozen lives, and the weights must generalize to new ones."""
    fusion_per_type: bool = False
    """Also fit a fuser per machine type. Off: with a handful of lives per type the per-type
    weights overfit (on held-out simulated fleets the pooled fuser wins on RMSE)."""
    coverage: float = 0.9
    min_failed_lives: int = 3
    seed: int = 0
    params: XGBParams = field(default_factory=lambda: FLEET_PARAMS)
    quantile_params: XGBParams = field(default_factory=lambda: FLEET_QUANTILE_PARAMS)

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["params"] = asdict(self.params)
        out["quantile_params"] = asdict(self.quantile_params)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetConfig:
        data = dict(data)
        data["params"] = XGBParams(**data["params"])
        data["quantile_params"] = XGBParams(**data["quantile_params"])
        for key in ("windows_h", "stats", "spans", "slope_windows_h", "utilization_windows_h"):
            data[key] = tuple(data[key])
        return cls(**data)
