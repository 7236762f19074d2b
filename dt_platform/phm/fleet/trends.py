"""Per machine, the health sensor closest to its failure limit and its trend: what a maintenance
alert names as its reason."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from dt_platform.phm.episodes import HOUR_S
from dt_platform.phm.fleet.features import operating_lives

TREND_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "trend_sensor": pl.String(),
    "trend_value": pl.Float64(),
    "trend_slope_per_h": pl.Float64(),
    "trend_limit": pl.Float64(),
    "trend_limit_kind": pl.String(),
    "trend_limit_fraction": pl.Float64(),
}


def sensor_trends(base: pl.DataFrame, *, window_h: int = 24, baseline_h: int = 24) -> pl.DataFrame:
    """Per machine: its health sensor closest to the failure limit over its current life.

    ``base`` holds the rows of each machine's current life (any length, sorted or not). Over the
    last ``window_h`` operating hours: the mean value, the least-squares slope per calendar hour,
    and the fraction of the way to the limit (1 = at the limit, as :func:`health_indicator`).
    """
    rows = []
    for spec, op in operating_lives(base):
        for (machine_id,), m in op.group_by("machine_id", maintain_order=True):
            life = m.filter(pl.col("life_id") == m["life_id"][-1])
            best = None
            for lim in spec.limits:
                v = life[lim.sensor].to_numpy().astype(float)
                ok = np.isfinite(v)
                if ok.sum() == 0:
                    continue
                t = (life["ts"].dt.epoch("s").to_numpy() / HOUR_S)[ok]
                v = v[ok]
                recent = slice(max(0, v.size - window_h), v.size)
                value = float(np.mean(v[recent]))
                slope = _slope(t[recent], v[recent])
                if lim.kind == "above":
                    frac = value / lim.limit
                elif lim.kind == "below":
                    frac = lim.limit / value if value > 0 else math.inf
                else:
                    base_v = float(np.mean(v[:baseline_h]))
                    frac = (value / base_v - 1.0) / lim.limit if base_v > 0 else math.nan
                if best is None or (np.isfinite(frac) and frac > best["trend_limit_fraction"]):
                    best = {
                        "machine_id": str(machine_id),
                        "trend_sensor": lim.sensor,
                        "trend_value": value,
                        "trend_slope_per_h": slope,
                        "trend_limit": lim.limit,
                        "trend_limit_kind": lim.kind,
                        "trend_limit_fraction": frac,
                    }
            if best is not None:
                rows.append(best)
    return pl.DataFrame(rows, schema=TREND_SCHEMA) if rows else pl.DataFrame(schema=TREND_SCHEMA)


def _slope(t: np.ndarray, v: np.ndarray) -> float:
    if t.size < 2 or np.ptp(t) <= 0:
        return math.nan
    tc = t - t.mean()
    return float((tc * (v - v.mean())).sum() / (tc * tc).sum())
