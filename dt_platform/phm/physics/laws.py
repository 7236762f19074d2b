"""The textbook laws as pure functions (numbers in, numbers out; numpy arrays welcome): Archard
wear, Arrhenius rate and acceleration factor, ISO 281 bearing life, Paris crack growth and its
closed-form integral, Coffin-Manson / LESIT cycles to failure, Miner's rule.
"""

from __future__ import annotations

import math

import numpy as np

K_B_EV = 8.617333262e-5
"""Boltzmann constant in eV/K (8.617e-5 to CODATA digits)."""
ZERO_C_K = 273.15
G_N = 9.80665
"""Standard gravity, m/s²: converts a Vickers hardness number (kgf/mm²) to N/mm²."""
ISO_10816_3_ZONES_MM_S = {"A/B": 1.4, "B/C": 2.8, "C/D": 4.5}
"""ISO 10816-3 zone boundaries, rigid mounting, medium machines (vibration velocity RMS)."""
ISO_10816_3_LIMIT_MM_S = ISO_10816_3_ZONES_MM_S["C/D"]
ArrayLike = float | np.ndarray


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


def paris_linearized(excess: np.ndarray, m: float) -> np.ndarray:
    """Transform vibration excess y so that Paris growth is a straight line in exposure.

    With vibration excess ∝ spall size a and da/dN ∝ a^(m/2), a^(1−m/2) falls linearly in the
    load-weighted cycle count; for m = 3 that is y^(−1/2). m = 2 gives exponential growth (log y).
    """
    y = np.maximum(np.asarray(excess, dtype=float), 1e-6)
    if abs(m - 2.0) < 1e-9:
        return np.log(y)
    return y ** (1.0 - m / 2.0)
