"""servo drive: where the Vce(on) indicator shows the bond wires lifting off, it overrides the
Miner values. The spent share of the life comes from the indicator's fitted growth law
(:mod:`dt_platform.phm.fitting.vce`), the exposure left from the exposure spent so far."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import special

from dt_platform.phm.damage.replay import _Replay
from dt_platform.phm.damage.rows import _Draws, _Rows
from dt_platform.phm.episodes import MachineStress, Service
from dt_platform.phm.fitting import TypeFit, corrected_log_vce, vce_indicator
from dt_platform.phm.fitting.vce import started_in_data

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
) -> None:
    """Overwrite Miner values where the life's Vce(on) indicator has reached the law's onset.

    ``exposure``: per hour of the machine, the exposure of the module in service since its
    installation (the point estimate's units, as ``replay``). Only lives installed while the
    telemetry ran have an indicator: it is measured against the module's own first hours.
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
    for s, h0, h1 in segments:
        if s.install_source != "work_order" or not started_in_data(stress, s.start):
            continue
        indicator = vce_indicator(corrected[h0:h1])
        for h in range(h0, h1):
            i = where.get(h)
            x = indicator[h - h0]
            if i is None or not x >= law["onset"]:
                continue
            spent = float(spent_share(np.array([x]), a, k)[0])
            e_now = float(exposure[h])
            rem0 = e_now * (1.0 / spent - 1.0)
            hours0 = float(replay.hours(np.array([h]), np.array([[rem0]]))[0, 0])
            rem = e_now * (1.0 / spent_share(x + x_noise, a_draws, k_draws) - 1.0)
            rows.set_tracked(
                i,
                hours0,
                replay.hours(np.array([h]), rem[None, :])[0],
                float(weekly_sd[h]),
                draws.z_rate,
                damage=spent,
                stage=STAGE,
                note=(
                    f"Vce(on) {100 * law['limit_rise'] * x:.2f} % above the module's first hours "
                    f"(limit {100 * law['limit_rise']:g} %): {100 * spent:.0f} % of its life "
                    f"spent by the fleet's rise law (k = {k:.2f}, {law['n_lives']} lives)"
                ),
            )
