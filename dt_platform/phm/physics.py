"""Physics of degradation: the closed-form laws, and one damage law per simulated machine type.

Part 1 holds the textbook laws as pure functions (numbers in, numbers out; numpy arrays welcome):
Archard wear, Arrhenius rate and acceleration factor, ISO 281 bearing life, Paris crack growth
and its closed-form integral, Coffin-Manson / LESIT cycles to failure, Miner's rule.

Part 2 turns each law into a :class:`DamageLaw` the rest of the physics branch uses. A damage law
says how *measured* stresses become an **exposure rate**: the rate at which a component uses up
its life, expressed in units of a reference condition, so that for any stress history

    exposure E(t) = Σ_readings  weight · kernel(stress; θ)

and failure comes when E reaches the component's life L (lognormal or Weibull across units).
``weight`` is linear in the measured throughput (hours powered, sliding distance, revolutions,
power cycles) and ``kernel`` carries the shape parameters θ that are fitted (activation energy,
load exponents). At a constant stress, log L = log t + log kernel, which is linear in 1/T or in
log(stress): the linearized laws of :mod:`dt_platform.phm.fitting`. Miner's rule is the same
statement: damage D = E / η with η the median life, so D = 1 at the median failure.

Literature priors (DESIGN §3) sit next to each parameter with the range that justifies them; the
fitting keeps them when the fleet's run-to-failure history cannot identify a parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

K_B_EV = 8.617333262e-5
"""Boltzmann constant in eV/K (the brief's 8.617e-5, CODATA digits)."""
ZERO_C_K = 273.15
G_N = 9.80665
"""Standard gravity, m/s²: converts a Vickers hardness number (kgf/mm²) to N/mm²."""
ISO_10816_3_ZONES_MM_S = {"A/B": 1.4, "B/C": 2.8, "C/D": 4.5}
"""ISO 10816-3 zone boundaries, rigid mounting, medium machines (vibration velocity RMS)."""
ISO_10816_3_LIMIT_MM_S = ISO_10816_3_ZONES_MM_S["C/D"]

ArrayLike = float | np.ndarray


# --- Part 1: closed-form laws -------------------------------------------------------------------


def celsius_to_kelvin(t_c: ArrayLike) -> ArrayLike:
    return np.asarray(t_c, dtype=float) + ZERO_C_K


def vickers_to_n_per_mm2(hv: ArrayLike) -> ArrayLike:
    """Vickers hardness number (kgf/mm²) → indentation hardness in N/mm² (= MPa)."""
    return np.asarray(hv, dtype=float) * G_N


def archard_wear_volume(
    k: ArrayLike, load_n: ArrayLike, sliding_mm: ArrayLike, hardness_n_mm2: ArrayLike
) -> ArrayLike:
    """Archard: worn volume V = K·F·s/H (mm³ for F in N, s in mm, H in N/mm²; K dimensionless)."""
    return np.asarray(k) * np.asarray(load_n) * np.asarray(sliding_mm) / np.asarray(hardness_n_mm2)


def archard_sliding_to_volume(
    volume_mm3: ArrayLike, k: ArrayLike, load_n: ArrayLike, hardness_n_mm2: ArrayLike
) -> ArrayLike:
    """Sliding distance (mm) after which Archard wear reaches ``volume_mm3``: s = V·H/(K·F)."""
    return (
        np.asarray(volume_mm3) * np.asarray(hardness_n_mm2) / (np.asarray(k) * np.asarray(load_n))
    )


def arrhenius_rate(prefactor: ArrayLike, ea_ev: ArrayLike, temp_k: ArrayLike) -> ArrayLike:
    """Arrhenius: rate = A·exp(−Ea/(k·T)), T in kelvin."""
    return np.asarray(prefactor) * np.exp(-np.asarray(ea_ev) / (K_B_EV * np.asarray(temp_k)))


def arrhenius_af(ea_ev: ArrayLike, t_use_k: ArrayLike, t_stress_k: ArrayLike) -> ArrayLike:
    """Acceleration factor AF = rate(T_stress)/rate(T_use) = exp(Ea/k·(1/T_use − 1/T_stress)).

    AF > 1 when the stress temperature is the hotter one: a life measured at T_stress is AF times
    shorter than at T_use.
    """
    return np.exp(
        np.asarray(ea_ev) / K_B_EV * (1.0 / np.asarray(t_use_k) - 1.0 / np.asarray(t_stress_k))
    )


def bearing_life_exponent(bearing_type: str | None) -> float:
    """ISO 281 life exponent: 3 for ball bearings, 10/3 for roller bearings.

    Reads the registry's free-text bearing type ("angular contact ball (p = 3)", "cylindrical
    roller", ...); an explicit "p = x" wins. Unknown text → ball (the spindle default).
    """
    text = (bearing_type or "").lower()
    if "p =" in text or "p=" in text:
        tail = text.replace(" ", "").split("p=", 1)[1]
        number = "".join(ch for ch in tail if ch in "0123456789./")
        try:
            if "/" in number:
                num, den = number.split("/", 1)
                return float(num) / float(den)
            return float(number)
        except (ValueError, ZeroDivisionError):
            pass
    return 10.0 / 3.0 if "roller" in text else 3.0


def bearing_l10_mrev(c_kn: ArrayLike, p_kn: ArrayLike, exponent: float = 3.0) -> ArrayLike:
    """ISO 281 basic rating life L10 = (C/P)^p in millions of revolutions (90 % survive it)."""
    return (np.asarray(c_kn, dtype=float) / np.asarray(p_kn, dtype=float)) ** exponent


def bearing_l10_hours(
    c_kn: ArrayLike, p_kn: ArrayLike, speed_rpm: ArrayLike, exponent: float = 3.0
) -> ArrayLike:
    """L10 in operating hours at a constant speed: L10h = 1e6·L10 / (60·n)."""
    return (
        bearing_l10_mrev(c_kn, p_kn, exponent) * 1e6 / (60.0 * np.asarray(speed_rpm, dtype=float))
    )


def equivalent_bearing_load(
    loads_kn: ArrayLike, revolutions: ArrayLike, exponent: float = 3.0
) -> float:
    """Miner-equivalent constant load of a load spectrum: P = (Σ nᵢ·Pᵢ^p / Σ nᵢ)^(1/p)."""
    loads = np.asarray(loads_kn, dtype=float)
    revs = np.asarray(revolutions, dtype=float)
    return float((np.sum(revs * loads**exponent) / np.sum(revs)) ** (1.0 / exponent))


def paris_rate(c: ArrayLike, delta_k: ArrayLike, m: ArrayLike) -> ArrayLike:
    """Paris' law: crack growth per cycle da/dN = C·ΔK^m."""
    return np.asarray(c) * np.asarray(delta_k) ** np.asarray(m)


def stress_intensity_range(
    delta_sigma: ArrayLike, a: ArrayLike, geometry: float = 1.0
) -> ArrayLike:
    """ΔK = Y·Δσ·√(π·a)."""
    return geometry * np.asarray(delta_sigma) * np.sqrt(math.pi * np.asarray(a))


def paris_cycles(
    c: float, m: float, a0: float, af: float, delta_sigma: float, geometry: float = 1.0
) -> float:
    """Cycles to grow a crack from a0 to af under Paris' law, closed form.

    N = ∫ da / (C·(YΔσ√(πa))^m) = (af^(1−m/2) − a0^(1−m/2)) / (C·(YΔσ√π)^m·(1 − m/2)) for m ≠ 2,
    ln(af/a0) / (C·(YΔσ√π)²) for m = 2.
    """
    if not 0 < a0 < af:
        raise ValueError(f"need 0 < a0 < af, got a0={a0}, af={af}")
    q = c * (geometry * delta_sigma * math.sqrt(math.pi)) ** m
    if abs(m - 2.0) < 1e-12:
        return math.log(af / a0) / q
    e = 1.0 - m / 2.0
    return (af**e - a0**e) / (q * e)


def paris_crack_size(
    c: float, m: float, a0: float, cycles: ArrayLike, delta_sigma: float, geometry: float = 1.0
) -> ArrayLike:
    """Crack size after ``cycles`` (the inverse of :func:`paris_cycles`); inf past the blow-up."""
    n = np.asarray(cycles, dtype=float)
    q = c * (geometry * delta_sigma * math.sqrt(math.pi)) ** m
    if abs(m - 2.0) < 1e-12:
        return a0 * np.exp(q * n)
    e = 1.0 - m / 2.0
    base = a0**e + q * e * n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base > 0, np.abs(base) ** (1.0 / e), np.inf)


def coffin_manson_cycles(a: ArrayLike, alpha: ArrayLike, delta_t_k: ArrayLike) -> ArrayLike:
    """Coffin-Manson (thermal cycling): N_f = A·ΔT^α (α < 0)."""
    return np.asarray(a) * np.asarray(delta_t_k, dtype=float) ** np.asarray(alpha)


def lesit_cycles(
    a: ArrayLike, alpha: ArrayLike, ea_ev: ArrayLike, delta_tj_k: ArrayLike, tm_k: ArrayLike
) -> ArrayLike:
    """LESIT (Held et al. 1997): N_f = A·ΔTj^α·exp(Ea/(k·Tm)), Tm the mean junction temperature in K."""
    return coffin_manson_cycles(a, alpha, delta_tj_k) * np.exp(
        np.asarray(ea_ev) / (K_B_EV * np.asarray(tm_k))
    )


def miner_damage(cycles: ArrayLike, cycles_to_failure: ArrayLike) -> float:
    """Palmgren-Miner linear damage sum D = Σ nᵢ/N_f,ᵢ (failure expected at D = 1)."""
    return float(
        np.sum(np.asarray(cycles, dtype=float) / np.asarray(cycles_to_failure, dtype=float))
    )


# --- life distributions (log-location-scale) ----------------------------------------------------

Distribution = Literal["lognormal", "weibull"]


def std_logsf(dist: Distribution, z: np.ndarray) -> np.ndarray:
    """log P(Z > z) of the standardized log-life (normal, or smallest extreme value for Weibull)."""
    from scipy import special

    if dist == "lognormal":
        return special.log_ndtr(-z)
    return -np.exp(z)


def std_logpdf(dist: Distribution, z: np.ndarray) -> np.ndarray:
    if dist == "lognormal":
        return -0.5 * z * z - 0.5 * math.log(2.0 * math.pi)
    return z - np.exp(z)


def std_cdf(dist: Distribution, z: np.ndarray) -> np.ndarray:
    from scipy import special

    if dist == "lognormal":
        return special.ndtr(z)
    return -np.expm1(-np.exp(z))


def std_ppf(dist: Distribution, q: np.ndarray) -> np.ndarray:
    from scipy import special

    q = np.clip(q, 1e-15, 1.0 - 1e-15)
    if dist == "lognormal":
        return special.ndtri(q)
    return np.log(-np.log1p(-q))


# --- Part 2: damage laws per machine type -------------------------------------------------------


@dataclass(frozen=True)
class Prior:
    """A literature value for a parameter: the prior used when the data cannot identify it."""

    value: float
    sd: float
    source: str
    bounds: tuple[float, float] = (-math.inf, math.inf)
    """Physically plausible range: a free fit outside it is rejected in favour of the prior."""


class RatingError(ValueError):
    """A machine's registry entry lacks a datasheet value its damage law needs."""


@dataclass(frozen=True)
class DamageLaw:
    """How one machine type's measured stresses use up the life of its degrading component."""

    machine_type: str
    component: str
    law: str
    sensors: tuple[str, ...]
    """Canonical sensor names read from telemetry (all must be present in a reading)."""
    shape: dict[str, Prior]
    """Shape parameters θ of the kernel (fitted or held at the prior), in order."""
    shape_vars: tuple[str, ...]
    """Law variables the kernel depends on (columns of :meth:`variables`)."""
    resolution: tuple[float, ...]
    """Grid step per shape variable when stress samples are pooled: fine enough that the kernel
    moves by ≤ 1e-4 within a cell, and a divisor of the sensors' 0.1-unit resolution."""
    exposure_unit: str
    distribution: Distribution
    sigma_prior: Prior
    """Scatter of log-life between units (σ; Weibull: 1/β)."""
    log_eta_prior: Prior | None
    """Literature prior of the log median life in exposure units, if a handbook gives one."""
    _variables: Callable[[pl.DataFrame, Mapping[str, Any]], dict[str, np.ndarray]] = field(
        repr=False
    )
    _kernel: Callable[[np.ndarray, Mapping[str, float]], np.ndarray] = field(repr=False)
    describe: Callable[[Mapping[str, float]], str] = field(repr=False)
    """Human text of the recent operating stress, for alert reasons."""
    display_sensors: tuple[str, ...] = ()
    """Sensors whose recent operating mean goes into the alert reason."""

    def variables(self, frame: pl.DataFrame, rated: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Law variables from readings: ``weight_per_h`` (linear throughput), ``active`` and the
        shape variables. ``frame`` has one column per sensor in :attr:`sensors`."""
        return self._variables(frame, rated)

    def kernel(self, x: np.ndarray, theta: Mapping[str, float]) -> np.ndarray:
        """Damage kernel at shape variables ``x`` (n, len(shape_vars)); 1 at the reference stress."""
        return self._kernel(np.atleast_2d(np.asarray(x, dtype=float)), theta)

    def kernel_batch(self, x: np.ndarray, thetas: list[Mapping[str, float]]) -> np.ndarray:
        """(n, n_draws) kernel for many parameter draws (used for Monte-Carlo intervals)."""
        return np.stack([self.kernel(x, th) for th in thetas], axis=1)

    def prior_theta(self) -> dict[str, float]:
        return {k: p.value for k, p in self.shape.items()}


def _rated(rated: Mapping[str, Any], key: str, machine_type: str) -> float:
    value = rated.get(key)
    if value is None:
        raise RatingError(
            f"{machine_type}: the registry entry has no rated.{key}; add the datasheet value to "
            "machines.yaml (see docs/dumps.md) so the damage law can be evaluated"
        )
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise RatingError(f"{machine_type}: rated.{key} = {value!r} is not a number") from exc


def _col(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64).to_numpy()


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
                    0.75, 0.125, "oxidation-type mechanisms Ea 0.5-1.0 eV (DESIGN §3)", (0.2, 2.0)
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
PARIS_M_PRIOR = Prior(3.0, 0.3, "Paris exponent m ≈ 3 for bearing steel (DESIGN §3)", (2.0, 5.0))


def paris_linearized(excess: np.ndarray, m: float) -> np.ndarray:
    """Transform vibration excess y so that Paris growth is a straight line in exposure.

    With vibration excess ∝ spall size a and da/dN ∝ a^(m/2), a^(1−m/2) falls linearly in the
    load-weighted cycle count; for m = 3 that is y^(−1/2). m = 2 gives exponential growth (log y).
    """
    y = np.maximum(np.asarray(excess, dtype=float), 1e-6)
    if abs(m - 2.0) < 1e-9:
        return np.log(y)
    return y ** (1.0 - m / 2.0)
