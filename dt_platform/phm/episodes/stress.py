"""One machine's readings compressed into its hourly stress history, outliers clipped and
maintenance stops marked (:class:`MachineStress`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from dt_platform.phm.episodes.hours import HOUR_S
from dt_platform.phm.physics import (
    CNC_VIBRATION_SENSOR,
    SERVO_TJ_SENSOR,
    SERVO_VCE_SENSOR,
    DamageLaw,
)

MIN_PRODUCTION_READINGS = 10
"""A cnc (servo) hour needs this many production readings for its mean vibration (Vce) to count."""
FROZEN_RUN = 3
"""Identical consecutive readings from which a vibration transmitter counts as frozen."""


@dataclass(frozen=True)
class MachineInfo:
    """A machine's registry row: its type, installation date and datasheet (``rated``) values."""

    machine_id: str
    machine_type: str
    installed: dt.date | None
    rated: dict[str, Any]


@dataclass
class MachineStress:
    """One machine's hourly stress history, compressed for any damage-law parameters.

    Hour ``i`` covers ``[hour0 + i, hour0 + i + 1)`` in epoch hours. ``matrix[i, j]`` is the
    throughput weight spent at stress point ``points[j]`` during hour ``i``; exposure per hour is
    ``matrix @ law.kernel(points, θ)``.
    """

    machine_id: str
    machine_type: str
    hour0: int
    points: np.ndarray
    matrix: sparse.csr_matrix
    observed: np.ndarray
    """Hours with at least one usable reading."""
    down: np.ndarray
    """Hours mostly inside a work-order window (maintenance or repair stop)."""
    display: pl.DataFrame
    """Per observed hour (``hour`` index): mean of the law's display sensors over operating
    readings and ``active_fraction``."""
    vibration: np.ndarray
    """cnc only: hourly mean vibration over production readings (NaN where too few)."""
    vce_log: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """servo only: hourly mean of ln Vce(on) over production readings (NaN where too few)."""
    vce_tj: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """servo only: hourly mean junction temperature (degC) over the same readings."""

    @property
    def n_hours(self) -> int:
        return int(self.observed.size)

    @property
    def first_data_hour(self) -> int | None:
        idx = np.flatnonzero(self.observed)
        return int(self.hour0 + idx[0]) if idx.size else None

    def hour_span(self, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
        """``(lo, hi)``: the machine's hours from the one holding ``start`` up to and including
        the one holding ``end``, within its history (``hi`` exclusive)."""
        lo = max(int(start.timestamp() // HOUR_S) - self.hour0, 0)
        hi = min(math.ceil(end.timestamp() / HOUR_S) - self.hour0, self.n_hours)
        return lo, hi

    def slice_hours(self, end_hour: int) -> MachineStress:
        """The same history cut before epoch hour ``end_hour`` (no data at or after it)."""
        n = max(0, min(self.n_hours, end_hour - self.hour0))
        return replace(
            self,
            matrix=self.matrix[:n],
            observed=self.observed[:n],
            down=self.down[:n],
            display=self.display.filter(pl.col("hour") < n),
            vibration=self.vibration[:n],
            vce_log=self.vce_log[:n],
            vce_tj=self.vce_tj[:n],
        )


def _down_hours(hour0: int, n: int, windows: pl.DataFrame, until_hour: int) -> np.ndarray:
    """Hours at least half covered by a work-order window (open windows run to the end)."""
    down = np.zeros(n, dtype=bool)
    if n == 0 or windows.is_empty():
        return down
    edges = (np.arange(n + 1) + hour0) * HOUR_S
    for start, finish in windows.select("started_at", "finished_at").iter_rows():
        s = start.timestamp()
        f = finish.timestamp() if finish is not None else until_hour * HOUR_S
        overlap = np.clip(np.minimum(edges[1:], f) - np.maximum(edges[:-1], s), 0, None)
        down |= overlap >= HOUR_S / 2
    return down


def _with_downtime(stress: MachineStress, windows: pl.DataFrame) -> MachineStress:
    until_hour = stress.hour0 + stress.n_hours
    return replace(stress, down=_down_hours(stress.hour0, stress.n_hours, windows, until_hour))


HAMPEL_SDS = 6.0
HAMPEL_MIN_REL = 0.02


def hampel_clip(
    hour: np.ndarray, weight: np.ndarray, shape: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Clip single-reading outliers of the operating readings, hour by hour, causally.

    Damage kernels are steep (ΔTj^5, exp(−Ea/kT)): one bad reading that slipped through the
    ingestion's spike filter can outweigh days of operation. Readings of hour h are clipped to
    median ± max(6 robust sd, 2 % of the median) of the operating readings (throughput > 0) of
    hours h−1 and h: enough company for a lone reading, known when hour h ends (no look-ahead),
    and a product change on the hour makes the spread bimodal and wide, so real steps survive.
    """
    active = weight > 0
    if not active.any():
        return weight, shape
    cols = {"w": weight[active], **{f"x{j}": shape[active, j] for j in range(shape.shape[1])}}
    names = list(cols)
    rows = pl.DataFrame({"hour": hour[active], **cols})
    # every reading speaks for its own hour and, as company, for the next one
    pool = pl.concat([rows, rows.with_columns(pl.col("hour") + 1)])
    med = pool.group_by("hour").agg([pl.col(c).median().alias(f"{c}_med") for c in names])
    pool = pool.join(med, on="hour", how="left")
    mad = pool.group_by("hour").agg(
        [(pl.col(c) - pl.col(f"{c}_med")).abs().median().alias(f"{c}_mad") for c in names]
    )
    frame = rows.join(med, on="hour", how="left", maintain_order="left").join(
        mad, on="hour", how="left", maintain_order="left"
    )
    weight = weight.copy()
    shape = shape.copy()
    for c in names:
        m = frame[f"{c}_med"].to_numpy()
        half = np.maximum(
            HAMPEL_SDS * 1.4826 * frame[f"{c}_mad"].to_numpy(), HAMPEL_MIN_REL * np.abs(m)
        )
        clipped = np.clip(frame[c].to_numpy(), m - half, m + half)
        if c == "w":
            weight[active] = clipped
        else:
            shape[active, int(c[1:])] = clipped
    return weight, shape


def build_machine_stress(
    law: DamageLaw,
    info: MachineInfo,
    readings: pl.DataFrame,
    windows: pl.DataFrame,
    until_hour: int,
) -> MachineStress | None:
    """Compress one machine's readings (``ts_us`` + sensor columns) into a :class:`MachineStress`.

    Raises :class:`~dt_platform.phm.physics.RatingError` if the registry lacks a datasheet value.
    """
    if readings.is_empty():
        return None
    v = law.variables(readings, info.rated)
    weight = v["weight_per_h"]
    shape = np.column_stack([v[name] for name in law.shape_vars])
    valid = np.isfinite(weight) & ((weight == 0) | np.all(np.isfinite(shape), axis=1))
    hours = readings["ts_us"].to_numpy() // (HOUR_S * 1_000_000)
    hours_valid = hours[valid]
    if hours_valid.size == 0:
        return None
    hour0 = int(hours_valid.min())
    n = max(0, until_hour - hour0)
    idx = hours_valid - hour0
    counts = np.bincount(idx, minlength=n)
    weight_v, x = hampel_clip(idx, weight[valid], shape[valid])
    w = weight_v / counts[idx]
    keep = w > 0
    res = np.asarray(law.resolution, dtype=float)
    xk, wk = x[keep], w[keep]
    if xk.size:
        # pool readings on a fixed grid (cell centres): the same reading always maps to the same
        # point, whatever else is in the history, so the compression cannot leak the future
        cells, inverse = np.unique(np.round(xk / res), axis=0, return_inverse=True)
        points, inverse = cells * res, inverse.ravel()
    else:
        points, inverse = np.zeros((0, len(law.shape_vars))), np.zeros(0, dtype=int)
    matrix = sparse.coo_matrix((wk, (idx[keep], inverse)), shape=(n, points.shape[0])).tocsr()
    observed = counts > 0

    active = np.asarray(v["active"], dtype=bool) & valid
    disp_cols = [c for c in law.display_sensors if c in readings.columns]
    display = (
        readings.with_columns(pl.Series("hour", hours - hour0), pl.Series("_active", active))
        .filter(pl.col("hour") >= 0)
        .group_by("hour")
        .agg(
            pl.col("_active").mean().alias("active_fraction"),
            *[pl.col(c).filter(pl.col("_active")).mean().alias(c) for c in disp_cols],
        )
        .sort("hour")
    )
    vibration = np.full(n, np.nan)
    if CNC_VIBRATION_SENSOR in readings.columns:
        vib = readings[CNC_VIBRATION_SENSOR].cast(pl.Float64).to_numpy()
        vibration = _hourly_means(hours - hour0, active & ~frozen_repeats(vib), [vib], n)[0]
    vce_log = vce_tj = np.zeros(0)
    if SERVO_VCE_SENSOR in readings.columns and SERVO_TJ_SENSOR in readings.columns:
        vce = readings[SERVO_VCE_SENSOR].cast(pl.Float64).to_numpy()
        tj = readings[SERVO_TJ_SENSOR].cast(pl.Float64).to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            log_vce = np.where(vce > 0, np.log(vce), np.nan)
        keep = active & ~frozen_repeats(vce)
        vce_log, vce_tj = _hourly_means(hours - hour0, keep, [log_vce, tj], n)
    return MachineStress(
        machine_id=info.machine_id,
        machine_type=info.machine_type,
        hour0=hour0,
        points=points,
        matrix=matrix,
        observed=observed,
        down=_down_hours(hour0, n, windows, until_hour),
        display=display,
        vibration=vibration,
        vce_log=vce_log,
        vce_tj=vce_tj,
    )


def _hourly_means(
    hour: np.ndarray, keep: np.ndarray, columns: list[np.ndarray], n: int
) -> list[np.ndarray]:
    """Per hour of ``n``, the means of ``columns`` over the readings kept where every column is
    finite; NaN in hours with fewer than :data:`MIN_PRODUCTION_READINGS` such readings."""
    ok = keep & (hour >= 0) & np.all([np.isfinite(c) for c in columns], axis=0)
    h = hour[ok]
    cnt = np.bincount(h, minlength=n)[:n]
    enough = cnt >= MIN_PRODUCTION_READINGS
    out = []
    for c in columns:
        mean = np.full(n, np.nan)
        sums = np.bincount(h, weights=c[ok], minlength=n)[:n]
        mean[enough] = sums[enough] / cnt[enough]
        out.append(mean)
    return out


def frozen_repeats(values: np.ndarray) -> np.ndarray:
    """Readings (in time order) that repeat their predecessor within a run of at least
    :data:`FROZEN_RUN` identical values: a frozen transmitter repeating its last reading.

    The warehouse flags runs of ``STUCK_RUN`` (:mod:`dt_platform.ingest.telemetry`); shorter
    ones pass as ``ok``, and one stuck on a high reading for two hours shifts the hourly means
    the spall onset is read from as much as a spall does. The run's first reading stays (it was
    a true reading); a vibration RMS that varies repeats a value three times running by chance
    about once in a few hundred readings, so little true data is lost.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return np.zeros(0, dtype=bool)
    same = np.concatenate([[False], v[1:] == v[:-1]])
    run_id = np.cumsum(~same)
    run_len = np.bincount(run_id)[run_id]
    return same & (run_len >= FROZEN_RUN)
