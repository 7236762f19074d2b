"""Every machine's physics state at one as-of time, with the stress that drives its damage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from dt_platform.phm import physics
from dt_platform.phm.damage.machine import _machine_rows
from dt_platform.phm.damage.residual import N_DRAWS
from dt_platform.phm.damage.schemas import STATE_SCHEMA
from dt_platform.phm.episodes import History, MachineStress
from dt_platform.phm.fitting import FleetPhysics, TypeFit
from dt_platform.phm.physics import LAWS

DISPLAY_WINDOW_H = 24


def _dominant_stress(history: History, machine_id: str, stress: MachineStress, fit: TypeFit) -> str:
    """The recent (last day of operation) stress that drives the damage law, in words."""
    law = LAWS[fit.machine_type]
    recent = stress.display.filter(pl.col("active_fraction") > 0).tail(DISPLAY_WINDOW_H)
    if recent.is_empty():
        return "not operating in the last day"
    values: dict[str, float] = {
        c: float(recent[c].mean())
        for c in law.display_sensors
        if c in recent.columns and recent[c].null_count() < recent.height
    }
    values.update(fit.theta())
    if fit.machine_type == "cnc_spindle" and "load_pct" in values:
        rated = history.machines[machine_id].rated
        c_kn = float(rated["bearing_dynamic_load_rating_c_kn"])
        values["load_ratio"] = (
            float(physics.cnc_bearing_load_kn(np.array([values["load_pct"]]), rated)[0]) / c_kn
        )
        vib = stress.vibration[np.isfinite(stress.vibration)]
        text = law.describe(values)
        return text + (f", vibration_rms_mm_s {vib[-1]:.2f} mm/s" if vib.size else "")
    return law.describe(values)


def physics_state(
    history: History,
    fleet: FleetPhysics,
    as_of: dt.datetime,
    *,
    n_draws: int = N_DRAWS,
    seed: int = 0,
) -> pl.DataFrame:
    """One row per machine: damage, damage rate and RUL_phys with a 90 % interval at ``as_of``.

    Uses the history as known at ``as_of`` (floored to the hour). Machines without data or whose
    type has no usable fit get a row with nulls and a ``note`` saying why.
    """
    hist = history.truncate(as_of)
    version = fleet.version
    out = []
    for machine_id, info in sorted(hist.machines.items()):
        fit = fleet.types.get(info.machine_type)
        row: dict[str, object] = {k: None for k in STATE_SCHEMA}
        row.update(
            machine_id=machine_id,
            machine_type=info.machine_type,
            as_of=hist.until,
            physics_params_version=version,
        )
        stress = hist.stress.get(machine_id)
        if fit is None or not fit.usable:
            row["note"] = "no fitted damage law for this type" + (
                f": {fit.decisions[-1]}" if fit and fit.decisions else ""
            )
        elif stress is None or stress.n_hours == 0:
            row["note"] = hist.problems.get(machine_id, "no telemetry before as_of")
        else:
            rows = _machine_rows(
                hist, fit, machine_id, np.array([stress.n_hours - 1]), n_draws, seed
            )
            assert rows is not None
            row.update(
                component_installed_at=rows.installed[0],
                damage=float(rows.damage[0]),
                damage_rate_per_h=float(rows.rate[0]),
                rul_physics_h=float(rows.rul[0]),
                rul_physics_lo_h=float(rows.lo[0]),
                rul_physics_hi_h=float(rows.hi[0]),
                dominant_stress=_dominant_stress(hist, machine_id, stress, fit),
                stage=rows.stage[0],
                note=rows.notes[0],
            )
        out.append(row)
    frame = pl.DataFrame(out, schema=STATE_SCHEMA) if out else pl.DataFrame(schema=STATE_SCHEMA)
    floats = [
        "damage",
        "damage_rate_per_h",
        "rul_physics_h",
        "rul_physics_lo_h",
        "rul_physics_hi_h",
    ]
    return frame.with_columns(
        [
            pl.when(pl.col(c).is_nan() | pl.col(c).is_infinite())
            .then(None)
            .otherwise(pl.col(c))
            .alias(c)
            for c in floats
        ]
    )
