"""A machine's hourly exposure (silent hours filled, stops zeroed), the future spent by replaying
its last operating week, and how much that weekly rate varies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dt_platform.phm.episodes import PROFILE_HOURS, MachineStress

RATE_WINDOW_H = 168
"""The operating week replayed into the future, and over which rates are averaged."""
DEFAULT_WEEKLY_LOG_SD = 0.3
"""Week-to-week log-sd of a machine's exposure rate before it has three weeks of its own data."""
MIN_WEEKS_FOR_SD = 3
MIN_HORIZON_H = 24.0


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
    """(hours, draws) mean exposure per operating hour over the first profile hours seen so far;
    with the type's day (``clock``), per average hour: their exposure over their clock weights."""
    profile_hours: np.ndarray
    """(hours,) how many of those first profile hours have been seen so far."""


def _hourly(stress: MachineStress, e_obs: np.ndarray, clock: np.ndarray | None = None) -> _Hourly:
    up = stress.observed & ~stress.down
    rate = _trailing(e_obs, up, RATE_WINDOW_H)
    previous = np.vstack([np.full((1, e_obs.shape[1]), np.nan), rate[:-1]])
    gap_fill = np.nan_to_num(previous, nan=0.0)
    e = np.where(stress.observed[:, None], e_obs, np.where(stress.down[:, None], 0.0, gap_fill))
    rank = np.cumsum(up) - 1
    in_profile = up & (rank < PROFILE_HOURS)
    prof_sum = np.cumsum(np.where(in_profile[:, None], e_obs, 0.0), axis=0)
    weight = np.ones(up.size) if clock is None else clock
    prof_cnt = np.cumsum(np.where(in_profile, weight, 0.0))[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        profile_rate = np.where(prof_cnt > 0, prof_sum / np.maximum(prof_cnt, 1), np.nan)
    return _Hourly(e, rate, profile_rate, np.cumsum(in_profile))


class _Replay:
    """Spend remaining exposure by replaying the last week of non-stop hours, cyclically.

    With the type's day (``clock``, one weight per hour), a window shorter than a week is first
    scaled to average hours: a machine seen only in its day shift is not assumed to run the day
    shift forever.
    """

    CHUNK = 64

    def __init__(
        self,
        e: np.ndarray,
        stop: np.ndarray,
        window: int = RATE_WINDOW_H,
        clock: np.ndarray | None = None,
    ) -> None:
        n = e.size
        running = np.flatnonzero(~stop)
        pos = np.searchsorted(running, np.arange(n), side="right")
        self.length = np.minimum(pos, window)
        j = np.arange(window)
        valid = j[None, :] < self.length[:, None]
        r = np.clip((pos - self.length)[:, None] + j[None, :], 0, max(running.size - 1, 0))
        vals = np.where(valid, e[running[r]] if running.size else 0.0, 0.0)
        self.cum = np.cumsum(vals, axis=1)
        self.total = self.cum[:, -1] if n else np.zeros(0)
        self.scale = np.ones(n)
        """Per row: the mean clock weight of its window when shorter than ``window``; the
        remaining exposure is spent at the window's rate over it."""
        if clock is not None and running.size:
            w = np.where(valid, clock[running[r]], 0.0).sum(axis=1)
            partial = (self.length > 0) & (self.length < window)
            self.scale[partial] = w[partial] / self.length[partial]

    def hours(self, rows: np.ndarray, remaining: np.ndarray) -> np.ndarray:
        """Calendar hours from the end of hour ``rows[i]`` to spend ``remaining[i, :]`` exposure."""
        rows = np.asarray(rows, dtype=int)
        rem = np.atleast_2d(np.asarray(remaining, dtype=float)) * self.scale[rows][:, None]
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
