"""The columns of the fleet's rows: the hourly base rows the data branch learns from (the
``ml_features`` table) and the predictions it makes (``rul_predictions``).

They live apart from the model code so that the tables and the dashboard can know the columns
without loading XGBoost.
"""

from __future__ import annotations

import polars as pl

from dt_platform.phm.signals import SIGNAL_COLUMNS

UTC_US = pl.Datetime("us", "UTC")
PHYSICS_COLS: tuple[str, str, str] = ("rul_physics_h", "rul_physics_lo_h", "rul_physics_hi_h")
ML_COLS: tuple[str, str, str] = ("rul_ml_h", "rul_ml_lo_h", "rul_ml_hi_h")
FUSED_COLS: tuple[str, str, str] = ("rul_fused_h", "rul_fused_lo_h", "rul_fused_hi_h")
PHYSICS_VALUES: tuple[str, ...] = ("damage", "damage_rate_per_h", *PHYSICS_COLS)

FAULT_STAGES: tuple[str, ...] = ("spall_growth", "vce_rise")
"""Physics stages in which the physics branch tracks a fault it has detected by its measured
indicator: a spindle's spall growth (the vibration trend since the onset, Paris' law) and a servo
module's Vce(on) rise (the spent life read from the rise, :mod:`dt_platform.phm.fitting.vce`).
Its value is reported there as it is (basis ``physics_stage``): the fuser weighs the branches by
their values alone and cannot know that one of them sees the fault, and the data branch has seen
such hours only as often as the training fleet had that fault — if ever. On the simulated line
(evaluation fleets 61-65), rows in spall growth: physics 22-25 h RMSE and 93-95 % coverage, fused
36-194 h (training seeds 7, 13, 17, 29); rows in Vce rise: physics 42-49 h RMSE and 94-96 %
coverage (training seeds 17, 19, 23, 29, 31; 78 % for a law fitted on a single life, seed 7 on
fleets 41-45), fused 58-76 h (seeds 17, 23, 29)."""


BASE_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": UTC_US,
    "component_installed_at": UTC_US,
    "n_readings": pl.Int64(),
    "op_fraction": pl.Float64(),
    **{c: pl.Float64() for c in SIGNAL_COLUMNS},
    "stage": pl.String(),
    **{c: pl.Float64() for c in PHYSICS_VALUES},
}
"""Columns of the hourly base rows (the ``ml_features`` table without its ``day``)."""


PREDICTION_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": UTC_US,
    "component_installed_at": UTC_US,
    "stage": pl.String(),
    **{c: pl.Float64() for c in (*PHYSICS_COLS, *ML_COLS, *FUSED_COLS)},
    "w_physics": pl.Float64(),
    "basis": pl.String(),
}
"""Columns of a prediction row (``rul_predictions`` adds its day, model versions and note)."""
