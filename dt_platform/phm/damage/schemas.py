"""The columns of the physics state and the damage trajectory tables."""

from __future__ import annotations

import polars as pl

STATE_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "as_of": pl.Datetime("us", "UTC"),
    "component_installed_at": pl.Datetime("us", "UTC"),
    "damage": pl.Float64(),
    "damage_rate_per_h": pl.Float64(),
    "rul_physics_h": pl.Float64(),
    "rul_physics_lo_h": pl.Float64(),
    "rul_physics_hi_h": pl.Float64(),
    "dominant_stress": pl.String(),
    "physics_params_version": pl.String(),
    "stage": pl.String(),
    "note": pl.String(),
}
TRAJECTORY_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "component_installed_at": pl.Datetime("us", "UTC"),
    "exposure": pl.Float64(),
    "damage": pl.Float64(),
    "damage_rate_per_h": pl.Float64(),
    "rul_physics_h": pl.Float64(),
    "rul_physics_lo_h": pl.Float64(),
    "rul_physics_hi_h": pl.Float64(),
    "stage": pl.String(),
}
