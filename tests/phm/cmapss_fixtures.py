"""Shared by the C-MAPSS tests: a light pipeline configuration that fits in seconds."""

from __future__ import annotations

from dt_platform.phm.cmapss import PipelineConfig
from dt_platform.phm.ml import XGBParams

LIGHT = PipelineConfig(
    n_splits=3,
    windows=(5, 15),
    spans=(10,),
    slope_windows=(20,),
    params=XGBParams(n_estimators=25, learning_rate=0.2),
    quantile_params=XGBParams(n_estimators=10, max_depth=3, learning_rate=0.3),
)
"""Few folds, windows and trees: fast enough to fit a whole hybrid model per test."""
