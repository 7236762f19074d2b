"""servo drive: where the Vce(on) indicator shows the bond wires lifting off, it overrides the
Miner values. The spent share of the life comes from the indicator's fitted growth law
(:mod:`dt_platform.phm.fitting.vce`), the exposure left from the exposure spent so far. A module
already in service when the telemetry began has no Vce(on) of its own when new: its rise, and
the exposure it had spent before the data, are read from the shape of the trend
(:mod:`dt_platform.phm.fitting.vce_trend`)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import special

from dt_platform.phm.damage.replay import _Replay
from dt_platform.phm.damage.rows import _Draws, _Rows
from dt_platform.phm.episodes import MachineStress, Service
from dt_platform.phm.fitting import TypeFit, corrected_log_vce, vce_indicator
from dt_platform.phm.fitting.vce import started_in_data
from dt_platform.phm.fitting.vce_trend import vce_trend

STAGE = "vce_rise"
SHARE_BOUNDS = (1e-3, 0.999)
"""The spent share is kept inside these: the indicator's noise can put it at 0 or past 1."""


def spent_share(indicator: np.ndarray, a: np.ndarray | float, k: np.ndarray | float) -> np.ndarray:
    """Share of the life spent at ``indicator`` under the growth law ``indicator = a·f^k``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (np.maximum(indicator, 0.0) / a) ** (1.0 / np.asarray(k, dtype=float))
    return np.clip(np.nan_to_num(f, nan=SHARE_BOUNDS[0]), *SHARE_BOUNDS)


def _vce_stage(
    stress: MachineStress,
    fit: TypeFit,
    rows: _Rows,
    segments: Iterable[tuple[Service, int, int]],
    draws: _Draws,
    weekly_sd: np.ndarray,
    replay: _Replay,
    exposure: np.ndarray,
    hourly: np.ndarray,
    scale: float,
) -> None:
    """Overwrite Miner values where the life's Vce(on) has risen past the law's onset.

    ``exposure``: per hour of the machine, the exposure of the module in service since its
    installation (the point estimate's units, as ``replay``); ``hourly``: the exposure of each
    hour; ``scale``: the type's characteristic life exposure. A life installed while the
    telemetry ran is measured against its own first hours
    (:func:`~dt_platform.phm.fitting.vce_indicator`); a module already in service when it
    began, from the shape of its rise (:mod:`dt_platform.phm.fitting.vce_trend`).
    """
    law = fit.vce
    a, k, sd = law["a"], law["k"], law["indicator_sd"]
    corrected = corrected_log_vce(stress, law["temp_coef_per_k"])
    where = {int(h): i for i, h in enumerate(rows.hours)}
    # draws shared by every hour of the machine: indicator noise and the law's two parameters
    x_noise = sd * draws.z_beta[:, 0]
    k_draws = np.maximum(k + law["k_sd"] * draws.z_beta[:, 1], 0.1)
    z_a = special.ndtri(np.clip(draws.u_life, 1e-9, 1 - 1e-9))
    a_draws = np.maximum(a + law.get("a_sd", 0.0) * z_a, 1e-3)

    def track(i: int, h: int, x: float, x_draws: np.ndarray, e_now: float, e_draws, note: str):
        spent = float(spent_share(np.array([x]), a, k)[0])
        rem0 = e_now * (1.0 / spent - 1.0)
        hours0 = float(replay.hours(np.array([h]), np.array([[rem0]]))[0, 0])
        rem = e_draws * (1.0 / spent_share(x_draws, a_draws, k_draws) - 1.0)
        rows.set_tracked(
            i,
            hours0,
            replay.hours(np.array([h]), rem[None, :])[0],
            float(weekly_sd[h]),
            draws.z_rate,
            damage=spent,
            stage=STAGE,
            note=f"{note}: {100 * spent:.0f} % of its life spent by the fleet's rise law "
            f"(k = {k:.2f}, {law['n_lives']} lives)",
        )

    limit = 100 * law["limit_rise"]
    for s, h0, h1 in segments:
        if s.install_source == "work_order" and started_in_data(stress, s.start):
            indicator = vce_indicator(corrected[h0:h1])
            for h in range(h0, h1):
                i = where.get(h)
                x = indicator[h - h0]
                if i is None or not x >= law["onset"]:
                    continue
                e_now = float(exposure[h])
                note = (
                    f"Vce(on) {limit * x:.2f} % above the module's first hours (limit {limit:g} %)"
                )
                track(i, h, x, x + x_noise, e_now, e_now, note)
            continue
        # only what the data show: the imputed life before them is what the trend replaces
        trend = vce_trend(corrected[h0:h1], np.cumsum(np.nan_to_num(hourly[h0:h1])), k, scale)
        for h in range(h0, h1):
            i, j = where.get(h), h - h0
            g = trend.point(j)
            if i is None or g is None:
                continue
            seen = float(np.expm1(trend.seen[j, g])) / law["limit_rise"]
            if not seen >= law["onset"]:
                continue
            x = float(np.expm1(trend.level[j, g])) / law["limit_rise"]
            gd = trend.quantile_index(j, draws.u_trend)
            x_draws = np.expm1(trend.level[j, gd]) / law["limit_rise"] + x_noise
            e_now = trend.grid[g] + trend.exposure[j]
            note = (
                f"Vce(on) up {limit * seen:.2f} % in the data, {limit * x:.2f} % above its value "
                f"when new as the rise's shape reads it (module in service before the telemetry; "
                f"limit {limit:g} %)"
            )
            track(i, h, x, x_draws, e_now, trend.grid[gd] + trend.exposure[j], note)
