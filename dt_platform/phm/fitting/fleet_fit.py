"""Fit every simulated machine type's damage law from a fleet's history."""

from __future__ import annotations

from dt_platform.phm import physics
from dt_platform.phm.episodes import History, episodes
from dt_platform.phm.fitting.clock import clock_profile
from dt_platform.phm.fitting.law import MIN_FAILURES_SHAPE, MIN_FAILURES_SIGMA, fit_law
from dt_platform.phm.fitting.results import FleetPhysics, TypeFit
from dt_platform.phm.fitting.spall import _growth_prior
from dt_platform.phm.fitting.vce import fit_vce_law
from dt_platform.phm.physics import LAWS, PARIS_M_PRIOR, Prior


def fit_fleet(
    history: History,
    *,
    min_observed_fraction: float = 0.0,
    min_failures_shape: int = MIN_FAILURES_SHAPE,
    min_failures_sigma: int = MIN_FAILURES_SIGMA,
) -> FleetPhysics:
    """Fit every simulated type's damage law from the history's component lives.

    Lives with an unlogged start (unknown age) are not used. ``min_observed_fraction`` drops
    lives whose stress is mostly imputed (0 keeps them: see :mod:`dt_platform.phm.episodes`).
    """
    types: dict[str, TypeFit] = {}
    for machine_type, law in LAWS.items():
        eps = [
            e
            for e in episodes(history, machine_type)
            if e.install_source == "work_order" and e.observed_fraction >= min_observed_fraction
        ]
        prior_override: dict[str, Prior] = {}
        if machine_type == "cnc_spindle":
            prior_override = _bearing_prior(history)
        fit = fit_law(
            [e.record for e in eps],
            law,
            shape_prior=prior_override,
            min_failures_shape=min_failures_shape,
            min_failures_sigma=min_failures_sigma,
        )
        fit.n_imputed = sum(1 for e in eps if e.imputed_hours > 0)
        failing = sorted({e.machine_id for e in eps if e.failed})
        fit.decisions.insert(
            0,
            f"{fit.n_failures} failure(s) on {len(failing)} machine(s) ({', '.join(failing) or 'none'}), "
            f"{fit.n_censored} censored life/lives: stress contrasts between machines identify "
            "the shape parameters",
        )
        if fit.n_imputed:
            fit.decisions.append(
                f"{fit.n_imputed} life/lives began before the first telemetry: their early stress is "
                "the machine's first-week operating profile"
            )
        if fit.linearized:
            for row, ep in zip(fit.linearized, eps, strict=True):
                row.update(ep.summary())
        if machine_type == "cnc_spindle":
            fit.paris = _growth_prior(history, eps, PARIS_M_PRIOR.value)
        if machine_type == "servo_drive" and fit.usable:
            fit.vce = fit_vce_law(history, eps, fit.theta())
        if fit.usable:
            fit.clock = clock_profile(list(history.stress.values()), machine_type, fit.theta())
        types[machine_type] = fit
    return FleetPhysics(types, history.until.isoformat())


def _bearing_prior(history: History) -> dict[str, Prior]:
    """p from the registry's bearing type (ball 3, roller 10/3) when the whole fleet agrees."""
    exps = {
        physics.bearing_life_exponent(info.rated.get("bearing_type"))
        for info in history.machines.values()
        if info.machine_type == "cnc_spindle"
    }
    if len(exps) == 1:
        p = exps.pop()
        base = LAWS["cnc_spindle"].shape["life_exponent_p"]
        return {
            "life_exponent_p": Prior(
                p, base.sd, f"ISO 281 from the registry's bearing type (p = {p:.3g})", base.bounds
            )
        }
    return {}
