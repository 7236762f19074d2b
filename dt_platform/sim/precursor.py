"""How long each failure's precursor showed in the sensors before it, from the ground truth.

A failure can be warned ``h`` hours ahead *by condition* only if its mechanism moved a sensor at
least ``h`` hours before it. Most laws of the line move their indicator from the install on
(:attr:`~dt_platform.sim.machines.base.MachineModel.onset_damage` = 0); a spindle bearing's does
not: vibration stays at its baseline until the spall initiates, and a spall can then grow to
failure within hours. Such a failure can still be foreseen, but only from usage (the initiation
hazard), not seen. The simulated-line benchmark uses this to tell the two apart; the platform
never reads it.
"""

from __future__ import annotations

import polars as pl

from dt_platform.sim.machines.models import MODELS


def precursor_hours(damage: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    """``failures`` (``machine_id, machine_type, component_no, failed_at``, other columns kept)
    with ``onset_at`` — the first hour of the truth's ``damage`` table (hourly ``machine_id,
    machine_type, component_no, ts, damage``) at which the failed component's damage had reached
    its type's onset — and ``precursor_h = failed_at − onset_at``. A component in service before
    the table starts gets the table's first hour (``precursor_h`` is then a lower bound); one
    whose precursor began and ended between two hours gets 0."""
    onset = pl.DataFrame(
        {
            "machine_type": list(MODELS),
            "onset_damage": [m.onset_damage for m in MODELS.values()],
        }
    )
    first = (
        damage.join(onset, on="machine_type", how="inner")
        .filter(pl.col("damage") >= pl.col("onset_damage"))
        .group_by("machine_id", "component_no")
        .agg(pl.col("ts").min().alias("onset_at"))
    )
    return failures.join(first, on=["machine_id", "component_no"], how="left").with_columns(
        pl.max_horizontal(
            (pl.col("failed_at") - pl.col("onset_at")).dt.total_seconds() / 3600.0, pl.lit(0.0)
        )
        .fill_null(0.0)
        .alias("precursor_h")
    )
