"""A machine's readings as its gateway sends them: in the gateway's units, rounded, with the
gateway's timestamps and day boundaries, and numbers written as text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dt_platform.catalog import MACHINE_TYPES, QUANTITIES
from dt_platform.sim.gateways import Gateway

if TYPE_CHECKING:
    from dt_platform.sim.line import MachineRun
    from dt_platform.sim.sensors import Observed


@dataclass
class _Source:
    """One machine's readings as a gateway sends them (its units, rounded)."""

    machine_id: str
    tags: list[str]
    units: list[str]
    decimals: np.ndarray
    values: np.ndarray
    present: np.ndarray
    out_of_range: np.ndarray


def _decimals(base: int, scale: float) -> int:
    return max(0, base + round(float(np.log10(scale))))


def _source(run: MachineRun, obs: Observed, gw: Gateway) -> _Source:
    model = run.spec.model
    mtype = MACHINE_TYPES[model.type_name]
    values = np.empty_like(obs.values)
    oor = np.zeros(values.shape, dtype=bool)
    tags, units, decimals = [], [], []
    for j, spec in enumerate(model.sensors):
        sensor = mtype.sensor_by_tag(spec.tag)
        unit = gw.unit_for(sensor)
        scale, offset = QUANTITIES[sensor.quantity].conversions[unit]
        d = _decimals(spec.decimals, scale)
        col = np.round((obs.values[:, j] - offset) / scale, d) + 0.0
        values[:, j] = col
        back = col * scale + offset
        oor[:, j] = np.isfinite(col) & ((back < sensor.low) | (back > sensor.high))
        tags.append(spec.tag)
        units.append(unit)
        decimals.append(d)
    present = np.isfinite(values) & ~obs.line_missing[:, None]
    return _Source(run.spec.machine_id, tags, units, np.asarray(decimals), values, present, oor)


def _day_keys(t: np.ndarray, zone: str) -> np.ndarray:
    local = pl.from_epoch(pl.Series(t), time_unit="s").dt.replace_time_zone("UTC")
    return local.dt.convert_time_zone(zone).dt.strftime("%Y%m%d").cast(pl.Int64).to_numpy()


def _timestamps(t: np.ndarray, zone: str, zulu: bool) -> tuple[pl.Series, pl.Series]:
    """ISO 8601 text per grid step with its offset, and the same without (a 'naive' error)."""
    local = pl.from_epoch(pl.Series(t), time_unit="s").dt.replace_time_zone("UTC")
    local = local.dt.convert_time_zone(zone)
    naive = local.dt.strftime("%Y-%m-%dT%H:%M:%S")
    aware = naive + "Z" if zulu else local.dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    return aware, naive


def _format(values: np.ndarray, decimals: np.ndarray) -> pl.Series:
    """Numbers as text: integers without a decimal point, others in shortest form."""
    frame = pl.DataFrame({"v": values, "d": decimals}).with_columns(pl.col("v").fill_nan(None))
    return frame.select(
        pl.when(pl.col("d") == 0)
        .then(pl.col("v").round(0).cast(pl.Int64).cast(pl.String))
        .otherwise(pl.col("v").cast(pl.String))
    ).to_series()


def _join_lines(lines: pl.Series) -> str:
    return lines.str.join("\n").item() + "\n" if lines.len() else ""
