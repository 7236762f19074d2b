"""One damage law per simulated machine type (:data:`LAWS`): its variables from the readings, its
kernel, its literature priors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.physics.damage_law import DamageLaw, Prior, _col, _rated
from dt_platform.phm.physics.laws import (
    K_B_EV,
    ZERO_C_K,
    arrhenius_af,
    lesit_cycles,
    vickers_to_n_per_mm2,
)

# SMT placer — Archard. Exposure = F_ref·(F/F_ref)^b·ṡ/H: for b = 1 exactly F·s/H, the Archard
# "wear volume per unit wear coefficient" (mm³). Life η = V_crit/K.
SMT_F_REF_N = 3.0


def _smt_variables(frame: pl.DataFrame, rated: Mapping[str, Any]) -> dict[str, np.ndarray]:
    hardness = float(vickers_to_n_per_mm2(_rated(rated, "nozzle_hardness_hv", "smt_placer")))
    stroke = _rated(rated, "sliding_per_placement_mm", "smt_placer")
    rate = _col(frame, "placement_rate_per_min")
    force = _col(frame, "placement_force_n")
    sliding_mm_per_h = rate * 60.0 * stroke
    active = (rate > 0) & (force > 0)
    # a stopped head wears nothing whatever its force reads; an unknown rate is no reading
    weight = np.where(
        rate > 0, np.where(force > 0, SMT_F_REF_N * sliding_mm_per_h / hardness, 0.0), 0.0
    )
    weight = np.where(np.isnan(rate) | ((rate > 0) & np.isnan(force)), np.nan, weight)
    return {
        "weight_per_h": weight,
        "active": active,
        "force_n": force,
    }


def _smt_kernel(x: np.ndarray, th: Mapping[str, float]) -> np.ndarray:
    return (np.maximum(x[:, 0], 1e-9) / SMT_F_REF_N) ** th["load_exponent_b"]


# Reflow oven — Arrhenius on the measured heater element temperature. Exposure = hours at 550 °C.
OVEN_T_REF_K = 550.0 + ZERO_C_K


def _oven_variables(frame: pl.DataFrame, rated: Mapping[str, Any]) -> dict[str, np.ndarray]:
    temp_c = _col(frame, "heater_temp_c")
    # below 100 °C the element is off: Arrhenius at ambient is ~1e-6 of 550 °C, i.e. nothing
    weight = np.where(np.isnan(temp_c), np.nan, np.where(temp_c > 100.0, 1.0, 0.0))
    return {
        "weight_per_h": weight,
        "active": temp_c > 100.0,
        "temp_k": temp_c + ZERO_C_K,
    }


def _oven_kernel(x: np.ndarray, th: Mapping[str, float]) -> np.ndarray:
    return np.exp(-th["ea_ev"] / K_B_EV * (1.0 / x[:, 0] - 1.0 / OVEN_T_REF_K))


# CNC spindle — ISO 281 initiation: exposure = Σ Mrev·(P/C)^p ("Mrev at P = C"); the basic rating
# life L10 is 1 in these units, so the fitted L10 is the life modification factor a_ISO.
def cnc_bearing_load_kn(load_pct: np.ndarray, rated: Mapping[str, Any]) -> np.ndarray:
    """Equivalent bearing load from spindle load, interpolated between the registry's design
    estimates at 0 % (preload) and 100 % load."""
    p0 = _rated(rated, "bearing_preload_kn", "cnc_spindle")
    p100 = _rated(rated, "bearing_load_at_full_load_kn", "cnc_spindle")
    return p0 + (p100 - p0) * np.asarray(load_pct, dtype=float) / 100.0


def _cnc_variables(frame: pl.DataFrame, rated: Mapping[str, Any]) -> dict[str, np.ndarray]:
    c_kn = _rated(rated, "bearing_dynamic_load_rating_c_kn", "cnc_spindle")
    speed = _col(frame, "speed_rpm")
    load = _col(frame, "load_pct")
    active = speed > 0
    return {
        "weight_per_h": np.where(
            np.isnan(speed), np.nan, np.where(active, speed * 60.0 / 1e6, 0.0)
        ),
        "active": active,
        "load_ratio": cnc_bearing_load_kn(load, rated) / c_kn,
    }


def _cnc_kernel(x: np.ndarray, th: Mapping[str, float]) -> np.ndarray:
    return np.maximum(x[:, 0], 1e-9) ** th["life_exponent_p"]


# Servo drive — LESIT with Miner's rule: exposure = cycles at ΔTj = 45 K, Tm = 80 °C.
SERVO_DTJ_REF_K = 45.0
SERVO_TM_REF_K = 80.0 + ZERO_C_K


def _servo_variables(frame: pl.DataFrame, rated: Mapping[str, Any]) -> dict[str, np.ndarray]:
    cycles = _col(frame, "power_cycles_per_min")
    dtj = _col(frame, "delta_tj_k")
    tm_c = _col(frame, "junction_temp_c")
    active = (cycles > 0) & (dtj > 0)
    return {
        "weight_per_h": np.where(
            np.isnan(cycles), np.nan, np.where(cycles > 0, cycles * 60.0, 0.0)
        ),
        "active": active,
        "delta_tj_k": dtj,
        "tm_k": tm_c + ZERO_C_K,
    }


def _servo_kernel(x: np.ndarray, th: Mapping[str, float]) -> np.ndarray:
    dtj = np.maximum(x[:, 0], 1e-9) / SERVO_DTJ_REF_K
    return dtj ** (-th["alpha"]) * np.exp(
        -th["ea_ev"] / K_B_EV * (1.0 / x[:, 1] - 1.0 / SERVO_TM_REF_K)
    )


def _lesit_log_eta_prior() -> float:
    """Held et al. (1997): A = 640, α = −5, Ea = 0.8 eV → cycles to failure at the reference."""
    return math.log(float(lesit_cycles(640.0, -5.0, 0.8, SERVO_DTJ_REF_K, SERVO_TM_REF_K)))


def _fmt(values: Mapping[str, float], key: str, unit: str, digits: int = 0) -> str:
    v = values.get(key)
    return f"{key} {v:.{digits}f} {unit}" if v is not None and np.isfinite(v) else f"{key} n/a"


LAWS: dict[str, DamageLaw] = {
    law.machine_type: law
    for law in (
        DamageLaw(
            machine_type="smt_placer",
            component="nozzle",
            law="archard",
            sensors=("placement_force_n", "placement_rate_per_min"),
            shape={
                "load_exponent_b": Prior(
                    1.0, 0.15, "Archard: wear volume linear in load (b = 1)", (0.3, 3.0)
                )
            },
            shape_vars=("force_n",),
            resolution=(0.005,),
            exposure_unit="mm3 of F*s/H (Archard wear volume per unit K)",
            distribution="lognormal",
            sigma_prior=Prior(
                0.4, 0.15, "unit-to-unit scatter of wear lives, lognormal 0.3-0.6", (0.05, 2.0)
            ),
            log_eta_prior=None,
            _variables=_smt_variables,
            _kernel=_smt_kernel,
            describe=lambda v: (
                f"{_fmt(v, 'placement_force_n', 'N', 2)} at "
                f"{_fmt(v, 'placement_rate_per_min', '/min')}"
            ),
            display_sensors=("placement_force_n", "placement_rate_per_min"),
        ),
        DamageLaw(
            machine_type="reflow_oven",
            component="heater_element",
            law="arrhenius",
            sensors=("heater_temp_c",),
            shape={
                "ea_ev": Prior(
                    0.75, 0.125, "Arrhenius, oxidation-type mechanisms: Ea 0.5-1.0 eV", (0.2, 2.0)
                )
            },
            shape_vars=("temp_k",),
            resolution=(0.05,),
            exposure_unit="h at 550 degC heater temperature",
            distribution="lognormal",
            sigma_prior=Prior(
                0.4, 0.15, "unit-to-unit scatter of oxidation lives, lognormal 0.3-0.6", (0.05, 2.0)
            ),
            log_eta_prior=None,
            _variables=_oven_variables,
            _kernel=_oven_kernel,
            describe=lambda v: (
                f"{_fmt(v, 'heater_temp_c', '°C')}"
                + (
                    f" (AF {float(arrhenius_af(v['ea_ev'], OVEN_T_REF_K, v['heater_temp_c'] + ZERO_C_K)):.2f} vs 550 °C)"
                    if np.isfinite(v.get("heater_temp_c", np.nan)) and "ea_ev" in v
                    else ""
                )
            ),
            display_sensors=("heater_temp_c",),
        ),
        DamageLaw(
            machine_type="cnc_spindle",
            component="spindle_bearing",
            law="iso281_paris",
            sensors=("speed_rpm", "load_pct"),
            shape={
                "life_exponent_p": Prior(
                    3.0, 0.3, "ISO 281: p = 3 ball / 10/3 roller bearings", (1.5, 6.0)
                )
            },
            shape_vars=("load_ratio",),
            resolution=(1e-5,),
            exposure_unit="Mrev at P = C (ISO 281 rating-life units)",
            distribution="weibull",
            sigma_prior=Prior(
                1.0 / 1.5, 0.2, "bearing life Weibull slope β ≈ 1.5 (ISO 281 a1)", (0.1, 3.0)
            ),
            log_eta_prior=Prior(
                # a_ISO = 1: L10 = 1 exposure unit → median = (ln 2 / ln(1/0.9))^(1/β)
                (1.0 / 1.5) * math.log(math.log(2.0) / -math.log(0.9)),
                1.0,
                "ISO 281 basic rating life with a_ISO = 1, Weibull β = 1.5",
            ),
            _variables=_cnc_variables,
            _kernel=_cnc_kernel,
            describe=lambda v: (
                f"bearing load P/C {v.get('load_ratio', float('nan')):.3f} "
                f"({_fmt(v, 'load_pct', '%')}, {_fmt(v, 'speed_rpm', 'rpm')})"
            ),
            display_sensors=("load_pct", "speed_rpm"),
        ),
        DamageLaw(
            machine_type="servo_drive",
            component="igbt_module",
            law="lesit",
            sensors=("power_cycles_per_min", "delta_tj_k", "junction_temp_c"),
            shape={
                "alpha": Prior(
                    -5.0, 0.5, "LESIT Coffin-Manson exponent ≈ −5 (Held et al. 1997)", (-12.0, -1.0)
                ),
                "ea_ev": Prior(0.8, 0.1, "LESIT Ea ≈ 0.8 eV (Held et al. 1997)", (0.2, 2.0)),
            },
            shape_vars=("delta_tj_k", "tm_k"),
            resolution=(0.05, 0.05),
            exposure_unit="power cycles at dTj = 45 K, Tm = 80 degC",
            distribution="lognormal",
            sigma_prior=Prior(
                0.4, 0.15, "power-cycling lives scatter, lognormal 0.3-0.6", (0.05, 2.0)
            ),
            log_eta_prior=Prior(_lesit_log_eta_prior(), 1.0, "LESIT A = 640 (Held et al. 1997)"),
            _variables=_servo_variables,
            _kernel=_servo_kernel,
            describe=lambda v: (
                f"{_fmt(v, 'delta_tj_k', 'K', 1)} swing at "
                f"{_fmt(v, 'junction_temp_c', '°C', 1)}, {_fmt(v, 'power_cycles_per_min', '/min')}"
            ),
            display_sensors=("delta_tj_k", "junction_temp_c", "power_cycles_per_min"),
        ),
    )
}
"""Damage law per simulated machine type (the physics branch covers exactly these)."""
DEGRADING_COMPONENT: dict[str, str] = {t: law.component for t, law in LAWS.items()}
CNC_VIBRATION_SENSOR = "vibration_rms_mm_s"
SERVO_VCE_SENSOR = "vce_on_v"
SERVO_TJ_SENSOR = "junction_temp_c"
VCE_RISE_LIMIT = 0.05
"""An IGBT module's end of life: Vce(on) 5 % above its value when new (the catalogue's
``failure_criterion`` of the servo drive, the usual power-cycling criterion)."""
PARIS_M_PRIOR = Prior(3.0, 0.3, "Paris exponent m ≈ 3 for bearing steel", (2.0, 5.0))
