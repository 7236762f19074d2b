"""servo drive: where the Vce(on) indicator shows the bond wires lifting off, it overrides the
Miner values. The spent share of the life comes from the indicator's fitted growth law
(:mod:`dt_platform.phm.fitting.vce`), the exposure left from the exposure spent so far. A module
already in service when the telemetry began has no Vce(on) of its own when new: where its
installation is logged, its rise is read from the shape of its trend through the exposure the
branch imputes to its life before the data (:mod:`dt_platform.phm.fitting.vce_trend`)."""

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
TREND_STAGE = "vce_trend"
"""A module already in service when the telemetry began, read from its rise's shape: not a
tracked fault (:data:`~dt_platform.phm.schemas.FAULT_STAGES`), so the fuser weighs its value
with the data branch's. Reported as it is, on the simulated line it called failures early
(median -47 h, coverage 81 %) and raised the seed-7 model's false alert episodes."""
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
    observed: np.ndarray,
) -> None:
    """Overwrite Miner values where the life's Vce(on) has risen past the law's onset.

    ``exposure``: per hour of the machine, the exposure of the module in service since its
    installation (the point estimate's units, as ``replay``); ``observed``: the part of it the
    data show. A life installed while the telemetry ran is measured against its own first hours
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

    def track(i: int, h: int, x: float, note: str, stage: str) -> None:
        """Row ``i`` (hour ``h``) from the indicator ``x``: the spent share, and the exposure left
        from the exposure spent so far."""
        e_now = float(exposure[h])
        spent = float(spent_share(np.array([x]), a, k)[0])
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
            stage=stage,
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
                note = (
                    f"Vce(on) {limit * x:.2f} % above the module's first hours (limit {limit:g} %)"
                )
                track(i, h, x, note, STAGE)
            continue
        if s.install_source != "work_order":
            continue  # no logged installation: no exposure before the data to read the rise on
        seen_e = observed[h0:h1]
        asked = np.array(sorted(h - h0 for h in where if h0 <= h < h1), dtype=int)
        trend = vce_trend(corrected[h0:h1], seen_e, exposure[h0:h1] - seen_e, k, asked)
        for j in asked:
            h = h0 + int(j)
            seen = float(np.expm1(trend.seen[j])) / law["limit_rise"]
            if not seen >= law["onset"]:
                continue
            x = float(np.expm1(trend.level[j])) / law["limit_rise"]
            note = (
                f"Vce(on) up {limit * seen:.2f} % in the data and {limit * x:.2f} % above its "
                f"value when new, read through the life imputed before them (module in service "
                f"before the telemetry; limit {limit:g} %)"
            )
            track(where[h], h, x, note, TREND_STAGE)
