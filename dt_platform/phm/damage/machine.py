"""One machine's damage, damage rate and physics RUL for the asked hours, every stage."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from dt_platform.phm import physics
from dt_platform.phm.damage.replay import _horizon_sd, _Hourly, _hourly, _Replay, _weekly_log_sd
from dt_platform.phm.damage.residual import _equilibrium_residual, _interval, _residual, _rng
from dt_platform.phm.damage.rows import M_QUANTILES, _Draws, _Rows
from dt_platform.phm.damage.spall import _spall_stage
from dt_platform.phm.damage.vce import _vce_stage
from dt_platform.phm.episodes import (
    HOUR_S,
    PROFILE_HOURS,
    History,
    MachineStress,
    Service,
    downtime_hours,
    hour_to_datetime,
    services,
)
from dt_platform.phm.fitting import TypeFit
from dt_platform.phm.fitting.clock import clock_weights
from dt_platform.phm.physics import LAWS


def _open_corrective(
    history: History, machine_id: str, component: str, ts: np.ndarray
) -> list[str | None]:
    """Per row time (epoch s): the corrective work order on ``component`` open during the hour
    the row describes, if any. A row at ``ts`` describes the hour before it, so a work order
    finished exactly at ``ts`` still covers that row: its component is the failed one (the
    replacement starts with the next row, :func:`_segments`). Work orders are often logged on
    the hour; read with a strict end, that row showed the failed component as running, 0 h
    left, and raised a critical alert on a machine just repaired."""
    wo = history.work_orders.filter(
        (pl.col("machine_id") == machine_id)
        & (pl.col("component") == component)
        & (pl.col("kind") == "corrective")
    )
    out: list[str | None] = [None] * len(ts)
    for number, started, finished in wo.select(
        "work_order", "started_at", "finished_at"
    ).iter_rows():
        s0 = started.timestamp()
        f0 = finished.timestamp() if finished is not None else math.inf
        for k in np.flatnonzero((ts > s0) & (ts <= f0)):
            out[int(k)] = str(number)
    return out


def _segments(svcs: Sequence[Service], stress: MachineStress) -> list[tuple[Service, int, int]]:
    """(service, first hour, end hour) on the machine's hour axis, for services with data hours."""
    n = stress.n_hours
    out = []
    for i, s in enumerate(svcs):
        h0 = max(int(s.start.timestamp() // HOUR_S) - stress.hour0, 0)
        h1 = (
            n if i + 1 == len(svcs) else int(svcs[i + 1].start.timestamp() // HOUR_S) - stress.hour0
        )
        h1 = min(max(h1, 0), n)
        if h1 > h0:
            out.append((s, h0, h1))
    return out


@dataclass
class _InService:
    """Per hour of the machine: the component in service and the exposure it has used up."""

    exposure: np.ndarray
    """(hours, draws) exposure since installation at the end of each hour."""
    pre_hours: np.ndarray
    """Operating hours of its life before the first telemetry (imputed at the profile rate)."""
    installed: list[dt.datetime | None]
    source: list[str | None]
    """How its installation is known (``work_order``, ``registry``, ``first_data``)."""
    observed: np.ndarray
    """(hours, draws) exposure since the later of its installation and the first telemetry."""


def _machine_rows(
    history: History,
    fit: TypeFit,
    machine_id: str,
    want: np.ndarray | None,
    n_draws: int,
    seed: int,
) -> _Rows | None:
    """Both stages' values of one machine at the hours ``want`` (None: every hour)."""
    stress = history.stress.get(machine_id)
    if stress is None or stress.n_hours == 0:
        return None
    law = LAWS[fit.machine_type]
    want = np.arange(stress.n_hours) if want is None else np.asarray(want, dtype=int)
    thetas, draws = _draw(fit, machine_id, n_draws, seed)
    if stress.points.size:
        kernels = law.kernel_batch(stress.points, thetas)
    else:
        kernels = np.zeros((0, len(thetas)))
    clock = clock_weights(fit.clock, stress.hour0, stress.n_hours)
    hourly = _hourly(stress, np.asarray(stress.matrix @ kernels), clock)
    log_eta = np.array([t["log_eta"] for t in thetas])
    sigma = np.exp([t["log_sigma"] for t in thetas])
    eta0 = math.exp(log_eta[0])
    segments = _segments(services(history, machine_id), stress)
    life = _in_service(history, machine_id, stress, hourly, segments)
    exposure = life.exposure
    replay = _Replay(hourly.e[:, 0], stress.down, clock=clock)
    weekly_sd = _weekly_log_sd(hourly.rate[:, 0])
    rows = _Rows(
        hours=want,
        installed=[life.installed[h] for h in want],
        exposure=exposure[want, 0],
        damage=exposure[want, 0] / eta0,
        rate=hourly.rate[want, 0] / eta0,
        rul=np.full(want.size, np.nan),
        lo=np.full(want.size, np.nan),
        hi=np.full(want.size, np.nan),
        stage=["initiation" if fit.machine_type == "cnc_spindle" else "miner"] * want.size,
        notes=[None] * want.size,
    )
    resid = _residual_draws(exposure[want], log_eta, sigma, draws, fit.distribution)
    median_life = math.exp(log_eta[0] + sigma[0] * float(physics.std_ppf(fit.distribution, 0.5)))
    renewed = _renewed(life, want, median_life)
    if renewed.any():
        u = np.concatenate([[0.5], draws.u_life])
        resid[renewed] = _equilibrium_residual(
            life.observed[want[renewed]], log_eta, sigma, u, fit.distribution
        )
        # its damage is unknown; shown is the damage its expected remaining life implies
        rows.exposure[renewed] = np.maximum(eta0 - resid[renewed, 0], 0.0)
        rows.damage[renewed] = rows.exposure[renewed] / eta0
    _miner_rul(rows, resid, eta0, hourly, replay, weekly_sd, draws)
    seen = hourly.profile_hours
    day_read = np.where(seen < PROFILE_HOURS, seen, 0) if clock is not None else np.zeros_like(seen)
    rows.notes = _notes(want, life, replay, renewed, day_read)
    if fit.machine_type == "cnc_spindle" and fit.paris:
        _spall_stage(stress, fit, rows, segments, draws, weekly_sd, exposure[:, 0] / eta0)
    if fit.machine_type == "servo_drive" and fit.vce:
        observed = life.observed[:, 0]
        _vce_stage(stress, fit, rows, segments, draws, weekly_sd, replay, exposure[:, 0], observed)
    _mark_failed(history, machine_id, law.component, stress.hour0, life.installed, rows)
    return rows


def _draw(
    fit: TypeFit, machine_id: str, n_draws: int, seed: int
) -> tuple[list[dict[str, float]], _Draws]:
    """The point parameters and ``n_draws`` parameter draws, then the draws every hour shares."""
    rng = _rng(machine_id, seed)
    thetas = [fit.theta(), *fit.draws(n_draws, rng)]
    draws = _Draws(
        u_life=rng.random(n_draws),
        z_rate=rng.standard_normal(n_draws),
        z_beta=rng.standard_normal((n_draws, 2)),
        m_index=np.arange(n_draws) % len(M_QUANTILES),
    )
    return thetas, draws


def _in_service(
    history: History,
    machine_id: str,
    stress: MachineStress,
    hourly: _Hourly,
    segments: Sequence[tuple[Service, int, int]],
) -> _InService:
    """Exposure of the component in service at the end of each hour, with its installation."""
    n = stress.n_hours
    windows = history.work_orders.filter(pl.col("machine_id") == machine_id)
    first = hour_to_datetime(stress.hour0)
    cum = np.zeros_like(hourly.e)
    pre_hours = np.zeros(n)
    installed: list[dt.datetime | None] = [None] * n
    source: list[str | None] = [None] * n
    for s, h0, h1 in segments:
        cum[h0:h1] = np.cumsum(hourly.e[h0:h1], axis=0)
        if s.start < first:
            ph = (first - s.start).total_seconds() / HOUR_S
            ph -= downtime_hours(windows, s.start, first, history.until)
            pre_hours[h0:h1] = max(ph, 0.0)
        installed[h0:h1] = [s.start] * (h1 - h0)
        source[h0:h1] = [s.install_source] * (h1 - h0)
    exposure = cum + pre_hours[:, None] * np.nan_to_num(hourly.profile_rate, nan=0.0)
    return _InService(exposure, pre_hours, installed, source, cum)


def _renewed(life: _InService, want: np.ndarray, median_life: float) -> np.ndarray:
    """Per asked hour: is the component one of unknown age that cannot be the machine's original
    part? Its installation is only the machine's (``registry``), and the exposure imputed since
    then exceeds the median life: more likely than not, that part failed long ago and an
    unlogged replacement runs now."""
    source = np.array([life.source[h] == "registry" for h in want], dtype=bool)
    pre = life.exposure[want, 0] - life.observed[want, 0]
    return source & (pre > median_life)


def _residual_draws(
    exposure: np.ndarray, log_eta: np.ndarray, sigma: np.ndarray, draws: _Draws, dist: str
) -> np.ndarray:
    """(hours, 1 + draws) remaining exposure: the median under the point estimate, then one
    life quantile per parameter draw."""
    u = np.concatenate([[0.5], draws.u_life])
    return _residual(exposure, log_eta[None, :], sigma[None, :], u[None, :], dist)


def _miner_rul(
    rows: _Rows,
    resid: np.ndarray,
    eta0: float,
    hourly: _Hourly,
    replay: _Replay,
    weekly_sd: np.ndarray,
    draws: _Draws,
) -> None:
    """Stage-1 RUL, interval and damage rate of ``rows``: the remaining exposure spent on the
    replayed week, the interval widened by the future rate's variability."""
    want = rows.hours
    rows.rul = replay.hours(want, resid[:, :1])[:, 0]
    if draws.z_rate.size:
        # express each draw's remaining exposure in the replayed (point-estimate) units: the
        # same trailing week costs rate_0 per hour under the point estimate, rate_j under draw j
        r0, rj = hourly.rate[want, :1], hourly.rate[want, 1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(rj > 0, r0 / rj, np.nan)
        hd = replay.hours(want, resid[:, 1:] * scale)
        sd = _horizon_sd(weekly_sd[want], rows.rul)
        hd = hd * np.exp(sd[:, None] * draws.z_rate[None, :])
        rows.lo, rows.hi = _interval(hd)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows.rate = np.where(
            np.isfinite(rows.rul) & (rows.rul > 0), (resid[:, 0] / eta0) / rows.rul, rows.rate
        )
    rows.lo = np.fmin(rows.lo, rows.rul)
    rows.hi = np.fmax(rows.hi, rows.rul)


def _notes(
    want: np.ndarray, life: _InService, replay: _Replay, renewed: np.ndarray, day_read: np.ndarray
) -> list[str | None]:
    """Per asked hour: what the values assume (unknown age, imputed early life, no operation).

    ``day_read``: per hour of the machine, how many operating hours of its first week it has
    when they are read against the type's day (0: a full week, or no day)."""
    out: list[str | None] = []
    for h, renewal in zip(want, renewed, strict=True):
        notes = []
        if renewal:
            notes.append(
                "component age unknown (no logged replacement) and the machine older than the "
                "part's median life: remaining life of a part found in service (renewal), given "
                "its survival since the first telemetry"
            )
        elif life.source[h] in ("registry", "first_data"):
            notes.append(
                f"component age unknown (no logged replacement): assumed new at {life.source[h]}"
            )
        if life.pre_hours[h] > 0 and not renewal:
            so_far = (
                f" (so far {day_read[h]} h of it, each read against the type's rate at its hour "
                "of the day)"
                if day_read[h]
                else ""
            )
            notes.append(
                f"{life.pre_hours[h]:.0f} h of life before the first telemetry at the first-week "
                f"profile{so_far}"
            )
        if not replay.total[h] > 0:
            notes.append("no operation in the last week: no damage rate, no RUL")
        out.append("; ".join(notes) or None)
    return out


def _mark_failed(
    history: History,
    machine_id: str,
    component: str,
    hour0: int,
    installed: Sequence[dt.datetime | None],
    rows: _Rows,
) -> None:
    """Rows whose component has failed and awaits the end of its corrective work order."""
    want = rows.hours
    open_wo = _open_corrective(history, machine_id, component, (hour0 + want + 1.0) * HOUR_S)
    for k, h in enumerate(want):
        if open_wo[k] is not None and installed[h] is not None:
            # the component in service failed; its replacement has not finished yet
            rows.rul[k] = rows.lo[k] = rows.hi[k] = 0.0
            rows.rate[k] = math.nan
            rows.stage[k] = "failed"
            rows.notes[k] = f"failed: corrective work order {open_wo[k]} open"
