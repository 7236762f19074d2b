"""Hourly damage trajectories of one machine or the whole fleet, without look-ahead."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl

from dt_platform.phm.damage.machine import _machine_rows
from dt_platform.phm.damage.residual import N_DRAWS
from dt_platform.phm.damage.schemas import TRAJECTORY_SCHEMA
from dt_platform.phm.episodes import History, hour_to_datetime
from dt_platform.phm.fitting import FleetPhysics, TypeFit


def machine_trajectory(
    history: History,
    fit: TypeFit,
    machine_id: str,
    hours: np.ndarray | None = None,
    *,
    n_draws: int = N_DRAWS,
    seed: int = 0,
) -> pl.DataFrame | None:
    """Trajectory rows (:data:`TRAJECTORY_SCHEMA`) of one machine under a usable fit, for
    ``hours`` (indices into its stress history; None: every hour), or None without telemetry.

    The Monte-Carlo interval runs for the asked hours only, so a day of a long history costs a
    day; a row equals the matching row of the full trajectory."""
    rows = _machine_rows(history, fit, machine_id, hours, n_draws, seed)
    if rows is None:
        return None
    stress = history.stress[machine_id]
    return pl.DataFrame(
        {
            "machine_id": machine_id,
            "machine_type": fit.machine_type,
            "ts": [hour_to_datetime(stress.hour0 + int(h) + 1) for h in rows.hours],
            "component_installed_at": rows.installed,
            "exposure": rows.exposure,
            "damage": rows.damage,
            "damage_rate_per_h": rows.rate,
            "rul_physics_h": rows.rul,
            "rul_physics_lo_h": rows.lo,
            "rul_physics_hi_h": rows.hi,
            "stage": rows.stage,
        },
        schema=TRAJECTORY_SCHEMA,
    )


def damage_trajectory(
    history: History,
    fleet: FleetPhysics,
    *,
    machines: Iterable[str] | None = None,
    n_draws: int = N_DRAWS,
    seed: int = 0,
) -> pl.DataFrame:
    """Hourly damage and physics RUL per machine, with no look-ahead.

    One row per machine and hour from its first telemetry: ``ts`` is the end of the hour and
    every value uses only data before ``ts`` (the row equals what :func:`physics_state` says at
    ``ts``), so the ML branch can use damage as a feature without leaking the future.
    """
    frames = []
    for machine_id in machines or sorted(history.stress):
        info = history.machines.get(machine_id)
        fit = fleet.types.get(info.machine_type) if info else None
        if info is None or fit is None or not fit.usable:
            continue
        frame = machine_trajectory(history, fit, machine_id, n_draws=n_draws, seed=seed)
        if frame is not None:
            frames.append(frame.with_columns(pl.col(pl.Float64).fill_nan(None)))
    if not frames:
        return pl.DataFrame(schema=TRAJECTORY_SCHEMA)
    out = pl.concat(frames)
    return out.with_columns(
        [
            pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("rul_physics_h", "rul_physics_lo_h", "rul_physics_hi_h")
        ]
    )
