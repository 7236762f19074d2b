"""cnc spindle, stage 2: Paris growth of a detected spall overrides the initiation-stage values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import special

from dt_platform.phm import physics
from dt_platform.phm.damage.replay import _hourly, _Replay
from dt_platform.phm.damage.residual import _residual
from dt_platform.phm.damage.rows import M_QUANTILES, _Draws, _Rows
from dt_platform.phm.episodes import MachineStress, Service, hour_to_datetime
from dt_platform.phm.fitting import (
    ParisTrend,
    TypeFit,
    fit_paris_trend,
    paris_exposure_hourly,
    spall_onsets,
)
from dt_platform.phm.physics import PARIS_M_PRIOR

STAGE2_MAX_DAMAGE_AT_ONSET = 0.95


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
    e_m, replays = _paris_hourly(stress, ms)
    where = {int(h): k for k, h in enumerate(rows.hours)}
    limit = float(fit.paris.get("limit_mm_s", physics.ISO_10816_3_LIMIT_MM_S))
    for _s, h0, h1 in segments:
        # an onset withdrawn (vibration back at the baseline: no spall) stands until then
        for onset in spall_onsets(stress.vibration[h0:h1]):
            a, known = h0 + onset.hour, h0 + onset.known_at
            end = h1 if onset.withdrawn_at is None else h0 + onset.withdrawn_at
            d_on = min(float(stage1_damage[a]), STAGE2_MAX_DAMAGE_AT_ONSET)
            s_cum = [np.cumsum(e[a:end]) for e in e_m]
            excess = stress.vibration[a:end] - onset.baseline
            limit_excess = limit - onset.baseline
            for h in range(known, end):
                k = where.get(h)
                if k is None:
                    continue
                i = h - a + 1
                s_now = [float(s[i - 1]) for s in s_cum]
                growth = _remaining_growth(
                    fit,
                    ms,
                    excess[:i],
                    [s[:i] for s in s_cum],
                    s_now,
                    limit_excess,
                    draws,
                    replays,
                    h,
                )
                if growth is None:
                    continue
                rem0, hd, basis = growth
                hours0 = float(replays[mid].hours(np.array([h]), np.array([[rem0]]))[0, 0])
                total = s_now[mid] + rem0
                frac = s_now[mid] / total if total > 0 else 1.0
                since = hour_to_datetime(stress.hour0 + a)
                rows.set_tracked(
                    k,
                    hours0,
                    hd,
                    float(weekly_sd[h]),
                    draws.z_rate,
                    damage=d_on + (1.0 - d_on) * frac,
                    stage="spall_growth",
                    note=(
                        f"spall growth since {since:%Y-%m-%d %H:00} UTC: vibration "
                        f"{stress.vibration[h]:.2f} mm/s (baseline {onset.baseline:.2f}, "
                        f"limit {limit:g}); {basis}"
                    ),
                )


def _paris_hourly(
    stress: MachineStress, ms: Sequence[float]
) -> tuple[list[np.ndarray], list[_Replay]]:
    """Per Paris exponent m: the hourly Paris exposure (gaps filled) and its weekly replay."""
    e_m, replays = [], []
    for m in ms:
        e_obs = paris_exposure_hourly(stress, m)[:, None]
        e = _hourly(stress, e_obs).e[:, 0]
        e_m.append(e)
        replays.append(_Replay(e, stress.down))
    return e_m, replays


def _remaining_growth(
    fit: TypeFit,
    ms: Sequence[float],
    excess: np.ndarray,
    s: Sequence[np.ndarray],
    s_now: Sequence[float],
    limit_excess: float,
    draws: _Draws,
    replays: Sequence[_Replay],
    h: int,
) -> tuple[float, np.ndarray, str] | None:
    """Remaining Paris exposure at hour ``h`` (median), the draws' remaining hours and the basis.

    The vibration trend since onset when it is significant, else the fleet's onset-to-failure
    exposure; None while neither is available.
    """
    mid = M_QUANTILES.index(0.5)
    trends = [fit_paris_trend(excess, s_m, limit_excess, m) for s_m, m in zip(s, ms, strict=True)]
    g_mean, g_sd = fit.paris.get("growth_log_mean"), fit.paris.get("growth_log_sd")
    if trends[mid] is not None and trends[mid].usable:
        rem0 = max(trends[mid].s_fail - s_now[mid], 0.0)
        hd = _trend_hours(trends, ms, s_now, limit_excess, draws, replays, h)
        return rem0, hd, f"Paris trend on {trends[mid].n} h of vibration excess"
    if g_mean is not None and g_sd is not None:
        n_draws = draws.z_rate.size
        rem0 = float(_residual(np.array(s_now[mid]), g_mean, g_sd, np.array(0.5), "lognormal"))
        u = (np.arange(n_draws) + 0.5) / n_draws
        rem = _residual(np.full(n_draws, s_now[mid]), g_mean, g_sd, u, "lognormal")
        hd = replays[mid].hours(np.array([h]), rem[None, :])[0]
        return (
            rem0,
            hd,
            f"fleet onset-to-failure exposure ({fit.paris.get('n_growth')} past spalls)",
        )
    return None


def _trend_hours(
    trends: Sequence[ParisTrend | None],
    ms: Sequence[float],
    s_now: Sequence[float],
    limit_excess: float,
    draws: _Draws,
    replays: Sequence[_Replay],
    h: int,
) -> np.ndarray:
    """Hours to the vibration limit per draw: each draw takes the trend of its exponent m with
    its coefficients drawn from the trend's covariance."""
    hd = np.full(draws.z_rate.size, np.nan)
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
    return hd
