"""Damage of the component in service and its physics RUL, per machine and hour.

For each machine and each hour ``ts`` (the end of the hour; only data before ``ts`` is used):

* **exposure** E — the component's used-up life since its installation (Miner's rule with the
  fitted law, :mod:`dt_platform.phm.physics`): observed hours from their readings, hours without
  readings inside a work-order window as zero, other silent hours at the trailing-week rate, and
  the part of life before the first telemetry at the machine's first-week profile
  (:mod:`dt_platform.phm.episodes`);
* **damage** D = E / η with η the fitted median life, so D = 1 at the median failure;
* **remaining damage** — the *median remaining life given survival so far*: 1 − D while D ≪ 1,
  but it stays positive for a unit that has outlived the median instead of turning negative;
* **RUL_phys** in hours: the remaining exposure is spent by **replaying the machine's last
  operating week** hour by hour (its shifts, weekends and products; maintenance stops skipped).
  For long horizons this is remaining damage / weekly mean rate; near failure it knows that a
  Friday-evening machine stands still over the weekend. ``damage_rate_per_h`` is the mean rate
  over that predicted remaining life, so ``rul = (remaining damage) / rate`` holds;
* a **90 % interval** from Monte-Carlo draws of (a) the fitted parameters (held ones from their
  literature prior), (b) the life of this unit conditional on its survival to E, and (c) the
  future operating rate: the machine's own week-to-week variability of exposure (log sd over
  non-overlapping weeks, :data:`DEFAULT_WEEKLY_LOG_SD` until it has three weeks of data), shrunk
  for long horizons as future weeks average out.

**cnc spindle** — two stages. Before spall initiation, the ISO 281 law above (fitted on failures,
so it includes the short growth stage). Once the hourly production vibration departs from the
component's own baseline (:func:`~dt_platform.phm.fitting.detect_spall_onset`), Paris growth takes
over: the vibration excess y is linearized (y^(1−m/2) is straight in Σ Mrev·(P/C)^m), fitted by
OLS with HAC errors and extrapolated to the ISO 10816-3 C/D limit of 4.5 mm/s, for m at five
quantiles of its literature prior (m is not identifiable from a few hours of growth). Until that
trend is significant, the fleet's observed onset-to-failure exposures are the prior. Damage then
runs from its value at onset to 1 at the extrapolated failure. Limitation: a component whose
spall began before its first telemetry gets an already-raised baseline, and its growth is
under-read.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import special

from dt_platform.phm import physics
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
from dt_platform.phm.fitting import (
    FleetPhysics,
    TypeFit,
    detect_spall_onset,
    fit_paris_trend,
    paris_exposure_hourly,
)
from dt_platform.phm.physics import LAWS, PARIS_M_PRIOR

RATE_WINDOW_H = 168
"""The operating week replayed into the future, and over which rates are averaged."""
DISPLAY_WINDOW_H = 24
N_DRAWS = 300
INTERVAL = (5.0, 95.0)
DEFAULT_WEEKLY_LOG_SD = 0.3
"""Week-to-week log-sd of a machine's exposure rate before it has three weeks of its own data."""
MIN_WEEKS_FOR_SD = 3
MIN_HORIZON_H = 24.0
STAGE2_MAX_DAMAGE_AT_ONSET = 0.95
M_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)

STATE_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "as_of": pl.Datetime("us", "UTC"),
    "component_installed_at": pl.Datetime("us", "UTC"),
    "damage": pl.Float64(),
    "damage_rate_per_h": pl.Float64(),
    "rul_physics_h": pl.Float64(),
    "rul_physics_lo_h": pl.Float64(),
    "rul_physics_hi_h": pl.Float64(),
    "dominant_stress": pl.String(),
    "physics_params_version": pl.String(),
    "stage": pl.String(),
    "note": pl.String(),
}
TRAJECTORY_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "component_installed_at": pl.Datetime("us", "UTC"),
    "exposure": pl.Float64(),
    "damage": pl.Float64(),
    "damage_rate_per_h": pl.Float64(),
    "rul_physics_h": pl.Float64(),
    "rul_physics_lo_h": pl.Float64(),
    "rul_physics_hi_h": pl.Float64(),
    "stage": pl.String(),
}


# --- hourly exposure ----------------------------------------------------------------------------


def _trailing(values: np.ndarray, mask: np.ndarray, window: int) -> np.ndarray:
    """Mean of ``values`` over masked rows among the last ``window`` rows (inclusive); NaN if none."""
    v = np.where(mask[:, None], values, 0.0)
    c = np.concatenate([[0.0], np.cumsum(mask.astype(float))])
    s = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(v, axis=0)])
    hi = np.arange(1, values.shape[0] + 1)
    lo = np.maximum(hi - window, 0)
    count = (c[hi] - c[lo])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (s[hi] - s[lo]) / np.maximum(count, 1), np.nan)


@dataclass
class _Hourly:
    e: np.ndarray
    """(hours, draws) exposure per hour, gaps filled, stops zero."""
    rate: np.ndarray
    """(hours, draws) trailing mean exposure per operating (non-stop) hour."""
    profile_rate: np.ndarray
    """(hours, draws) mean exposure per operating hour over the first profile hours seen so far."""


def _hourly(stress: MachineStress, e_obs: np.ndarray) -> _Hourly:
    up = stress.observed & ~stress.down
    rate = _trailing(e_obs, up, RATE_WINDOW_H)
    previous = np.vstack([np.full((1, e_obs.shape[1]), np.nan), rate[:-1]])
    gap_fill = np.nan_to_num(previous, nan=0.0)
    e = np.where(stress.observed[:, None], e_obs, np.where(stress.down[:, None], 0.0, gap_fill))
    rank = np.cumsum(up) - 1
    in_profile = up & (rank < PROFILE_HOURS)
    prof_sum = np.cumsum(np.where(in_profile[:, None], e_obs, 0.0), axis=0)
    prof_cnt = np.cumsum(in_profile)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        profile_rate = np.where(prof_cnt > 0, prof_sum / np.maximum(prof_cnt, 1), np.nan)
    return _Hourly(e, rate, profile_rate)


class _Replay:
    """Spend remaining exposure by replaying the last week of non-stop hours, cyclically."""

    CHUNK = 64

    def __init__(self, e: np.ndarray, stop: np.ndarray, window: int = RATE_WINDOW_H) -> None:
        n = e.size
        running = np.flatnonzero(~stop)
        pos = np.searchsorted(running, np.arange(n), side="right")
        self.length = np.minimum(pos, window)
        j = np.arange(window)
        valid = j[None, :] < self.length[:, None]
        r = (pos - self.length)[:, None] + j[None, :]
        vals = np.where(
            valid, e[running[np.clip(r, 0, max(running.size - 1, 0))]] if running.size else 0.0, 0.0
        )
        self.cum = np.cumsum(vals, axis=1)
        self.total = self.cum[:, -1] if n else np.zeros(0)

    def hours(self, rows: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """Calendar hours from the end of hour ``rows[i]`` to spend ``remaining[i, :]`` exposure."""
        rows = np.asarray(rows, dtype=int)
        rem = np.atleast_2d(np.asarray(remaining, dtype=float))
        out = np.empty_like(rem)
        for a in range(0, rows.size, self.CHUNK):
            b = min(a + self.CHUNK, rows.size)
            out[a:b] = self._hours(rows[a:b], rem[a:b])
        return out

    def _hours(self, rows: np.ndarray, rem: np.ndarray) -> np.ndarray:
        total = self.total[rows][:, None]
        length = self.length[rows][:, None]
        cum = self.cum[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            cycles = np.where(total > 0, np.floor(rem / total), np.inf)
            rest = np.where(total > 0, rem - cycles * total, 0.0)
        k = (cum[:, None, :] < rest[:, :, None]).sum(axis=2)
        k = np.minimum(k, np.maximum(length - 1, 0))
        at = np.take_along_axis(cum, k, axis=1)
        before = np.where(k > 0, np.take_along_axis(cum, np.maximum(k - 1, 0), axis=1), 0.0)
        step = at - before
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.clip(np.where(step > 0, (rest - before) / step, 1.0), 0.0, 1.0)
            out = cycles * length + k + frac
        out = np.where(rem > 0, out, 0.0)
        return np.where(np.isfinite(rem), out, np.nan)


def _weekly_log_sd(rate: np.ndarray) -> np.ndarray:
    """Per hour: log-sd of the trailing-week rate over non-overlapping weeks up to that hour."""
    n = rate.size
    out = np.full(n, DEFAULT_WEEKLY_LOG_SD)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(rate > 0, np.log(rate), np.nan)
    logs[: RATE_WINDOW_H - 1] = np.nan  # only complete weeks: a partial one misses the weekend
    for r in range(min(RATE_WINDOW_H, n)):
        idx = np.arange(r, n, RATE_WINDOW_H)
        x = logs[idx]
        ok = np.isfinite(x)
        cnt = np.cumsum(ok)
        s1 = np.cumsum(np.where(ok, x, 0.0))
        s2 = np.cumsum(np.where(ok, x * x, 0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (s2 - s1 * s1 / np.maximum(cnt, 1)) / np.maximum(cnt - 1, 1)
        sd = np.sqrt(np.maximum(var, 0.0))
        out[idx] = np.where(cnt >= MIN_WEEKS_FOR_SD, sd, DEFAULT_WEEKLY_LOG_SD)
    return out


def _horizon_sd(weekly_sd: np.ndarray | float, horizon_h: np.ndarray) -> np.ndarray:
    """Log-sd of (future mean rate over the horizon) / (rate of the replayed week).

    The replayed week is one draw from the machine's weekly variability (s_w²); the future mean
    over H hours averages H/168 weeks (s_w²·168/H), floored at a day: products change per shift.
    """
    h = np.maximum(np.nan_to_num(horizon_h, nan=MIN_HORIZON_H, posinf=1e9), MIN_HORIZON_H)
    return weekly_sd * np.sqrt(1.0 + RATE_WINDOW_H / h)


# --- conditional residual life ------------------------------------------------------------------


def _residual(
    exposure: np.ndarray, log_eta: np.ndarray, sigma: np.ndarray, u: np.ndarray, dist: str
) -> np.ndarray:
    """Remaining exposure at quantile ``u`` of the life given survival to ``exposure``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (np.log(np.maximum(exposure, 1e-300)) - log_eta) / sigma
        f = physics.std_cdf(dist, z)  # type: ignore[arg-type]
        q = f + u * (1.0 - f)
        life = np.exp(log_eta + sigma * physics.std_ppf(dist, q))  # type: ignore[arg-type]
    return np.maximum(life - exposure, 0.0)


def _interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise 5 % and 95 % order statistics; a draw that never fails (inf/NaN) sorts last."""
    x = np.sort(np.where(np.isfinite(draws), draws, np.inf), axis=-1)
    n = x.shape[-1]
    lo = x[..., math.floor(INTERVAL[0] / 100 * (n - 1))]
    hi = x[..., math.ceil(INTERVAL[1] / 100 * (n - 1))]
    return np.where(np.isfinite(lo), lo, np.nan), np.where(np.isfinite(hi), hi, np.nan)


def _rng(machine_id: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(machine_id.encode())])


# --- one machine --------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Per requested hour: the values of one machine's trajectory."""

    hours: np.ndarray
    installed: list[dt.datetime | None]
    exposure: np.ndarray
    damage: np.ndarray
    rate: np.ndarray
    rul: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    stage: list[str | None]
    notes: list[str | None]


@dataclass
class _Draws:
    """Random numbers shared by every hour of a machine (common random numbers: smooth, causal)."""

    u_life: np.ndarray
    z_rate: np.ndarray
    z_beta: np.ndarray
    m_index: np.ndarray


def _open_corrective(
    history: History, machine_id: str, component: str, ts: np.ndarray
) -> list[str | None]:
    """Per time (epoch s): the corrective work order on ``component`` open then, if any."""
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
        for k in np.flatnonzero((ts > s0) & (ts < f0)):
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


def _machine_rows(
    history: History,
    fit: TypeFit,
    machine_id: str,
    want: np.ndarray | None,
    n_draws: int,
    seed: int,
) -> _Rows | None:
    stress = history.stress.get(machine_id)
    if stress is None or stress.n_hours == 0:
        return None
    law = LAWS[fit.machine_type]
    n = stress.n_hours
    want = np.arange(n) if want is None else np.asarray(want, dtype=int)
    rng = _rng(machine_id, seed)
    thetas = [fit.theta(), *fit.draws(n_draws, rng)]
    draws = _Draws(
        u_life=rng.random(n_draws),
        z_rate=rng.standard_normal(n_draws),
        z_beta=rng.standard_normal((n_draws, 2)),
        m_index=np.arange(n_draws) % len(M_QUANTILES),
    )
    if stress.points.size:
        kernels = law.kernel_batch(stress.points, thetas)
    else:
        kernels = np.zeros((0, len(thetas)))
    hourly = _hourly(stress, np.asarray(stress.matrix @ kernels))
    log_eta = np.array([t["log_eta"] for t in thetas])
    sigma = np.exp([t["log_sigma"] for t in thetas])
    eta0 = math.exp(log_eta[0])
    windows = history.work_orders.filter(pl.col("machine_id") == machine_id)
    first = hour_to_datetime(stress.hour0)
    segments = _segments(services(history, machine_id), stress)

    # exposure of the component in service at the end of each hour
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

    stop = stress.down
    replay = _Replay(hourly.e[:, 0], stop)
    weekly_sd = _weekly_log_sd(hourly.rate[:, 0])
    rows = _Rows(
        hours=want,
        installed=[installed[h] for h in want],
        exposure=exposure[want, 0],
        damage=exposure[want, 0] / eta0,
        rate=hourly.rate[want, 0] / eta0,
        rul=np.full(want.size, np.nan),
        lo=np.full(want.size, np.nan),
        hi=np.full(want.size, np.nan),
        stage=["initiation" if fit.machine_type == "cnc_spindle" else "miner"] * want.size,
        notes=[None] * want.size,
    )
    u = np.concatenate([[0.5], draws.u_life])
    resid = _residual(
        exposure[want], log_eta[None, :], sigma[None, :], u[None, :], fit.distribution
    )
    rows.rul = replay.hours(want, resid[:, :1])[:, 0]
    if n_draws:
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

    for k, h in enumerate(want):
        notes = []
        if source[h] in ("registry", "first_data"):
            notes.append(
                f"component age unknown (no logged replacement): assumed new at {source[h]}"
            )
        if pre_hours[h] > 0:
            notes.append(
                f"{pre_hours[h]:.0f} h of life before the first telemetry at the first-week profile"
            )
        if not replay.total[h] > 0:
            notes.append("no operation in the last week: no damage rate, no RUL")
        rows.notes[k] = "; ".join(notes) or None

    if fit.machine_type == "cnc_spindle" and fit.paris:
        _spall_stage(stress, fit, rows, segments, draws, weekly_sd, exposure[:, 0] / eta0)

    open_wo = _open_corrective(
        history, machine_id, law.component, (stress.hour0 + want + 1.0) * HOUR_S
    )
    for k, h in enumerate(want):
        if open_wo[k] is not None and installed[h] is not None:
            # the component in service failed; its replacement has not finished yet
            rows.rul[k] = rows.lo[k] = rows.hi[k] = 0.0
            rows.rate[k] = math.nan
            rows.stage[k] = "failed"
            rows.notes[k] = f"failed: corrective work order {open_wo[k]} open"
    return rows


def _spall_stage(
    stress: MachineStress,
    fit: TypeFit,
    rows: _Rows,
    segments: Iterable[tuple[Service, int, int]],
    draws: _Draws,
    weekly_sd: np.ndarray,
    stage1_damage: np.ndarray,
) -> None:
    """Overwrite stage-1 values by Paris growth after a detected spall onset (cnc only)."""
    m_mid = float(fit.paris["m"])
    ms = [m_mid + PARIS_M_PRIOR.sd * float(special.ndtri(q)) for q in M_QUANTILES]
    mid = M_QUANTILES.index(0.5)
    e_m, replays = [], []
    for m in ms:
        e_obs = paris_exposure_hourly(stress, m)[:, None]
        e = _hourly(stress, e_obs).e[:, 0]
        e_m.append(e)
        replays.append(_Replay(e, stress.down))
    g_mean, g_sd = fit.paris.get("growth_log_mean"), fit.paris.get("growth_log_sd")
    where = {int(h): k for k, h in enumerate(rows.hours)}
    limit = float(fit.paris.get("limit_mm_s", physics.ISO_10816_3_LIMIT_MM_S))
    n_draws = draws.z_rate.size
    for _s, h0, h1 in segments:
        onset = detect_spall_onset(stress.vibration[h0:h1])
        if onset is None or onset.hour is None or onset.known_at is None:
            continue
        a, known = h0 + onset.hour, h0 + onset.known_at
        d_on = min(float(stage1_damage[a]), STAGE2_MAX_DAMAGE_AT_ONSET)
        s_cum = [np.cumsum(e[a:h1]) for e in e_m]
        excess = stress.vibration[a:h1] - onset.baseline
        limit_excess = limit - onset.baseline
        for h in range(known, h1):
            k = where.get(h)
            if k is None:
                continue
            i = h - a + 1
            trends = [
                fit_paris_trend(excess[:i], s[:i], limit_excess, m)
                for s, m in zip(s_cum, ms, strict=True)
            ]
            s_now = [float(s[i - 1]) for s in s_cum]
            rem = np.full(n_draws, np.nan)
            hd = np.full(n_draws, np.nan)
            if trends[mid] is not None and trends[mid].usable:
                rem0 = max(trends[mid].s_fail - s_now[mid], 0.0)
                for j_m, (trend, m) in enumerate(zip(trends, ms, strict=True)):
                    sel = draws.m_index == j_m
                    if trend is None or not sel.any():
                        continue
                    chol = np.linalg.cholesky(trend.cov + 1e-15 * np.eye(2))
                    betas = np.array([trend.beta0, trend.beta1]) + draws.z_beta[sel] @ chol.T
                    g_lim = float(physics.paris_linearized(np.array([limit_excess]), m)[0])
                    with np.errstate(divide="ignore", invalid="ignore"):
                        s_fail = (g_lim - betas[:, 0]) / betas[:, 1]
                    # a draw whose slope turns away from the limit never fails: it stays NaN (inf)
                    ok = np.isfinite(s_fail) & ((betas[:, 1] * (g_lim - betas[:, 0])) > 0)
                    r = np.where(ok, np.maximum(s_fail - s_now[j_m], 0.0), np.nan)
                    hd[sel] = replays[j_m].hours(np.array([h]), r[None, :])[0]
                    rem[sel] = r
                basis = f"Paris trend on {trends[mid].n} h of vibration excess"
            elif g_mean is not None and g_sd is not None:
                rem0 = float(
                    _residual(np.array(s_now[mid]), g_mean, g_sd, np.array(0.5), "lognormal")
                )
                u = (np.arange(n_draws) + 0.5) / n_draws
                rem = _residual(np.full(n_draws, s_now[mid]), g_mean, g_sd, u, "lognormal")
                hd = replays[mid].hours(np.array([h]), rem[None, :])[0]
                basis = f"fleet onset-to-failure exposure ({fit.paris.get('n_growth')} past spalls)"
            else:
                continue
            hours0 = float(replays[mid].hours(np.array([h]), np.array([[rem0]]))[0, 0])
            sd = _horizon_sd(float(weekly_sd[h]), np.array(hours0))
            hd = hd * np.exp(sd * draws.z_rate)
            lo, hi = _interval(hd[None, :])
            rows.rul[k] = hours0
            rows.lo[k] = min(float(lo[0]), hours0) if np.isfinite(lo[0]) else hours0
            rows.hi[k] = max(float(hi[0]), hours0) if np.isfinite(hi[0]) else math.nan
            total = s_now[mid] + rem0
            frac = s_now[mid] / total if total > 0 else 1.0
            rows.damage[k] = d_on + (1.0 - d_on) * frac
            rows.rate[k] = (1.0 - rows.damage[k]) / hours0 if hours0 > 0 else math.nan
            rows.stage[k] = "spall_growth"
            vib = stress.vibration[h]
            rows.notes[k] = (
                f"spall growth since {hour_to_datetime(stress.hour0 + a):%Y-%m-%d %H:00} UTC: "
                f"vibration {vib:.2f} mm/s (baseline {onset.baseline:.2f}, limit {limit:g}); {basis}"
            )


# --- public entry points ------------------------------------------------------------------------


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
