"""Fit each damage law's parameters from run-to-failure history, with confidence intervals.

**Model.** For every life i, exposure E_i(θ) = Σ weight·kernel(stress; θ) is what the component
used up (:mod:`dt_platform.phm.physics`). Its life in exposure units is log-location-scale:

    log E_i(θ) = log η + σᵢ·εᵢ,  ε standard normal (lognormal lives) or smallest-extreme-value
                                  (Weibull lives: the cnc spindle bearings, ISO 281)

with σᵢ² = σ² + τᵢ², τᵢ the extra scatter of a life whose early stress was imputed (it began
before the first telemetry, :mod:`dt_platform.phm.episodes`): such lives count, but less.

At a constant stress this is exactly the linearized law — log life vs 1/T (Arrhenius), vs log ΔTj
and 1/Tm (LESIT), vs log P (ISO 281), vs log F (Archard) — with the slope θ; for a varying
stress the covariate is the Miner-equivalent stress of the life, recomputed at each θ. So the
regression is fitted by maximum likelihood with statsmodels' ``GenericLikelihoodModel`` rather
than OLS, which also lets **censored lives count**: a component still running (or removed while
working) contributes log P(life > E_i) instead of being dropped. Dropping them would bias lives
short; treating them as failures would bias them long. With 2–6 failures per type in a demo
fleet, survivors are a large share of the information.

**What is fitted and what is held.** A parameter is estimated from the data only when the data
can identify it; otherwise it is held at its literature prior (:class:`~physics.Prior`), and the
record says why:

* log η (median life) needs ≥ 1 failure; without one, the literature scale (ISO 281 a_ISO = 1,
  LESIT A = 640) is used if there is one, else the type has no physics RUL;
* σ (life scatter) needs ≥ :data:`MIN_FAILURES_SIGMA` failures;
* a shape parameter (Ea, α, p, b) needs ≥ :data:`MIN_FAILURES_SHAPE` failures, a converged fit
  with a finite standard error no larger than the prior's standard deviation (the data must know
  more than the handbook), and an estimate inside the physically plausible range.

Rejected free estimates are kept in the record (``free_fit``) so a reviewer sees what the data
said. Held parameters carry their prior uncertainty into the RUL intervals
(:mod:`dt_platform.phm.damage`).
"""

from dt_platform.phm.fitting.derived import linearized_table
from dt_platform.phm.fitting.fleet_fit import fit_fleet
from dt_platform.phm.fitting.law import MIN_FAILURES_SHAPE, MIN_FAILURES_SIGMA, Z95, fit_law
from dt_platform.phm.fitting.likelihood import CensoredLifeModel
from dt_platform.phm.fitting.results import FleetPhysics, ParamEstimate, TypeFit
from dt_platform.phm.fitting.spall import (
    BASELINE_HOURS,
    ONSET_CONSECUTIVE,
    ONSET_MIN_EXCESS_MM_S,
    ONSET_NOISE_FACTOR,
    WITHDRAW_HOURS,
    Onset,
    ParisTrend,
    detect_spall_onset,
    fit_paris_trend,
    paris_exposure_hourly,
    spall_onsets,
)
from dt_platform.phm.fitting.vce import corrected_log_vce, fit_vce_law, vce_indicator

__all__ = [
    "BASELINE_HOURS",
    "MIN_FAILURES_SHAPE",
    "MIN_FAILURES_SIGMA",
    "ONSET_CONSECUTIVE",
    "ONSET_MIN_EXCESS_MM_S",
    "ONSET_NOISE_FACTOR",
    "WITHDRAW_HOURS",
    "Z95",
    "CensoredLifeModel",
    "FleetPhysics",
    "Onset",
    "ParamEstimate",
    "ParisTrend",
    "TypeFit",
    "corrected_log_vce",
    "detect_spall_onset",
    "fit_fleet",
    "fit_law",
    "fit_paris_trend",
    "fit_vce_law",
    "linearized_table",
    "paris_exposure_hourly",
    "spall_onsets",
    "vce_indicator",
]
