"""Run-to-failure episodes: the lives of degrading components, read from the warehouse.

A life (an :class:`Episode`) starts when the degrading component of a machine was put in service
— the ``finished_at`` of a work order that replaced it — and ends with

* a **failure**: a corrective work order on that component. The failure itself happened before
  the repair started; its time is estimated as the last reading with the machine operating before
  ``started_at`` (at most :data:`FAILURE_LOOKBACK_H` earlier), else ``started_at``;
* a **removal**: a preventive replacement of a working component (right-censored);
* **censoring**: still in service at the end of the history.

Only lives whose start is in the maintenance log are used for fitting. A component with no logged
installation (the log starts after it) has an unknown age; the damage state then assumes it came
with the machine (registry ``installed``) or, without that date, new at the first reading, and
says so (``install_source``).

**Stress.** Telemetry is read with ``quality = 'ok'`` only. Each reading becomes a point of the
machine type's :class:`~dt_platform.phm.physics.DamageLaw`: a throughput weight (hours powered,
sliding distance, revolutions, power cycles) and the stress variables of the damage kernel. Per
machine and hour, readings are averaged (each of the n readings of an hour weighs 1/n hour), and
stress points are rounded to a fine grid and pooled: a sparse matrix hours × stress points from
which the exposure of any hour, for any law parameters, is one matrix product.

**Hours without readings.** Inside a work-order window (the machine stopped for maintenance or
repair) they count as zero exposure. Anywhere else the machine may well have been running while
its gateway was silent, so they get the machine's typical exposure rate: for fitting, the mean
over the life's own observed hours; for the damage trajectory, the trailing week
(:mod:`dt_platform.phm.damage`).

**Left truncation.** A component installed before the machine's first telemetry has an
unobserved early life. Its stress then is unknown; we assume the machine ran the operating
profile of its first :data:`PROFILE_HOURS` hours of data (same products, same shifts), minus the
logged maintenance stops, and record how many hours were imputed (``imputed_hours``). Lives that
began and ended before the data (failures in the log's early part) are kept with fully imputed
stress: they carry true life information, and the imputation assumption is stated in the fit
record (``n_imputed``). The fitting can drop them (``min_observed_fraction``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import numpy as np
import polars as pl
from scipy import sparse

from dt_platform.ingest.telemetry import wide_telemetry_sql
from dt_platform.phm.physics import CNC_VIBRATION_SENSOR, LAWS, DamageLaw, RatingError

HOUR_S = 3600
FAILURE_LOOKBACK_H = 24
PROFILE_HOURS = 168
"""Length of the operating profile (first week of data) used for unobserved early life."""
IMPUTATION_LOG_SD = 0.3
"""Log-sd of a week's operating profile standing in for unseen weeks (typical week-to-week
variation of a production schedule): scatter added, in proportion, to partly imputed lives."""
MIN_PRODUCTION_READINGS = 10
"""A cnc hour needs this many production readings for its mean vibration to count."""


@dataclass(frozen=True)
class MachineInfo:
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

    @property
    def n_hours(self) -> int:
        return int(self.observed.size)

    @property
    def first_data_hour(self) -> int | None:
        idx = np.flatnonzero(self.observed)
        return int(self.hour0 + idx[0]) if idx.size else None

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
        )


@dataclass
class History:
    """Everything the physics branch reads from the warehouse, up to (excluding) ``until``."""

    until: dt.datetime
    machines: dict[str, MachineInfo]
    work_orders: pl.DataFrame
    """machine_id, work_order, started_at, finished_at (null while open), kind, action, component."""
    stress: dict[str, MachineStress]
    problems: dict[str, str] = field(default_factory=dict)
    """machine_id → why it has no stress history (e.g. a missing datasheet value)."""

    @property
    def until_hour(self) -> int:
        return _epoch_hour(self.until)

    def truncate(self, until: dt.datetime) -> History:
        """The history as it was known at ``until`` (floored to the hour): no look-ahead."""
        until = _floor_hour(until)
        if until > self.until:
            raise ValueError(f"cannot extend a history ending {self.until} to {until}")
        hour = _epoch_hour(until)
        wo = self.work_orders.filter(pl.col("started_at") < until).with_columns(
            pl.when(pl.col("finished_at") <= until).then(pl.col("finished_at")).alias("finished_at")
        )
        stress = {m: s.slice_hours(hour) for m, s in self.stress.items()}
        stress = {
            m: _with_downtime(s, wo.filter(pl.col("machine_id") == m)) for m, s in stress.items()
        }
        return History(until, self.machines, wo, stress, dict(self.problems))


@dataclass
class LifeRecord:
    """What the fitting needs of one life: its stress sample and how it ended.

    ``points``/``weights`` are a weighted sample of stress: exposure = Σ weights·kernel(points).
    """

    points: np.ndarray
    weights: np.ndarray
    failed: bool
    life_h: float
    label: str = ""
    extra_log_sd: float = 0.0
    """Added scatter of this life's log-exposure (imputed stress before the first telemetry)."""


@dataclass
class Episode:
    machine_id: str
    machine_type: str
    component: str
    start: dt.datetime
    install_source: str
    """``work_order`` (logged replacement), ``registry`` (came with the machine) or ``first_data``."""
    end: dt.datetime
    end_kind: str
    """``failure``, ``removed`` (preventive replacement) or ``censored`` (in service at the end)."""
    work_order: str | None
    observed_hours: int
    gap_hours: int
    down_hours: int
    imputed_hours: float
    """Operating hours before the machine's first telemetry, filled with its profile."""
    record: LifeRecord

    @property
    def life_h(self) -> float:
        return (self.end - self.start).total_seconds() / HOUR_S

    @property
    def failed(self) -> bool:
        return self.end_kind == "failure"

    @property
    def observed_fraction(self) -> float:
        total = self.observed_hours + self.gap_hours + self.imputed_hours
        return self.observed_hours / total if total > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "machine_id": self.machine_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "end_kind": self.end_kind,
            "work_order": self.work_order,
            "life_h": round(self.life_h, 2),
            "observed_fraction": round(self.observed_fraction, 3),
            "imputed_hours": round(self.imputed_hours, 1),
        }


# --- time helpers -------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no timezone; pass an aware datetime (UTC)")
    return value.astimezone(dt.UTC)


def _floor_hour(value: dt.datetime) -> dt.datetime:
    value = _utc(value)
    return value.replace(minute=0, second=0, microsecond=0)


def _epoch_hour(value: dt.datetime) -> int:
    return int(_utc(value).timestamp() // HOUR_S)


def hour_to_datetime(hour: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(hour * HOUR_S, dt.UTC)


# --- loading ------------------------------------------------------------------------------------


def _machines(con: duckdb.DuckDBPyConnection) -> dict[str, MachineInfo]:
    rows = con.execute(
        "SELECT machine_id, machine_type, installed, attributes FROM machines "
        "WHERE active AND machine_type IN (SELECT unnest(?)) ORDER BY machine_id",
        [list(LAWS)],
    ).fetchall()
    out = {}
    for machine_id, machine_type, installed, attributes in rows:
        attrs = json.loads(attributes) if attributes else {}
        rated = attrs.get("rated") if isinstance(attrs, dict) else None
        out[machine_id] = MachineInfo(machine_id, machine_type, installed, dict(rated or {}))
    return out


def _work_orders(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> pl.DataFrame:
    frame = con.execute(
        """SELECT machine_id, work_order, started_at,
                  CASE WHEN finished_at <= $until THEN finished_at END AS finished_at,
                  kind, action, component
           FROM maintenance_log WHERE started_at < $until
           ORDER BY machine_id, started_at, work_order""",
        {"until": until},
    ).pl()
    return frame.with_columns(
        pl.col("started_at").dt.convert_time_zone("UTC"),
        pl.col("finished_at").dt.convert_time_zone("UTC"),
    )


def _telemetry(
    con: duckdb.DuckDBPyConnection, machine_type: str, sensors: Iterable[str], until: dt.datetime
) -> pl.DataFrame:
    sensors = list(dict.fromkeys(sensors))
    columns = ", ".join(f'"{s}"' for s in sensors)
    return con.execute(
        f"""SELECT machine_id, epoch_us(ts) AS ts_us, {columns}
            FROM ({wide_telemetry_sql(sensors)})
            ORDER BY machine_id, ts_us""",
        {"type": machine_type, "until": until, "sensors": sensors},
    ).pl()


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
        prod = active & np.isfinite(readings[CNC_VIBRATION_SENSOR].cast(pl.Float64).to_numpy())
        vib = readings[CNC_VIBRATION_SENSOR].cast(pl.Float64).to_numpy()
        h = hours[prod] - hour0
        ok = h >= 0
        sums = np.bincount(h[ok], weights=vib[prod][ok], minlength=n)[:n]
        cnt = np.bincount(h[ok], minlength=n)[:n]
        enough = cnt >= MIN_PRODUCTION_READINGS
        vibration[enough] = sums[enough] / cnt[enough]
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
    )


def load_history(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> History:
    """Read registry, maintenance log and ok telemetry before ``until`` (floored to the hour).

    Only the machine types with a damage law are read. A machine whose registry lacks a datasheet
    value its law needs is listed in ``History.problems`` instead of failing the whole fleet.
    """
    until = _floor_hour(until)
    machines = _machines(con)
    work_orders = _work_orders(con, until)
    stress: dict[str, MachineStress] = {}
    problems: dict[str, str] = {}
    until_hour = _epoch_hour(until)
    for machine_type, law in LAWS.items():
        ids = [m for m, info in machines.items() if info.machine_type == machine_type]
        if not ids:
            continue
        sensors = list(law.sensors) + list(law.display_sensors)
        if machine_type == "cnc_spindle":
            sensors.append(CNC_VIBRATION_SENSOR)
        frame = _telemetry(con, machine_type, sensors, until)
        for col in sensors:
            if col not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
        parts = frame.partition_by("machine_id", as_dict=True)
        for machine_id in ids:
            readings = parts.get((machine_id,))
            if readings is None:
                problems[machine_id] = "no ok telemetry before the as-of time"
                continue
            try:
                ms = build_machine_stress(
                    law,
                    machines[machine_id],
                    readings,
                    work_orders.filter(pl.col("machine_id") == machine_id),
                    until_hour,
                )
            except RatingError as exc:
                problems[machine_id] = str(exc)
                continue
            if ms is None:
                problems[machine_id] = f"no usable readings of {', '.join(law.sensors)}"
            else:
                stress[machine_id] = ms
    return History(until, machines, work_orders, stress, problems)


# --- lives --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """One component's time in service as the maintenance log tells it."""

    start: dt.datetime
    install_source: str
    end: dt.datetime | None
    """Failure estimate, removal time, or None if still in service at the end of the history."""
    end_kind: str
    work_order: str | None
    repair_until: dt.datetime | None = None
    """For a failure: when the repair that replaced it finished (None while open)."""


def _replacements(work_orders: pl.DataFrame, component: str) -> pl.DataFrame:
    return work_orders.filter(
        (pl.col("component") == component)
        & ((pl.col("action") == "replace") | (pl.col("kind") == "corrective"))
    ).sort("started_at")


def _last_active_before(
    stress: MachineStress | None, started_at: dt.datetime
) -> dt.datetime | None:
    """End of the last hour with the machine operating before ``started_at`` (within the lookback)."""
    if stress is None or stress.display.is_empty():
        return None
    start_hour = _epoch_hour(started_at) - stress.hour0
    lo = start_hour - FAILURE_LOOKBACK_H
    recent = stress.display.filter(
        (pl.col("hour") >= lo) & (pl.col("hour") <= start_hour) & (pl.col("active_fraction") > 0)
    )
    if recent.is_empty():
        return None
    last = int(recent["hour"].max())
    return min(hour_to_datetime(stress.hour0 + last + 1), started_at)


def services(history: History, machine_id: str) -> list[Service]:
    """The degrading component's lives on one machine, in order (the last one may be open)."""
    info = history.machines[machine_id]
    component = LAWS[info.machine_type].component
    wo = _replacements(history.work_orders.filter(pl.col("machine_id") == machine_id), component)
    stress = history.stress.get(machine_id)
    out: list[Service] = []
    start: dt.datetime | None = None
    source = "work_order"
    rows = list(wo.iter_rows(named=True))
    first_data = (
        hour_to_datetime(stress.first_data_hour)
        if stress is not None and stress.first_data_hour is not None
        else None
    )
    unlogged = (
        not rows
        or rows[0]["kind"] == "corrective"
        or (first_data is not None and rows[0]["started_at"] > first_data)
    )
    if unlogged:
        # The component running when data begin has no logged installation: its age is unknown.
        if info.installed is not None:
            start = dt.datetime.combine(info.installed, dt.time(), tzinfo=dt.UTC)
            source = "registry"
        elif first_data is not None:
            start = first_data
            source = "first_data"
    for row in rows:
        started, finished = row["started_at"], row["finished_at"]
        if start is not None and started > start:
            if row["kind"] == "corrective":
                end = _last_active_before(stress, started) or started
                end = max(end, start)
                out.append(Service(start, source, end, "failure", row["work_order"], finished))
            else:
                out.append(Service(start, source, started, "removed", row["work_order"], finished))
        start = finished
        source = "work_order"
        if finished is None:
            break
    if start is not None and start < history.until:
        out.append(Service(start, source, None, "censored", None))
    return out


def _rows_sum(matrix: sparse.csr_matrix, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return np.zeros(matrix.shape[1])
    return np.asarray(matrix[np.flatnonzero(mask)].sum(axis=0)).ravel()


def downtime_hours(
    windows: pl.DataFrame, start: dt.datetime, end: dt.datetime, until: dt.datetime
) -> float:
    """Hours of [start, end) inside work-order windows (open windows run to ``until``)."""
    total = 0.0
    for s, f in windows.select("started_at", "finished_at").iter_rows():
        f = f or until
        overlap = (min(f, end) - max(s, start)).total_seconds()
        total += max(0.0, overlap) / HOUR_S
    return total


def profile_vector(stress: MachineStress, hours: int = PROFILE_HOURS) -> tuple[np.ndarray, int]:
    """Summed stress of the first ``hours`` observed, non-down hours of data, and their count."""
    mask = stress.observed & ~stress.down
    idx = np.flatnonzero(mask)[:hours]
    sel = np.zeros_like(mask)
    sel[idx] = True
    return _rows_sum(stress.matrix, sel), int(idx.size)


def episode_of(history: History, machine_id: str, svc: Service) -> Episode | None:
    """Cut a :class:`Service` into an :class:`Episode` with its stress sample (None: no data)."""
    info = history.machines[machine_id]
    stress = history.stress.get(machine_id)
    if stress is None:
        return None
    law = LAWS[info.machine_type]
    end = svc.end or history.until
    windows = history.work_orders.filter(pl.col("machine_id") == machine_id)
    h_start = _epoch_hour(svc.start) - stress.hour0
    h_end = math.ceil(end.timestamp() / HOUR_S) - stress.hour0
    lo, hi = max(h_start, 0), max(min(h_end, stress.n_hours), 0)
    in_life = np.zeros(stress.n_hours, dtype=bool)
    in_life[lo:hi] = True
    obs = in_life & stress.observed
    obs_up = obs & ~stress.down
    gap = in_life & ~stress.observed & ~stress.down
    profile, n_profile = profile_vector(stress)
    v_up = _rows_sum(stress.matrix, obs_up)
    v_down = _rows_sum(stress.matrix, obs & stress.down)
    n_up, n_gap = int(obs_up.sum()), int(gap.sum())
    # unobserved operating hours inside the data period: the life's own rate when it has a day
    # of data, else the machine's profile
    if n_up >= 24:
        gap_rate = v_up / n_up
    elif n_profile:
        gap_rate = profile / n_profile
    else:
        return None
    weights = v_down + v_up + gap_rate * n_gap
    imputed = 0.0
    first = hour_to_datetime(stress.hour0)
    if svc.start < first:
        pre_end = min(first, end)
        imputed = (pre_end - svc.start).total_seconds() / HOUR_S
        imputed -= downtime_hours(windows, svc.start, pre_end, history.until)
        imputed = max(imputed, 0.0)
        if n_profile == 0:
            return None
        weights = weights + profile / n_profile * imputed
    nz = weights > 0
    operating = obs_up.sum() + n_gap + imputed
    record = LifeRecord(
        points=stress.points[nz],
        weights=weights[nz],
        failed=svc.end_kind == "failure",
        life_h=(end - svc.start).total_seconds() / HOUR_S,
        label=f"{machine_id}@{svc.start:%Y-%m-%dT%H:%M}",
        extra_log_sd=IMPUTATION_LOG_SD * imputed / operating if operating > 0 else 0.0,
    )
    return Episode(
        machine_id=machine_id,
        machine_type=info.machine_type,
        component=law.component,
        start=svc.start,
        install_source=svc.install_source,
        end=end,
        end_kind=svc.end_kind,
        work_order=svc.work_order,
        observed_hours=int(obs.sum()),
        gap_hours=n_gap,
        down_hours=int((in_life & stress.down).sum()),
        imputed_hours=imputed,
        record=record,
    )


def episodes(history: History, machine_type: str | None = None) -> list[Episode]:
    """Every component life of every machine (of one type, if given), in machine/time order."""
    out = []
    for machine_id, info in history.machines.items():
        if machine_type is not None and info.machine_type != machine_type:
            continue
        for svc in services(history, machine_id):
            ep = episode_of(history, machine_id, svc)
            if ep is not None:
                out.append(ep)
    return out


def episodes_frame(eps: Iterable[Episode]) -> pl.DataFrame:
    """A table of episodes for reports and the dashboard."""
    rows = [
        {
            "machine_id": e.machine_id,
            "machine_type": e.machine_type,
            "component": e.component,
            "start": e.start,
            "install_source": e.install_source,
            "end": e.end,
            "end_kind": e.end_kind,
            "work_order": e.work_order,
            "life_h": e.life_h,
            "observed_hours": e.observed_hours,
            "gap_hours": e.gap_hours,
            "down_hours": e.down_hours,
            "imputed_hours": e.imputed_hours,
        }
        for e in eps
    ]
    schema: Mapping[str, Any] = {
        "machine_id": pl.String,
        "machine_type": pl.String,
        "component": pl.String,
        "start": pl.Datetime("us", "UTC"),
        "install_source": pl.String,
        "end": pl.Datetime("us", "UTC"),
        "end_kind": pl.String,
        "work_order": pl.String,
        "life_h": pl.Float64,
        "observed_hours": pl.Int64,
        "gap_hours": pl.Int64,
        "down_hours": pl.Int64,
        "imputed_hours": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)
