"""The cold-start warning: a health sensor's trend extrapolated to its catalogue failure limit.

The RUL model learns from failures. A machine type that has never failed on the platform (and
whose damage law has no literature scale, like the SMT placer's Archard wear) gets no physics
value, and the data branch, trained on the other types' failures, does not know how this type
ends: in the demo the first placer failure came with no alert. What is known from day one is the
failure criterion of the machine catalogue (:data:`~dt_platform.phm.signals.TYPE_SIGNALS`: a
placement offset above 60 µm, a vacuum below 45 kPa, ...). So, per operating hour of each life:

* the least-squares line of each limit sensor over the life's last ``window_h`` operating hours
  (at least ``min_hours`` of them with a value), the fitted value now and its slope per hour;
* the hours until that line reaches the limit (``above``: the limit; ``below``: the limit from
  above; ``rise``: the life's baseline — the mean of its first ``baseline_h`` operating hours —
  raised by the allowed fraction); 0 once past it, unbounded when the trend does not approach;
* the nearest limit over the type's sensors: ``hours_to_limit`` and its sensor.

The slope is per *calendar* hour between operating hours, so idle hours stretch the projection
as they stretch the wear. A week of operating hours averages out sensor noise that a day's slope
follows (measured below).

Measured on the simulated line (projection alone, scored like the fleet benchmark: warned
≥ 24 h ahead, false alert episodes at a 72 h horizon; ``benchmarks/simulated_phm.py`` prints it
per evaluation fleet as ``limit_projection``), SMT placers, alert within 72 h of the limit:

* fleets 41-60: 0.935 of 77 failures warned ≥ 24 h ahead, 2 of 75 episodes false;
* fleets 8, 11, 12, 21, 31-35: 0.933 of 45, 1 of 44 false; fleets 61-65: 0.958 of 24, 1 of 25;
* evaluated once a day at midnight, as the daily partitions do (fleets 41-60): 0.908 of 76,
  1 of 74 false (the live schedule evaluates every hour);
* a day's window instead of a week (fleets 41-50): 0.88 warned, 20-38 % of episodes false; a
  quadratic over the week or two, to follow the wear's slow acceleration: 0.88-0.95 warned but
  5-38 % false.

The other types' failures do not announce themselves that way (an oven heater's duty, a
spindle's spall and a drive's Vce(on) rise late and fast): CNC 0, ovens 0.07-0.25, servo drives
0.31-0.33 warned, with few false episodes. So it is used only where the RUL model has nothing of
the type's own (:func:`dt_platform.phm.alerts.evaluate_alerts`), not as a second opinion
everywhere.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dt_platform.phm.episodes import HOUR_S
from dt_platform.phm.fleet.features import operating_lives
from dt_platform.phm.signals import HealthLimit

WINDOW_H = 168
"""Operating hours the trend is fitted over (a week)."""
MIN_HOURS = 84
"""Fewest operating hours with a value before a life gets a projection."""
BASELINE_H = 24
"""Operating hours at the start of a life that define the baseline of a ``rise`` limit."""

PROJECTION_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "limit_sensor": pl.String(),
    "limit_value": pl.Float64(),
    "limit_slope_per_h": pl.Float64(),
    "limit": pl.Float64(),
    "limit_kind": pl.String(),
    "hours_to_limit": pl.Float64(),
}
"""One row per operating hour: the nearest limit's sensor, its fitted value now, slope, the
limit (a ``rise`` limit as the absolute value it stands for) and the hours until it is reached
(``inf`` when the trend does not approach it; null before ``min_hours``)."""


def projection_timeline(
    base: pl.DataFrame,
    *,
    window_h: int = WINDOW_H,
    min_hours: int = MIN_HOURS,
    baseline_h: int = BASELINE_H,
) -> pl.DataFrame:
    """:data:`PROJECTION_SCHEMA` for every operating hour of every life in ``base`` (rows of
    ``ml_features``: ``machine_id, machine_type, ts, component_installed_at, op_fraction`` and
    the sensor columns), sorted by machine and time. Causal: each row uses its past only."""
    if window_h < 2 or not 2 <= min_hours <= window_h:
        raise ValueError(f"need 2 <= min_hours ({min_hours}) <= window_h ({window_h})")
    parts = [
        _type_projection(op, spec.limits, window_h, min_hours, baseline_h)
        for spec, op in operating_lives(base)
    ]
    if not parts:
        return pl.DataFrame(schema=PROJECTION_SCHEMA)
    return pl.concat(parts).sort("machine_id", "ts")


def latest_projection(lives: pl.DataFrame, **kwargs) -> pl.DataFrame:
    """Per machine, the projection of the last operating hour of its rows in ``lives`` (the
    current life of each machine, as :func:`~dt_platform.phm.fleet.sensor_trends` takes it);
    machines without one yet are left out."""
    timeline = projection_timeline(lives, **kwargs).filter(pl.col("hours_to_limit").is_not_null())
    return timeline.group_by("machine_id", maintain_order=True).last()


def _type_projection(
    op: pl.DataFrame,
    limits: tuple[HealthLimit, ...],
    window_h: int,
    min_hours: int,
    baseline_h: int,
) -> pl.DataFrame:
    life = op["life_id"].to_numpy()
    n_rows = op.height
    # per row: index of the first row of its life, and of its trailing window of operating rows
    new_life = np.r_[True, life[1:] != life[:-1]]
    first = np.maximum.accumulate(np.where(new_life, np.arange(n_rows), 0))
    start = np.maximum(first, np.arange(n_rows) - window_h + 1)
    hours = op["ts"].dt.epoch("s").to_numpy() / HOUR_S
    t = hours - hours[first]  # hours since the life's first operating row: small sums

    best = np.full(n_rows, np.nan)
    sensor = np.full(n_rows, None, dtype=object)
    value = np.full(n_rows, np.nan)
    slope_out = np.full(n_rows, np.nan)
    limit_out = np.full(n_rows, np.nan)
    kind_out = np.full(n_rows, None, dtype=object)
    for lim in limits:
        v = op[lim.sensor].cast(pl.Float64).to_numpy()
        ok = np.isfinite(v)
        n, st, sv, stt, stv = (
            _window_sum(x, start)
            for x in (ok * 1.0, np.where(ok, t, 0.0), np.where(ok, v, 0.0),
                      np.where(ok, t * t, 0.0), np.where(ok, t * v, 0.0))
        )  # fmt: skip
        enough = n >= min_hours
        with np.errstate(invalid="ignore", divide="ignore"):
            den = n * stt - st * st
            slope = np.where(enough & (den > 0), (n * stv - st * sv) / den, np.nan)
            now = (sv + slope * (n * t - st)) / n  # the fitted line at this row
            if lim.kind == "above":
                target, distance, rate = lim.limit, lim.limit - now, slope
            elif lim.kind == "below":
                target, distance, rate = lim.limit, now - lim.limit, -slope
            else:
                baseline = _life_baseline(v, ok, first, baseline_h)
                target = baseline * (1.0 + lim.limit)
                distance, rate = target - now, slope
            ahead = distance / np.where(rate > 0, rate, 1.0)
            h = np.where(distance <= 0, 0.0, np.where(rate > 0, ahead, np.inf))
        h = np.where(np.isfinite(slope) & np.isfinite(distance), h, np.nan)
        better = ~np.isnan(h) & (np.isnan(best) | (h < best))
        best = np.where(better, h, best)
        sensor = np.where(better, lim.sensor, sensor)
        value = np.where(better, now, value)
        slope_out = np.where(better, slope, slope_out)
        limit_out = np.where(better, target, limit_out)
        kind_out = np.where(better, lim.kind, kind_out)
    return op.select("machine_id", "machine_type", "ts").with_columns(
        pl.Series("limit_sensor", sensor.tolist(), dtype=pl.String()),
        pl.Series("limit_value", value),
        pl.Series("limit_slope_per_h", slope_out),
        pl.Series("limit", limit_out),
        pl.Series("limit_kind", kind_out.tolist(), dtype=pl.String()),
        pl.Series("hours_to_limit", best).fill_nan(None),
    )


def _window_sum(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Sum of ``x[start[i] : i + 1]`` for every i."""
    c = np.r_[0.0, np.cumsum(x)]
    return c[np.arange(x.size) + 1] - c[start]


def _life_baseline(v: np.ndarray, ok: np.ndarray, first: np.ndarray, baseline_h: int) -> np.ndarray:
    """Per row, the mean of its life's first ``baseline_h`` valid values seen so far (causal)."""
    idx = np.arange(v.size)
    c_ok = np.cumsum(ok)
    rank = c_ok - np.r_[0, c_ok][first]  # valid values of the life up to and including this row
    early = ok & (rank <= baseline_h)
    c_n = np.r_[0.0, np.cumsum(early * 1.0)]
    c_v = np.r_[0.0, np.cumsum(np.where(early, v, 0.0))]
    n = c_n[idx + 1] - c_n[first]
    total = c_v[idx + 1] - c_v[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 0) & (total > 0), total / n, np.nan)
