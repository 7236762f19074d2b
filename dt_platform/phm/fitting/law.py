"""Fit one damage law to component lives: which parameters the data can identify, the
maximum-likelihood fit, and the rest held at their literature priors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

from dt_platform.phm.episodes import LifeRecord
from dt_platform.phm.fitting.derived import _add_derived, linearized_table
from dt_platform.phm.fitting.likelihood import CensoredLifeModel
from dt_platform.phm.fitting.results import ParamEstimate, TypeFit
from dt_platform.phm.physics import DamageLaw, Prior

MIN_FAILURES_SIGMA = 5
MIN_FAILURES_SHAPE = 5
Z95 = 1.959963984540054


def _start_log_eta(model: CensoredLifeModel, theta: Mapping[str, float]) -> float:
    loge = model.log_exposure(theta)
    chosen = loge[model.failed] if model.failed.any() else loge
    return float(np.mean(chosen))


def _run(model: CensoredLifeModel, start: np.ndarray):
    """Maximize the likelihood: BFGS, then Nelder-Mead from there if BFGS did not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", HessianInversionWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = model.fit(start_params=start, method="bfgs", maxiter=400, disp=0)
        if not res.mle_retvals.get("converged", False):
            res2 = model.fit(start_params=res.params, method="nm", maxiter=4000, disp=0)
            res2 = model.fit(start_params=res2.params, method="bfgs", maxiter=400, disp=0)
            if res2.llf >= res.llf - 1e-9:
                res = res2
        bse = np.asarray(res.bse, dtype=float)
        cov = np.asarray(res.cov_params(), dtype=float)
    return res, bse, cov


def fit_law(
    records: Sequence[LifeRecord],
    law: DamageLaw,
    *,
    shape_prior: Mapping[str, Prior] | None = None,
    min_failures_shape: int = MIN_FAILURES_SHAPE,
    min_failures_sigma: int = MIN_FAILURES_SIGMA,
) -> TypeFit:
    """Fit one law to lives; the fitted-vs-held rules are in :mod:`dt_platform.phm.fitting`.

    ``shape_prior`` overrides the law's literature priors (e.g. p = 10/3 for a roller-bearing
    fleet read from the registry).
    """
    priors = dict(law.shape)
    priors.update(shape_prior or {})
    n_fail = int(sum(r.failed for r in records))
    free, decisions = _identifiable(law, priors, n_fail, min_failures_shape, min_failures_sigma)
    fixed: dict[str, float] = {k: p.value for k, p in priors.items()}
    fixed["log_sigma"] = math.log(law.sigma_prior.value)
    free_fit: dict[str, dict[str, float]] = {}
    res = None
    bse = cov = np.zeros(0)
    if not records:
        decisions.append("no component lives in the history")
    elif n_fail == 0:
        decisions.append("no failure in the history: the median life cannot be estimated")
    else:
        res, bse, cov, free = _fit_believed(records, law, priors, free, fixed, free_fit, decisions)
    params = _estimates(law, priors, free, fixed, res, bse, n_fail)
    decisions.extend(_far_from_literature(priors, params))
    usable = n_fail >= 1 or law.log_eta_prior is not None
    if n_fail == 0 and law.log_eta_prior is not None:
        decisions.append(f"log_eta from the literature: {law.log_eta_prior.source}")
    if not usable:
        decisions.append("no physics RUL for this type until a failure is recorded")
    fit = TypeFit(
        machine_type=law.machine_type,
        law=law.law,
        distribution=law.distribution,
        exposure_unit=law.exposure_unit,
        usable=usable,
        params=params,
        free=list(free) if res is not None else [],
        cov=cov.tolist() if res is not None else [],
        n_episodes=len(records),
        n_failures=n_fail,
        n_censored=len(records) - n_fail,
        n_imputed=0,
        loglike=float(res.llf) if res is not None else None,
        converged=bool(res.mle_retvals.get("converged", False)) if res is not None else False,
        decisions=decisions,
        free_fit=free_fit,
    )
    _add_derived(fit)
    if records and usable:
        fit.linearized = linearized_table(records, law, fit.theta())
    return fit


def _identifiable(
    law: DamageLaw,
    priors: Mapping[str, Prior],
    n_fail: int,
    min_failures_shape: int,
    min_failures_sigma: int,
) -> tuple[list[str], list[str]]:
    """The parameters enough failures can identify, and a decision for each one held instead."""
    decisions: list[str] = []
    free: list[str] = []
    if n_fail >= 1:
        free.append("log_eta")
        if n_fail >= min_failures_sigma:
            free.append("log_sigma")
        else:
            decisions.append(
                f"sigma held at the prior {law.sigma_prior.value:g}: {n_fail} failure(s) < "
                f"{min_failures_sigma} needed to estimate the life scatter"
            )
        if n_fail >= min_failures_shape:
            free = list(priors) + free
        else:
            decisions.extend(
                f"{k} held at the prior {p.value:g}: {n_fail} failure(s) < {min_failures_shape} "
                "needed to identify a shape parameter"
                for k, p in priors.items()
            )
    return free, decisions


def _fit_believed(
    records: Sequence[LifeRecord],
    law: DamageLaw,
    priors: Mapping[str, Prior],
    free: list[str],
    fixed: Mapping[str, float],
    free_fit: dict[str, dict[str, float]],
    decisions: list[str],
) -> tuple[Any, np.ndarray, np.ndarray, list[str]]:
    """Maximum-likelihood fit of ``free``, refitted without the shape parameters whose estimate
    is not believed until none is left out; those go to ``free_fit`` and ``decisions``.

    Returns the results, standard errors, covariance and the parameters finally fitted.
    """
    while True:
        model = CensoredLifeModel(
            records, law, free, {k: v for k, v in fixed.items() if k not in free}
        )
        th0 = {**fixed}
        th0["log_eta"] = _start_log_eta(model, {**fixed, "log_eta": 0.0})
        start = np.array([th0[k] for k in free])
        res, bse, cov = _run(model, start)
        converged = bool(res.mle_retvals.get("converged", False))
        rejected = []
        for j, name in enumerate(free):
            if name not in priors:
                continue
            prior = priors[name]
            est, se = float(res.params[j]), float(bse[j])
            why = _why_held(prior, est, se, converged)
            if why:
                rejected.append(name)
                free_fit[name] = {
                    "value": est,
                    "se": se,
                    "ci_low": est - Z95 * se if np.isfinite(se) else float("nan"),
                    "ci_high": est + Z95 * se if np.isfinite(se) else float("nan"),
                }
                decisions.append(f"{name} held at the prior {prior.value:g}: {why}")
        if not rejected:
            return res, bse, cov, free
        free = [k for k in free if k not in rejected]


def _why_held(prior: Prior, est: float, se: float, converged: bool) -> str | None:
    """Why a shape estimate is not believed over its literature prior (None: it is believed)."""
    if not converged:
        return "the likelihood did not converge"
    if not np.isfinite(se) or se <= 0:
        return "its standard error is not finite (flat likelihood)"
    if not prior.bounds[0] <= est <= prior.bounds[1]:
        return f"the estimate {est:.3g} is outside the plausible range {prior.bounds}"
    if se > prior.sd:
        return f"the data pin it to ±{se:.3g} (1 se), no better than the literature ±{prior.sd:g}"
    return None


def _far_from_literature(
    priors: Mapping[str, Prior], params: Mapping[str, ParamEstimate]
) -> list[str]:
    """A warning for every fitted shape parameter more than 2 prior sd from the literature."""
    out = []
    for name, prior in priors.items():
        p = params[name]
        if p.status == "fitted" and abs(p.value - prior.value) > 2 * prior.sd:
            out.append(
                f"warning: fitted {name} = {p.value:.3g} is {abs(p.value - prior.value) / prior.sd:.1f} "
                f"prior sd from the literature {prior.value:g}; before extrapolating, check for a "
                "confounder (few machines, or a failure threshold that depends on the operating "
                "point) — the interval covers noise, not bias"
            )
    return out


def _estimates(
    law: DamageLaw,
    priors: Mapping[str, Prior],
    free: Sequence[str],
    fixed: Mapping[str, float],
    res: Any,
    bse: np.ndarray,
    n_fail: int,
) -> dict[str, ParamEstimate]:
    out: dict[str, ParamEstimate] = {}
    ci = np.asarray(res.conf_int(alpha=0.05)) if res is not None else None
    units = {"log_eta": f"log({law.exposure_unit})", "log_sigma": "log(1)"}
    shape_units = {"ea_ev": "eV", "alpha": "1", "life_exponent_p": "1", "load_exponent_b": "1"}
    all_priors: dict[str, Prior | None] = dict(priors)
    all_priors["log_sigma"] = Prior(
        math.log(law.sigma_prior.value),
        law.sigma_prior.sd / law.sigma_prior.value,
        law.sigma_prior.source,
    )
    all_priors["log_eta"] = law.log_eta_prior
    for name in [*priors, "log_eta", "log_sigma"]:
        prior = all_priors[name]
        unit = shape_units.get(name, units.get(name, ""))
        if res is not None and name in free:
            j = list(free).index(name)
            out[name] = ParamEstimate(
                name,
                float(res.params[j]),
                float(bse[j]),
                float(ci[j, 0]),
                float(ci[j, 1]),
                "fitted",
                unit,
                prior.value if prior else None,
                prior.sd if prior else None,
                prior.source if prior else "",
            )
        elif prior is not None:
            value = fixed.get(name, prior.value)
            out[name] = ParamEstimate(
                name,
                value,
                None,
                value - Z95 * prior.sd,
                value + Z95 * prior.sd,
                "prior",
                unit,
                prior.value,
                prior.sd,
                prior.source,
            )
        else:
            out[name] = ParamEstimate(
                name,
                float("nan"),
                None,
                None,
                None,
                "unidentified",
                unit,
                None,
                None,
                "no failure and no literature value",
            )
    return out
