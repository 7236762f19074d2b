"""Each service cut into an :class:`Episode` with the stress sample the fitting needs: silent
hours filled, stops zeroed, the life before the first telemetry imputed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from dt_platform.phm.episodes.history import History
from dt_platform.phm.episodes.hours import HOUR_S, _epoch_hour, hour_to_datetime
from dt_platform.phm.episodes.services import Service, services
from dt_platform.phm.episodes.stress import MachineStress
from dt_platform.phm.physics import LAWS

PROFILE_HOURS = 168
"""Length of the operating profile (first week of data) used for unobserved early life."""
IMPUTATION_LOG_SD = 0.3
"""Log-sd of a week's operating profile standing in for unseen weeks (typical week-to-week
variation of a production schedule): scatter added, in proportion, to partly imputed lives."""


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
