"""cnc spindle bearings: spall onset on the vibration, the Paris growth trend after it, and the
fleet's onset-to-failure exposure prior.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm

from dt_platform.phm import physics
from dt_platform.phm.episodes import Episode, History, MachineStress
from dt_platform.phm.physics import LAWS, PARIS_M_PRIOR

ONSET_MIN_EXCESS_MM_S = 0.04
ONSET_NOISE_FACTOR = 6.0
ONSET_CONSECUTIVE = 3
BASELINE_HOURS = 24
WITHDRAW_HOURS = 6
"""Consecutive hours back at the baseline that withdraw an onset (see :func:`spall_onsets`)."""


@dataclass(frozen=True)
class Onset:
    """Spall onset on a component's hourly vibration: baseline and first departing hour."""

    baseline: float
    threshold: float
    hour: int | None
    """Index (into the given series) of the first of ``ONSET_CONSECUTIVE`` departing hours."""
    known_at: int | None
    """Index at which the onset becomes known (the last of the consecutive hours)."""
    withdrawn_at: int | None = None
    """Index at which the onset is known to have been no spall (vibration back at the baseline
    for :data:`WITHDRAW_HOURS` hours); None while it stands."""

    @property
    def back(self) -> float:
        """Vibration at or below this is back at the baseline: half way to the threshold."""
        return self.baseline + 0.5 * (self.threshold - self.baseline)


def spall_onsets(vibration: np.ndarray) -> list[Onset]:
    """Every onset on a component's hourly vibration, in order, each known from past hours only.

    ``vibration`` is the hourly production vibration of one component life (NaN = no data). The
    baseline is the median of its first :data:`BASELINE_HOURS` valid hours; an onset is the first
    of ``ONSET_CONSECUTIVE`` consecutive valid hours above baseline + max(0.04 mm/s, 6 robust
    sd). Spall initiation adds κ·a0 ≈ 0.1 mm/s at once (ISO 10816 readings resolve that) and
    then grows, so the step is the early signal. A spall never heals: once
    :data:`WITHDRAW_HOURS` consecutive valid hours are back at the baseline (:attr:`Onset.back`),
    the departure was something else — a sensor stuck at a high reading, a spike — and the onset
    is withdrawn (:attr:`Onset.withdrawn_at`); the search starts again after it. Empty until the
    baseline exists.
    """
    v = np.asarray(vibration, dtype=float)
    found = _baseline(v)
    if found is None:
        return []
    baseline, threshold, after = found
    above = v[after] > threshold
    out: list[Onset] = []
    k = 0
    while k < after.size:
        run = 0
        while k < after.size and run < ONSET_CONSECUTIVE:
            run = run + 1 if above[k] else 0
            k += 1
        if run < ONSET_CONSECUTIVE:
            break
        first = int(after[k - ONSET_CONSECUTIVE])
        onset = Onset(baseline, threshold, first, int(after[k - 1]))
        quiet = 0
        while k < after.size and quiet < WITHDRAW_HOURS:
            quiet = quiet + 1 if v[after[k]] <= onset.back else 0
            k += 1
        if quiet < WITHDRAW_HOURS:
            out.append(onset)
            break
        out.append(Onset(baseline, threshold, first, onset.known_at, int(after[k - 1])))
    return out


def detect_spall_onset(vibration: np.ndarray) -> Onset | None:
    """The onset standing at the end of ``vibration`` (see :func:`spall_onsets`): the spall the
    component has when the series ends, or an onset with ``hour`` None if it has none (yet).
    None until the baseline exists."""
    onsets = spall_onsets(vibration)
    if onsets:
        last = onsets[-1]
        return (
            last if last.withdrawn_at is None else Onset(last.baseline, last.threshold, None, None)
        )
    found = _baseline(np.asarray(vibration, dtype=float))
    return None if found is None else Onset(found[0], found[1], None, None)


def _baseline(v: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """Baseline, onset threshold and the valid hours after the baseline's; None without one."""
    valid = np.flatnonzero(np.isfinite(v))
    if valid.size < BASELINE_HOURS:
        return None
    base_idx = valid[:BASELINE_HOURS]
    base = v[base_idx]
    baseline = float(np.median(base))
    robust_sd = 1.4826 * float(np.median(np.abs(base - baseline)))
    threshold = baseline + max(ONSET_MIN_EXCESS_MM_S, ONSET_NOISE_FACTOR * robust_sd)
    return baseline, threshold, valid[valid > base_idx[-1]]


@dataclass(frozen=True)
class ParisTrend:
    """Linearized Paris growth fitted to vibration excess since onset; extrapolated to the limit."""

    beta0: float
    beta1: float
    cov: np.ndarray
    n: int
    s_fail: float
    """Paris exposure (since onset) at which vibration reaches the ISO 10816 limit."""
    usable: bool


def fit_paris_trend(
    excess: np.ndarray, s: np.ndarray, limit_excess: float, m: float = PARIS_M_PRIOR.value
) -> ParisTrend | None:
    """OLS of the Paris-linearized vibration excess on Paris exposure since onset.

    g(y) = y^(1−m/2) (log y for m = 2) is linear in S = Σ Mrev·(P/C)^m; failure when g reaches
    g(limit). Standard errors are HAC (Newey-West) from 8 points on. Usable only if the slope
    points toward the limit with |t| > 2.
    """
    ok = np.isfinite(excess) & np.isfinite(s) & (excess > 0)
    if ok.sum() < 3 or np.ptp(s[ok]) <= 0:
        return None
    g = physics.paris_linearized(excess[ok], m)
    x = sm.add_constant(s[ok], has_constant="add")
    n = int(ok.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # hourly residuals are autocorrelated (the spall does not grow by the hour): HAC errors
        if n >= 8:
            res = sm.OLS(g, x).fit(cov_type="HAC", cov_kwds={"maxlags": min(12, n // 4)})
        else:
            res = sm.OLS(g, x).fit()
    b0, b1 = float(res.params[0]), float(res.params[1])
    g_lim = float(physics.paris_linearized(np.array([limit_excess]), m)[0])
    towards = (g_lim - b0) * b1 > 0
    t = b1 / float(res.bse[1]) if res.bse[1] > 0 else 0.0
    significant = abs(t) > 2.0 and towards
    s_fail = (g_lim - b0) / b1 if b1 != 0 else float("inf")
    return ParisTrend(b0, b1, np.asarray(res.cov_params()), n, float(s_fail), bool(significant))


def paris_exposure_hourly(stress: MachineStress, m: float) -> np.ndarray:
    """Σ Mrev·(P/C)^m per hour of a cnc machine (observed hours; 0 elsewhere)."""
    law = LAWS["cnc_spindle"]
    return stress.matrix @ law.kernel(stress.points, {"life_exponent_p": m})


def _growth_prior(history: History, eps: Sequence[Episode], m: float) -> dict[str, Any]:
    """Paris exposure from detected spall onset to failure, over the fleet's observed failures."""
    samples, hours = [], []
    for ep in eps:
        if not ep.failed:
            continue
        stress = history.stress.get(ep.machine_id)
        if stress is None:
            continue
        lo, hi = stress.hour_span(ep.start, ep.end)
        if hi - lo < BASELINE_HOURS + ONSET_CONSECUTIVE:
            continue
        onset = detect_spall_onset(stress.vibration[lo:hi])
        if onset is None or onset.hour is None:
            continue
        s = paris_exposure_hourly(stress, m)[lo + onset.hour : hi]
        samples.append(float(s.sum()))
        hours.append(hi - lo - onset.hour)
    logs = np.log(np.maximum(samples, 1e-12))
    return {
        "m": m,
        "m_status": "prior",
        "m_source": PARIS_M_PRIOR.source,
        "m_prior_sd": PARIS_M_PRIOR.sd,
        "n_growth": len(samples),
        "growth_log_mean": float(np.mean(logs)) if samples else None,
        "growth_log_sd": float(max(np.std(logs, ddof=1), 0.2))
        if len(samples) >= 2
        else (0.5 if samples else None),
        "growth_hours_observed": hours,
        "onset_rule": (
            f"median of first {BASELINE_HOURS} production hours + "
            f"max({ONSET_MIN_EXCESS_MM_S} mm/s, {ONSET_NOISE_FACTOR:g} robust sd), "
            f"{ONSET_CONSECUTIVE} consecutive hours; "
            f"withdrawn after {WITHDRAW_HOURS} hours back at the baseline"
        ),
        "limit_mm_s": physics.ISO_10816_3_LIMIT_MM_S,
    }
