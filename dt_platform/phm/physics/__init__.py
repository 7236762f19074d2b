"""Physics of degradation: the closed-form laws, and one damage law per simulated machine type.

:mod:`~dt_platform.phm.physics.laws` holds the textbook laws as pure functions (numbers in,
numbers out; numpy arrays welcome): Archard wear, Arrhenius rate and acceleration factor, ISO 281
bearing life, Paris crack growth and its closed-form integral, Coffin-Manson / LESIT cycles to
failure, Miner's rule; :mod:`~dt_platform.phm.physics.distributions` the standardized life
distributions.

:mod:`~dt_platform.phm.physics.machines` turns each law into a :class:`DamageLaw`
(:mod:`~dt_platform.phm.physics.damage_law`) the rest of the physics branch uses. A damage law
says how *measured* stresses become an **exposure rate**: the rate at which a component uses up
its life, expressed in units of a reference condition, so that for any stress history

    exposure E(t) = Σ_readings  weight · kernel(stress; θ)

and failure comes when E reaches the component's life L (lognormal or Weibull across units).
``weight`` is linear in the measured throughput (hours powered, sliding distance, revolutions,
power cycles) and ``kernel`` carries the shape parameters θ that are fitted (activation energy,
load exponents). At a constant stress, log L = log t + log kernel, which is linear in 1/T or in
log(stress): the linearized laws of :mod:`dt_platform.phm.fitting`. Miner's rule is the same
statement: damage D = E / η with η the median life, so D = 1 at the median failure.

Literature priors sit next to each parameter with the range that justifies them; the
fitting keeps them when the fleet's run-to-failure history cannot identify a parameter.
"""

from dt_platform.phm.physics.damage_law import DamageLaw, Prior, RatingError
from dt_platform.phm.physics.distributions import (
    Distribution,
    std_cdf,
    std_equilibrium_sf,
    std_logpdf,
    std_logsf,
    std_ppf,
)
from dt_platform.phm.physics.laws import (
    G_N,
    ISO_10816_3_LIMIT_MM_S,
    ISO_10816_3_ZONES_MM_S,
    K_B_EV,
    ZERO_C_K,
    ArrayLike,
    archard_sliding_to_volume,
    archard_wear_volume,
    arrhenius_af,
    arrhenius_rate,
    bearing_l10_hours,
    bearing_l10_mrev,
    bearing_life_exponent,
    celsius_to_kelvin,
    coffin_manson_cycles,
    equivalent_bearing_load,
    lesit_cycles,
    miner_damage,
    paris_crack_size,
    paris_cycles,
    paris_linearized,
    paris_rate,
    stress_intensity_range,
    vickers_to_n_per_mm2,
)
from dt_platform.phm.physics.machines import (
    CNC_VIBRATION_SENSOR,
    DEGRADING_COMPONENT,
    LAWS,
    OVEN_T_REF_K,
    PARIS_M_PRIOR,
    SERVO_DTJ_REF_K,
    SERVO_TJ_SENSOR,
    SERVO_TM_REF_K,
    SERVO_VCE_SENSOR,
    SMT_F_REF_N,
    VCE_RISE_LIMIT,
    cnc_bearing_load_kn,
)

__all__ = [
    "CNC_VIBRATION_SENSOR",
    "DEGRADING_COMPONENT",
    "G_N",
    "ISO_10816_3_LIMIT_MM_S",
    "ISO_10816_3_ZONES_MM_S",
    "K_B_EV",
    "LAWS",
    "OVEN_T_REF_K",
    "PARIS_M_PRIOR",
    "SERVO_DTJ_REF_K",
    "SERVO_TJ_SENSOR",
    "SERVO_TM_REF_K",
    "SERVO_VCE_SENSOR",
    "SMT_F_REF_N",
    "VCE_RISE_LIMIT",
    "ZERO_C_K",
    "ArrayLike",
    "DamageLaw",
    "Distribution",
    "Prior",
    "RatingError",
    "archard_sliding_to_volume",
    "archard_wear_volume",
    "arrhenius_af",
    "arrhenius_rate",
    "bearing_l10_hours",
    "bearing_l10_mrev",
    "bearing_life_exponent",
    "celsius_to_kelvin",
    "cnc_bearing_load_kn",
    "coffin_manson_cycles",
    "equivalent_bearing_load",
    "lesit_cycles",
    "miner_damage",
    "paris_crack_size",
    "paris_cycles",
    "paris_linearized",
    "paris_rate",
    "std_cdf",
    "std_equilibrium_sf",
    "std_logpdf",
    "std_logsf",
    "std_ppf",
    "stress_intensity_range",
    "vickers_to_n_per_mm2",
]
