"""servo drive: the rise of Vce(on) as the bond wires lift off, read as the share of the module's
life already spent. Its growth law is fitted on the fleet's failed lives.

An IGBT module fails when Vce(on) is 5 % above its value when new
(:data:`~dt_platform.phm.physics.VCE_RISE_LIMIT`). The rise grows with the damage, and Vce(on) also
follows the junction temperature. So:

1. **Temperature**: ln Vce(on) is corrected to 80 degC with a coefficient fitted day by day on
   every servo's hours, where the wear does not move it (:func:`temperature_coefficient`).
2. **Indicator** (:func:`vce_indicator`): the corrected rise against the life's own first
   :data:`BASELINE_HOURS` production hours, over the limit (1 = failed), averaged over the last
   :data:`SMOOTH_HOURS` production hours. It needs the life's start in the data, so a module that
   was already in service when the telemetry began has none.
3. **Growth law** (:func:`fit_vce_law`): ``indicator = a · f^k``, f the share of the life's
   exposure (the damage law's units) spent so far, fitted by least squares on the failed
   lives. A new module at indicator ``x`` and exposure ``E`` has spent ``f = (x / a)^(1/k)``, so
   ``E · (1/f − 1)`` remains.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize

from dt_platform.phm.episodes import Episode, History, MachineStress
from dt_platform.phm.physics import LAWS, SERVO_VCE_SENSOR, VCE_RISE_LIMIT

BASELINE_HOURS = 24
"""Production hours at the start of a life that give its Vce(on) when new."""
SMOOTH_HOURS = 12
"""Production hours the indicator is averaged over (trailing: known when the hour ends)."""
TEMPERATURE_HOURS = 24
"""Measured hours in a block of the temperature coefficient's fit (a day: the wear stands still)."""
REF_TJ_C = 80.0
ONSET = 0.2
"""Indicator from which the growth law reads the spent life: Vce(on) 1 % up, about five times the
hourly indicator's noise on the simulated line, reached at about 45 % of a life."""
MIN_LIVES = 1
"""Failed lives with the indicator needed to fit the growth law: its shape is the bond wires', one
module's hundreds of hours fix it well; the floor on its spread below covers the next module."""
MIN_HOURS = 48
"""Measured hours a failed life needs to count."""
K_SD_FLOOR = 0.1
A_SD_FLOOR = 0.05
"""Least spread of the exponent (the factor) between modules, as a share of it: on the simulated
line the modules' own exponents spread by about 3 % and their factors by 3 %, but a fleet may
show one life only."""


def corrected_log_vce(stress: MachineStress, coef: float) -> np.ndarray:
    """Per hour of the machine: ln Vce(on) at :data:`REF_TJ_C` (NaN where not measured)."""
    if stress.vce_log.size == 0:
        return np.full(stress.n_hours, np.nan)
    return stress.vce_log - coef * (stress.vce_tj - REF_TJ_C)


def temperature_coefficient(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """d ln Vce / d Tj from per-hour ``(ln Vce, Tj)`` series, cut into blocks of
    :data:`TEMPERATURE_HOURS` measured hours. Within a block a module's Vce(on) when new is a
    constant and its wear a straight line in time; both are taken out of the block (the level
    and a time trend, by least squares) before the pooled slope on the temperature is read."""
    num = den = 0.0
    for log_v, tj in parts:
        hours = np.flatnonzero(np.isfinite(log_v) & np.isfinite(tj))
        for start in range(0, hours.size, TEMPERATURE_HOURS):
            h = hours[start : start + TEMPERATURE_HOURS]
            if h.size < 4:
                continue
            base = np.column_stack([np.ones(h.size), h - h.mean()])
            x, y = (v - base @ np.linalg.lstsq(base, v, rcond=None)[0] for v in (tj[h], log_v[h]))
            num += float(x @ y)
            den += float(x @ x)
    return num / den if den > 0 else None


def vce_indicator(corrected: np.ndarray) -> np.ndarray:
    """Per hour of one life (``corrected`` ln Vce from its first hour on): the fraction of the way
    to the limit, trailing mean over :data:`SMOOTH_HOURS` measured hours, carried over hours
    without a measurement. NaN until the baseline's :data:`BASELINE_HOURS` are measured."""
    out = np.full(corrected.size, np.nan)
    idx = np.flatnonzero(np.isfinite(corrected))
    if idx.size <= BASELINE_HOURS:
        return out
    values = corrected[idx]
    base = float(values[:BASELINE_HOURS].mean())
    rise = np.expm1(values - base) / VCE_RISE_LIMIT
    csum = np.concatenate([[0.0], np.cumsum(rise)])
    j = np.arange(rise.size)
    start = np.maximum(j + 1 - SMOOTH_HOURS, 0)
    smooth = (csum[j + 1] - csum[start]) / (j + 1 - start)
    # known from the end of the baseline on; between measurements the last value stands
    known = j >= BASELINE_HOURS - 1
    pos = np.searchsorted(idx[known], np.arange(corrected.size), side="right") - 1
    has = pos >= 0
    out[has] = smooth[known][pos[has]]
    return out


def exposure_share(stress: MachineStress, theta: dict[str, float], lo: int, hi: int) -> np.ndarray:
    """Share of the life's exposure (hours ``lo``–``hi``) spent by the end of each hour."""
    law = LAWS[stress.machine_type]
    kernel = law.kernel(stress.points, theta) if stress.points.size else np.zeros(0)
    e = np.asarray(stress.matrix[lo:hi] @ kernel).ravel() if kernel.size else np.zeros(hi - lo)
    cum = np.cumsum(np.nan_to_num(e, nan=0.0))
    return cum / cum[-1] if cum.size and cum[-1] > 0 else np.full(hi - lo, np.nan)


def started_in_data(stress: MachineStress, start: dt.datetime) -> bool:
    """Whether a life starting at ``start`` began while the machine's telemetry ran: only then
    are its first hours the module's own baseline."""
    return start.timestamp() >= stress.hour0 * 3600 and stress.n_hours > 0


def _growth_fit(share: np.ndarray, indicator: np.ndarray) -> tuple[float, float] | None:
    """``(a, k)`` of ``indicator = a·share^k`` by least squares on the indicator itself (its noise
    is additive: a log fit would let the noisy first hours bend k)."""
    try:
        (a, k), _ = optimize.curve_fit(
            lambda f, a, k: a * f**k, share, indicator, p0=(1.0, 2.0), bounds=(0.0, [10.0, 20.0])
        )
    except (RuntimeError, ValueError):
        return None
    return float(a), float(k)


def fit_vce_law(
    history: History, eps: Sequence[Episode], theta: dict[str, float]
) -> dict[str, Any]:
    """The growth law of the Vce(on) indicator over the failed lives of ``eps`` that began while
    the telemetry ran; empty when no such life shows it (no indicator stage then).

    ``theta``: the fitted damage law's point parameters (the exposure the life share counts).
    The law is fitted on all their hours together; the spread of each parameter between lives
    (each fitted alone), floored at :data:`K_SD_FLOOR` / :data:`A_SD_FLOOR`, is its uncertainty
    for a new module.
    """
    lives = []
    for ep in eps:
        stress = history.stress.get(ep.machine_id)
        if stress is None or stress.vce_log.size == 0 or not started_in_data(stress, ep.start):
            continue
        lo, hi = stress.hour_span(ep.start, ep.end)
        if hi - lo > BASELINE_HOURS + SMOOTH_HOURS:
            lives.append((ep, stress, lo, hi))
    coef = temperature_coefficient(
        [
            (s.vce_log, s.vce_tj)
            for s in history.stress.values()
            if s.machine_type == "servo_drive" and s.vce_log.size
        ]
    )
    if coef is None:
        return {}
    xs, ys, own_laws = [], [], []
    for ep, stress, lo, hi in lives:
        if not ep.failed:
            continue
        ind = vce_indicator(corrected_log_vce(stress, coef)[lo:hi])
        share = exposure_share(stress, theta, lo, hi)
        ok = np.isfinite(ind) & np.isfinite(share)
        own = _growth_fit(share[ok], ind[ok]) if ok.sum() >= MIN_HOURS else None
        if own is not None:
            xs.append(share[ok])
            ys.append(ind[ok])
            own_laws.append(own)
    if len(own_laws) < MIN_LIVES:
        return {}
    f, ind = np.concatenate(xs), np.concatenate(ys)
    pooled = _growth_fit(f, ind)
    if pooled is None:
        return {}
    a, k = pooled
    a_lives, k_lives = ([law[i] for law in own_laws] for i in (0, 1))
    a_sd, k_sd = (
        max(float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, floor * centre)
        for v, floor, centre in ((a_lives, A_SD_FLOOR, a), (k_lives, K_SD_FLOOR, k))
    )
    return {
        "sensor": SERVO_VCE_SENSOR,
        "limit_rise": VCE_RISE_LIMIT,
        "temp_coef_per_k": coef,
        "a": a,
        "k": k,
        "a_sd": a_sd,
        "k_sd": k_sd,
        "a_lives": a_lives,
        "k_lives": k_lives,
        "indicator_sd": float(np.std(ind - a * f**k, ddof=2)),
        "onset": ONSET,
        "n_lives": len(own_laws),
        "rows": int(f.size),
        "rule": (
            f"Vce(on) at {REF_TJ_C:g} degC over its first {BASELINE_HOURS} production hours, "
            f"mean of {SMOOTH_HOURS} h, over the {100 * VCE_RISE_LIMIT:g} % limit = a·f^k"
        ),
    }
