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

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import statsmodels.api as sm
from statsmodels.base.model import GenericLikelihoodModel
from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

from dt_platform.jsonable import json_default
from dt_platform.phm import physics
from dt_platform.phm.episodes import Episode, History, LifeRecord, MachineStress, episodes
from dt_platform.phm.physics import LAWS, PARIS_M_PRIOR, DamageLaw, Prior

MIN_FAILURES_SIGMA = 5
MIN_FAILURES_SHAPE = 5
Z95 = 1.959963984540054

# --- the likelihood -----------------------------------------------------------------------------


class CensoredLifeModel(GenericLikelihoodModel):
    """Censored log-location-scale regression of life on a damage law's equivalent stress.

    Parameters are named by ``free`` (a subset of the law's shape names, ``log_eta`` and
    ``log_sigma``); the others are held at ``fixed``.
    """

    def __init__(
        self,
        records: Sequence[LifeRecord],
        law: DamageLaw,
        free: Sequence[str],
        fixed: Mapping[str, float],
    ) -> None:
        if not records:
            raise ValueError(f"{law.machine_type}: no lives to fit")
        self.law = law
        self.free = list(free)
        self.fixed = dict(fixed)
        self.failed = np.array([r.failed for r in records], dtype=bool)
        self.points = np.concatenate([np.atleast_2d(r.points) for r in records], axis=0)
        self.weights = np.concatenate([r.weights for r in records])
        self.index = np.concatenate(
            [np.full(len(r.weights), i, dtype=np.int64) for i, r in enumerate(records)]
        )
        self.n_records = len(records)
        self.extra_var = np.array([r.extra_log_sd**2 for r in records])
        endog = np.log(np.maximum([r.life_h for r in records], 1e-9))
        super().__init__(endog, None, extra_params_names=self.free)
        # no exog: every parameter is an "extra" one, so tell the results how to count them
        self.k_extra = len(self.free)
        self.df_model = 0.0
        self.df_resid = float(self.n_records - len(self.free))

    def theta(self, params: Sequence[float]) -> dict[str, float]:
        out = dict(self.fixed)
        out.update(zip(self.free, (float(p) for p in params), strict=True))
        return out

    def log_exposure(self, theta: Mapping[str, float]) -> np.ndarray:
        k = self.law.kernel(self.points, theta)
        e = np.bincount(self.index, weights=self.weights * k, minlength=self.n_records)
        return np.log(np.maximum(e, 1e-300))

    def loglikeobs(self, params: np.ndarray) -> np.ndarray:
        th = self.theta(params)
        # a life with imputed stress scatters more: its own σ_i² = σ² + extra_i²
        sigma = np.sqrt(math.exp(2.0 * th["log_sigma"]) + self.extra_var)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z = (self.log_exposure(th) - th["log_eta"]) / sigma
            dist = self.law.distribution
            ll = np.where(
                self.failed,
                physics.std_logpdf(dist, z) - np.log(sigma),
                physics.std_logsf(dist, z),
            )
        return np.where(np.isfinite(ll), ll, -1e10)


# --- results ------------------------------------------------------------------------------------


@dataclass
class ParamEstimate:
    """One parameter: value, 95 % interval and whether the data or the literature set it."""

    name: str
    value: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    status: str
    """``fitted`` (estimated from data), ``prior`` (held at the literature value) or ``derived``."""
    unit: str = ""
    prior: float | None = None
    prior_sd: float | None = None
    source: str = ""


@dataclass
class TypeFit:
    """The fitted damage law of one machine type, with its diagnostics; JSON-serializable."""

    machine_type: str
    law: str
    distribution: str
    exposure_unit: str
    usable: bool
    """False when there is neither a failure nor a literature scale: no physics RUL."""
    params: dict[str, ParamEstimate]
    free: list[str]
    cov: list[list[float]]
    """Covariance of the free parameters (order of ``free``), for Monte-Carlo intervals."""
    n_episodes: int
    n_failures: int
    n_censored: int
    n_imputed: int
    """Lives whose stress was partly or wholly imputed (before the first telemetry)."""
    loglike: float | None
    converged: bool
    decisions: list[str] = field(default_factory=list)
    free_fit: dict[str, dict[str, float]] = field(default_factory=dict)
    linearized: list[dict[str, Any]] = field(default_factory=list)
    paris: dict[str, Any] = field(default_factory=dict)
    """cnc only: Paris growth stage (m, growth-exposure prior from past spall onsets)."""

    def value(self, name: str) -> float:
        return self.params[name].value

    def theta(self) -> dict[str, float]:
        """Point values of the shape parameters, log η and log σ."""
        law = LAWS[self.machine_type]
        out = {k: self.value(k) for k in law.shape}
        out["log_eta"] = self.value("log_eta")
        out["log_sigma"] = self.value("log_sigma")
        return out

    def draws(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        """Parameter draws: joint normal for fitted ones, prior normal for held ones."""
        base = self.theta()
        out = [dict(base) for _ in range(n)]
        if self.free:
            cov = np.nan_to_num(np.asarray(self.cov, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
            cov = (cov + cov.T) / 2.0
            mean = np.array([base[k] for k in self.free])
            x = rng.multivariate_normal(mean, cov, size=n, check_valid="ignore", method="eigh")
            for j, name in enumerate(self.free):
                for i in range(n):
                    out[i][name] = float(x[i, j])
        for name, p in self.params.items():
            if p.status == "prior" and name in base and p.prior_sd:
                x = rng.normal(p.value, p.prior_sd, size=n)
                for i in range(n):
                    out[i][name] = float(x[i])
        law = LAWS[self.machine_type]
        for name, prior in law.shape.items():
            lo, hi = prior.bounds
            for d in out:
                d[name] = float(np.clip(d[name], lo, hi))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TypeFit:
        data = dict(data)
        data["params"] = {k: ParamEstimate(**v) for k, v in data["params"].items()}
        return cls(**data)


@dataclass
class FleetPhysics:
    """Fitted damage laws of every simulated machine type; ``version`` hashes the parameters."""

    types: dict[str, TypeFit]
    fitted_until: str
    """ISO time of the end of the history the parameters were fitted on."""

    @property
    def version(self) -> str:
        payload = {
            t: {
                "params": {k: [p.value, p.status, p.se] for k, p in sorted(f.params.items())},
                "cov": f.cov,
                "free": f.free,
                "paris": f.paris,
                "usable": f.usable,
            }
            for t, f in sorted(self.types.items())
        }
        text = json.dumps(payload, sort_keys=True, default=json_default, allow_nan=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "fitted_until": self.fitted_until,
            "types": {t: f.to_dict() for t, f in self.types.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=json_default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetPhysics:
        fleet = cls(
            {t: TypeFit.from_dict(f) for t, f in data["types"].items()}, data["fitted_until"]
        )
        if "version" in data and data["version"] != fleet.version:
            raise ValueError(
                f"fitted physics parameters do not match their version {data['version']} "
                f"(recomputed {fleet.version}): the file was edited or truncated; refit them"
            )
        return fleet

    @classmethod
    def from_json(cls, text: str) -> FleetPhysics:
        return cls.from_dict(json.loads(text))


# --- fitting ------------------------------------------------------------------------------------


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
    """Fit one law to lives; see the module docstring for the fitted-vs-held rules.

    ``shape_prior`` overrides the law's literature priors (e.g. p = 10/3 for a roller-bearing
    fleet read from the registry).
    """
    priors = dict(law.shape)
    priors.update(shape_prior or {})
    n_fail = int(sum(r.failed for r in records))
    decisions: list[str] = []
    fixed: dict[str, float] = {k: p.value for k, p in priors.items()}
    fixed["log_sigma"] = math.log(law.sigma_prior.value)
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
    free_fit: dict[str, dict[str, float]] = {}
    res = None
    bse = cov = np.zeros(0)
    if not records:
        decisions.append("no component lives in the history")
    elif n_fail == 0:
        decisions.append("no failure in the history: the median life cannot be estimated")
    else:
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
                why = None
                if not converged:
                    why = "the likelihood did not converge"
                elif not np.isfinite(se) or se <= 0:
                    why = "its standard error is not finite (flat likelihood)"
                elif not prior.bounds[0] <= est <= prior.bounds[1]:
                    why = f"the estimate {est:.3g} is outside the plausible range {prior.bounds}"
                elif se > prior.sd:
                    why = (
                        f"the data pin it to ±{se:.3g} (1 se), no better than the literature "
                        f"±{prior.sd:g}"
                    )
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
                break
            free = [k for k in free if k not in rejected]
    params = _estimates(law, priors, free, fixed, res, bse, n_fail)
    for name, prior in priors.items():
        p = params[name]
        if p.status == "fitted" and abs(p.value - prior.value) > 2 * prior.sd:
            decisions.append(
                f"warning: fitted {name} = {p.value:.3g} is {abs(p.value - prior.value) / prior.sd:.1f} "
                f"prior sd from the literature {prior.value:g}; before extrapolating, check for a "
                "confounder (few machines, or a failure threshold that depends on the operating "
                "point) — the interval covers noise, not bias"
            )
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


# --- cnc spindle: spall onset and Paris growth --------------------------------------------------

ONSET_MIN_EXCESS_MM_S = 0.04
ONSET_NOISE_FACTOR = 6.0
ONSET_CONSECUTIVE = 3
BASELINE_HOURS = 24


@dataclass(frozen=True)
class Onset:
    """Spall onset on a component's hourly vibration: baseline and first departing hour."""

    baseline: float
    threshold: float
    hour: int | None
    """Index (into the given series) of the first of ``ONSET_CONSECUTIVE`` departing hours."""
    known_at: int | None
    """Index at which the onset becomes known (the last of the consecutive hours)."""


def detect_spall_onset(vibration: np.ndarray) -> Onset | None:
    """Find where vibration departs from its early-life baseline, using only past hours.

    ``vibration`` is the hourly production vibration of one component life (NaN = no data). The
    baseline is the median of its first :data:`BASELINE_HOURS` valid hours; the onset is the
    first of ``ONSET_CONSECUTIVE`` consecutive valid hours above baseline + max(0.04 mm/s,
    6 robust sd). Returns None until the baseline exists. Spall initiation adds κ·a0 ≈ 0.1 mm/s
    at once (ISO 10816 readings resolve that) and then grows, so the step is the early signal.
    """
    v = np.asarray(vibration, dtype=float)
    valid = np.flatnonzero(np.isfinite(v))
    if valid.size < BASELINE_HOURS:
        return None
    base_idx = valid[:BASELINE_HOURS]
    base = v[base_idx]
    baseline = float(np.median(base))
    robust_sd = 1.4826 * float(np.median(np.abs(base - baseline)))
    threshold = baseline + max(ONSET_MIN_EXCESS_MM_S, ONSET_NOISE_FACTOR * robust_sd)
    after = valid[valid > base_idx[-1]]
    above = v[after] > threshold
    run = 0
    for k, flag in enumerate(above):
        run = run + 1 if flag else 0
        if run >= ONSET_CONSECUTIVE:
            return Onset(baseline, threshold, int(after[k - ONSET_CONSECUTIVE + 1]), int(after[k]))
    return Onset(baseline, threshold, None, None)


@dataclass(frozen=True)
class ParisTrend:
    """Linearized Paris growth fitted to vibration excess since onset; extrapolated to the limit."""

    beta0: float
    beta1: float
    cov: np.ndarray
    n: int
    s_fail: float
    """Paris exposure (since onset) at which vibration reaches the ISO 10816 limit."""
    usable: bool


def fit_paris_trend(
    excess: np.ndarray, s: np.ndarray, limit_excess: float, m: float = PARIS_M_PRIOR.value
) -> ParisTrend | None:
    """OLS of the Paris-linearized vibration excess on Paris exposure since onset.

    g(y) = y^(1−m/2) (log y for m = 2) is linear in S = Σ Mrev·(P/C)^m; failure when g reaches
    g(limit). Standard errors are HAC (Newey-West) from 8 points on. Usable only if the slope
    points toward the limit with |t| > 2.
    """
    ok = np.isfinite(excess) & np.isfinite(s) & (excess > 0)
    if ok.sum() < 3 or np.ptp(s[ok]) <= 0:
        return None
    g = physics.paris_linearized(excess[ok], m)
    x = sm.add_constant(s[ok], has_constant="add")
    n = int(ok.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # hourly residuals are autocorrelated (the spall does not grow by the hour): HAC errors
        if n >= 8:
            res = sm.OLS(g, x).fit(cov_type="HAC", cov_kwds={"maxlags": min(12, n // 4)})
        else:
            res = sm.OLS(g, x).fit()
    b0, b1 = float(res.params[0]), float(res.params[1])
    g_lim = float(physics.paris_linearized(np.array([limit_excess]), m)[0])
    towards = (g_lim - b0) * b1 > 0
    t = b1 / float(res.bse[1]) if res.bse[1] > 0 else 0.0
    significant = abs(t) > 2.0 and towards
    s_fail = (g_lim - b0) / b1 if b1 != 0 else float("inf")
    return ParisTrend(b0, b1, np.asarray(res.cov_params()), n, float(s_fail), bool(significant))


def paris_exposure_hourly(stress: MachineStress, m: float) -> np.ndarray:
    """Σ Mrev·(P/C)^m per hour of a cnc machine (observed hours; 0 elsewhere)."""
    law = LAWS["cnc_spindle"]
    return stress.matrix @ law.kernel(stress.points, {"life_exponent_p": m})


def _growth_prior(history: History, eps: Sequence[Episode], m: float) -> dict[str, Any]:
    """Paris exposure from detected spall onset to failure, over the fleet's observed failures."""
    samples, hours = [], []
    for ep in eps:
        if not ep.failed:
            continue
        stress = history.stress.get(ep.machine_id)
        if stress is None:
            continue
        lo = max(int(ep.start.timestamp() // 3600) - stress.hour0, 0)
        hi = min(math.ceil(ep.end.timestamp() / 3600) - stress.hour0, stress.n_hours)
        if hi - lo < BASELINE_HOURS + ONSET_CONSECUTIVE:
            continue
        onset = detect_spall_onset(stress.vibration[lo:hi])
        if onset is None or onset.hour is None:
            continue
        s = paris_exposure_hourly(stress, m)[lo + onset.hour : hi]
        samples.append(float(s.sum()))
        hours.append(hi - lo - onset.hour)
    logs = np.log(np.maximum(samples, 1e-12))
    return {
        "m": m,
        "m_status": "prior",
        "m_source": PARIS_M_PRIOR.source,
        "m_prior_sd": PARIS_M_PRIOR.sd,
        "n_growth": len(samples),
        "growth_log_mean": float(np.mean(logs)) if samples else None,
        "growth_log_sd": float(max(np.std(logs, ddof=1), 0.2))
        if len(samples) >= 2
        else (0.5 if samples else None),
        "growth_hours_observed": hours,
        "onset_rule": (
            f"median of first {BASELINE_HOURS} production hours + max({ONSET_MIN_EXCESS_MM_S} mm/s, "
            f"{ONSET_NOISE_FACTOR:g} robust sd), {ONSET_CONSECUTIVE} consecutive hours"
        ),
        "limit_mm_s": physics.ISO_10816_3_LIMIT_MM_S,
    }


# --- the fleet ----------------------------------------------------------------------------------


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
