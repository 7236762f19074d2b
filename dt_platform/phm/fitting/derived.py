"""Readable figures of a fitted law: derived parameters (η, L10, Weibull β, a_ISO, LESIT A) with
simulated intervals, and each life's coordinates on the linearized law.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dt_platform.phm import physics
from dt_platform.phm.episodes import LifeRecord
from dt_platform.phm.fitting.results import ParamEstimate, TypeFit
from dt_platform.phm.physics import DamageLaw


def _add_derived(fit: TypeFit, n_draws: int = 4000) -> None:
    """Readable parameters derived from the fitted ones, with 95 % intervals by simulation."""
    if not np.isfinite(fit.value("log_eta")):
        return
    rng = np.random.default_rng(0)
    draws = fit.draws(n_draws, rng)
    eta = np.array([math.exp(d["log_eta"]) for d in draws])
    sigma = np.array([math.exp(d["log_sigma"]) for d in draws])
    dist = fit.distribution
    l10 = eta * np.exp(sigma * physics.std_ppf(dist, np.array(0.10)))
    derived: dict[str, tuple[np.ndarray, float, str]] = {
        "eta": (eta, math.exp(fit.value("log_eta")), fit.exposure_unit),
        "sigma": (sigma, math.exp(fit.value("log_sigma")), "1"),
        "l10": (
            l10,
            math.exp(fit.value("log_eta"))
            * math.exp(
                math.exp(fit.value("log_sigma")) * float(physics.std_ppf(dist, np.array(0.10)))
            ),
            fit.exposure_unit,
        ),
    }
    if dist == "weibull":
        derived["weibull_beta"] = (1.0 / sigma, 1.0 / math.exp(fit.value("log_sigma")), "1")
    if fit.machine_type == "cnc_spindle":
        derived["a_iso"] = (l10, derived["l10"][1], "1 (L10 / ISO 281 basic rating life)")
    if fit.machine_type == "servo_drive":

        def lesit_a(d: Mapping[str, float]) -> float:
            return (
                math.exp(d["log_eta"])
                * physics.SERVO_DTJ_REF_K ** (-d["alpha"])
                * math.exp(-d["ea_ev"] / (physics.K_B_EV * physics.SERVO_TM_REF_K))
            )

        derived["lesit_a"] = (np.array([lesit_a(d) for d in draws]), lesit_a(fit.theta()), "cycles")
    if fit.machine_type == "smt_placer":
        derived["k_over_vcrit"] = (1.0 / eta, 1.0 / derived["eta"][1], "1/mm3")
    for name, (sample, point, unit) in derived.items():
        lo, hi = np.percentile(sample, [2.5, 97.5])
        fit.params[name] = ParamEstimate(
            name, float(point), None, float(lo), float(hi), "derived", unit
        )


def linearized_table(
    records: Sequence[LifeRecord], law: DamageLaw, theta: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Per life: the coordinates of the linearized law at the fitted parameters.

    ``log_throughput`` (log Σ weights: hours, Mrev, cycles, F·s/H at F_ref) against the
    Miner-equivalent stress: ``log_throughput = log η − log mean_kernel + σε``. For one-variable
    laws the equivalent stress is also given in the sensor's terms (``equivalent``).
    """
    out = []
    sigma = math.exp(theta["log_sigma"])
    for r in records:
        k = law.kernel(r.points, theta)
        total = float(np.sum(r.weights))
        exposure = float(np.sum(r.weights * k))
        mean_k = exposure / total if total > 0 else float("nan")
        row: dict[str, Any] = {
            "label": r.label,
            "failed": r.failed,
            "life_h": round(r.life_h, 2),
            "log_throughput": math.log(total) if total > 0 else None,
            "log_mean_kernel": math.log(mean_k) if mean_k > 0 else None,
            "log_exposure": math.log(exposure) if exposure > 0 else None,
            "z": (math.log(exposure) - theta["log_eta"]) / sigma if exposure > 0 else None,
        }
        eq = _equivalent_stress(law, theta, mean_k)
        if eq is not None:
            row["equivalent"] = eq
        out.append(row)
    return out


def _equivalent_stress(
    law: DamageLaw, theta: Mapping[str, float], mean_k: float
) -> dict[str, float] | None:
    if not mean_k > 0:
        return None
    if law.machine_type == "reflow_oven":
        inv_t = 1.0 / physics.OVEN_T_REF_K - math.log(mean_k) * physics.K_B_EV / theta["ea_ev"]
        return {"heater_temp_c": 1.0 / inv_t - physics.ZERO_C_K}
    if law.machine_type == "smt_placer":
        return {
            "placement_force_n": physics.SMT_F_REF_N * mean_k ** (1.0 / theta["load_exponent_b"])
        }
    if law.machine_type == "cnc_spindle":
        return {"load_ratio_p_over_c": mean_k ** (1.0 / theta["life_exponent_p"])}
    return None
