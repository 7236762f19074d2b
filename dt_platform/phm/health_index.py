"""The degradation-model ("physics") branch for machines without first-principles physics.

C-MAPSS gives 21 anonymous sensors and no damage law, so the branch models *degradation*
instead: a health index summarizes the sensors, and a degradation model on that index gives the
RUL. Two degradation models are available (:class:`PhysicsBranch` ``method``): the exponential
law with fleet-learned priors described below, and trajectory similarity to the fleet's
run-to-failure curves (:mod:`dt_platform.phm.similarity`).

Method
------
1. **Health index (HI).** On regime-normalized sensors (see :mod:`dt_platform.phm.features`), an
   OLS map (statsmodels) is fitted on training units: rows in the first ``healthy_frac`` of a
   unit's life get target 1, rows in its last ``failed_frac`` get 0, the middle is left out so
   the map learns "healthy vs. worn" rather than "how far along". Applied to every row this gives
   HI(t), ≈1 when new and ≈0 at failure. Sensors must move with wear on the fleet
   (|corr with life fraction| ≥ ``min_corr``) to enter the map.
2. **Degradation law.** Per unit, ``HI(τ) = a − b·(exp(c·τ) − 1) + ε``, with ``τ = t / L``
   service age in units of the fleet's median life ``L`` and ε ~ N(0, σ²) i.i.d. The law is
   flat early and accelerates later, the shape of fatigue / wear-out (and of C-MAPSS HPC
   degradation). For a fixed rate ``c`` it is linear in ``(a, b)``.
3. **Fleet priors (empirical Bayes).** Each training unit's complete run is fitted (OLS profile
   over a grid of ``c``; statsmodels OLS at the best ``c``). That gives the prior on ``c``
   (log-normal, discretized on the grid), the prior N(μ_c, Σ_c) of ``(a, b)`` at every grid ``c``
   (fleet spread of the unit fits at that rate, so the b–c coupling is kept), the noise σ², and
   the failure threshold: the fitted HI at end of life, N(μ_thr, s_thr²).
4. **Update for a running unit.** For every grid ``c`` the Gaussian prior on ``(a, b)`` is
   updated in closed form with the unit's history (conjugate Bayesian linear regression; equal
   to statsmodels WLS with the prior added as pseudo-observations, which a test checks), and
   ``c`` gets posterior weight ∝ prior × marginal likelihood. Sufficient statistics are
   cumulative sums, so every prefix of a unit's history (every possible "now") costs O(1).
5. **RUL.** Draws of (c, a, b, threshold) give the failure time ``τ* = ln(1 + (a − thr)/b) / c``;
   draws with τ* before "now" contradict the unit still running and are dropped (conditioning on
   survival). The median of ``(τ* − τ_now)·L`` is ``rul_phys``, its 5 % / 95 % quantiles the
   interval. Common random numbers make the draws a deterministic function of the posterior.

Assumptions: one dominant, monotone degradation mode (true for FD001/FD002; FD003/FD004 mix two
modes and the HI then averages them); noise independent in time; failure when the HI crosses a
fleet-typical threshold; the test units come from the same population as the training fleet.
Early in life the data barely constrain ``b`` and ``c`` and the RUL falls back to the fleet prior
(wide interval) — the estimate is *not* capped, so it can exceed the ML branch's cap when the data
say the unit is healthy. All parameters come from training data only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm

from dt_platform.phm.features import SensorNormalizer
from dt_platform.phm.similarity import SimilarityModel

HI = "hi"


def _life_fraction(frame: pl.DataFrame, unit: str, time: str) -> pl.DataFrame:
    t0 = pl.col(time).cast(pl.Float64).first().over(unit)
    t_end = pl.col(time).cast(pl.Float64).last().over(unit)
    return frame.sort([unit, time]).with_columns(
        ((pl.col(time).cast(pl.Float64) - t0) / pl.max_horizontal(t_end - t0, pl.lit(1.0))).alias(
            "__frac"
        ),
        (t_end - pl.col(time).cast(pl.Float64)).alias("__rul"),
    )


@dataclass
class HealthIndex:
    """Linear health index on normalized sensors, fitted with statsmodels OLS on training units."""

    sensors: list[str]
    intercept: float
    coef: list[float]
    stderr: list[float]
    normalizer: SensorNormalizer

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        *,
        unit: str,
        time: str,
        normalizer: SensorNormalizer,
        healthy_frac: float = 0.2,
        failed_frac: float = 0.05,
        min_corr: float = 0.3,
    ) -> HealthIndex:
        """Fit on complete run-to-failure units (each unit's last row is its failure)."""
        if not 0 < healthy_frac < 1 - failed_frac < 1:
            raise ValueError("need 0 < healthy_frac < 1 - failed_frac < 1 (e.g. 0.2 and 0.05).")
        data = normalizer.transform(_life_fraction(train, unit, time))
        frac = data["__frac"].to_numpy()
        sensors = []
        for s in normalizer.sensors:
            v = data[s].to_numpy()
            ok = np.isfinite(v)
            if ok.sum() > 2 and abs(np.corrcoef(v[ok], frac[ok])[0, 1]) >= min_corr:
                sensors.append(s)
        if not sensors:
            raise ValueError(
                f"HealthIndex.fit: no sensor correlates with life fraction by ≥ {min_corr}; "
                "the training units show no monotone degradation, lower min_corr."
            )
        rows = data.filter(
            (pl.col("__frac") <= healthy_frac) | (pl.col("__frac") >= 1 - failed_frac)
        )
        rows = rows.drop_nulls(sensors)
        y = (rows["__frac"].to_numpy() <= healthy_frac).astype(np.float64)
        x = sm.add_constant(rows.select(sensors).to_numpy(), has_constant="add")
        fit = sm.OLS(y, x).fit()
        return cls(
            sensors=sensors,
            intercept=float(fit.params[0]),
            coef=[float(v) for v in fit.params[1:]],
            stderr=[float(v) for v in fit.bse[1:]],
            normalizer=normalizer,
        )

    def transform(self, frame: pl.DataFrame, *, name: str = HI) -> pl.DataFrame:
        """``frame`` with a column ``name`` holding the health index of every row."""
        normalized = self.normalizer.transform(frame)
        values = normalized.select(self.sensors).cast(pl.Float64).to_numpy()
        # A missing reading counts as its regime mean (z = 0): no evidence of wear either way.
        hi = self.intercept + np.nan_to_num(values, nan=0.0) @ np.asarray(self.coef)
        return frame.with_columns(pl.Series(name, hi, dtype=pl.Float64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensors": self.sensors,
            "intercept": self.intercept,
            "coef": self.coef,
            "stderr": self.stderr,
            "normalizer": self.normalizer.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthIndex:
        data = dict(data)
        data["normalizer"] = SensorNormalizer.from_dict(data["normalizer"])
        return cls(**data)


# --- exponential degradation model with fleet priors --------------------------------------------


def _suff_stats(tau: np.ndarray, h: np.ndarray, rates: np.ndarray) -> dict[str, np.ndarray]:
    """Cumulative sufficient statistics of y = a·1 + b·(−g), g = exp(c·τ) − 1, for every prefix."""
    g = np.expm1(np.outer(tau, rates))  # (n, k)
    x2 = -g
    return {
        "n": np.arange(1, len(tau) + 1, dtype=np.float64)[:, None],
        "s2": np.cumsum(x2, axis=0),
        "s22": np.cumsum(x2 * x2, axis=0),
        "sy": np.cumsum(h)[:, None],
        "s2y": np.cumsum(x2 * h[:, None], axis=0),
        "syy": np.cumsum(h * h)[:, None],
    }


def _inv2(m11: np.ndarray, m12: np.ndarray, m22: np.ndarray) -> tuple[np.ndarray, ...]:
    det = m11 * m22 - m12 * m12
    return m22 / det, -m12 / det, m11 / det, det


def conjugate_update(
    xtx: np.ndarray,
    xty: np.ndarray,
    yty: np.ndarray,
    n: np.ndarray,
    prior_mean: np.ndarray,
    prior_cov: np.ndarray,
    sigma2: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian posterior of 2 regression coefficients and the log marginal likelihood.

    Shapes broadcast over leading axes: ``xtx`` (..., 2, 2), ``xty`` (..., 2), ``yty``/``n``
    (...), ``prior_mean`` (..., 2), ``prior_cov`` (..., 2, 2). Returns ``(mean, cov, log_ml)``.
    """
    p11, p12, p22, pdet = _inv2(prior_cov[..., 0, 0], prior_cov[..., 0, 1], prior_cov[..., 1, 1])
    l11 = p11 + xtx[..., 0, 0] / sigma2
    l12 = p12 + xtx[..., 0, 1] / sigma2
    l22 = p22 + xtx[..., 1, 1] / sigma2
    r1 = p11 * prior_mean[..., 0] + p12 * prior_mean[..., 1] + xty[..., 0] / sigma2
    r2 = p12 * prior_mean[..., 0] + p22 * prior_mean[..., 1] + xty[..., 1] / sigma2
    c11, c12, c22, ldet = _inv2(l11, l12, l22)
    m1 = c11 * r1 + c12 * r2
    m2 = c12 * r1 + c22 * r2
    quad_prior = (
        p11 * prior_mean[..., 0] ** 2
        + 2 * p12 * prior_mean[..., 0] * prior_mean[..., 1]
        + p22 * prior_mean[..., 1] ** 2
    )
    quad_post = l11 * m1 * m1 + 2 * l12 * m1 * m2 + l22 * m2 * m2
    log_ml = -0.5 * (
        n * np.log(2 * np.pi * sigma2)
        + np.log(pdet)
        + np.log(ldet)
        + yty / sigma2
        + quad_prior
        - quad_post
    )
    mean = np.stack([m1, m2], axis=-1)
    cov = np.stack([np.stack([c11, c12], -1), np.stack([c12, c22], -1)], -2)
    return mean, cov, log_ml


def _row_quantiles(values: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """Linear-interpolated quantiles of each row ignoring NaN (vectorized ``nanquantile``)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = np.isfinite(ordered).sum(axis=1)
    rows = np.arange(len(ordered))
    out = np.empty((len(ordered), len(probs)))
    for i, p in enumerate(probs):
        pos = p * np.clip(count - 1, 0, None)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.clip(count - 1, 0, None))
        frac = pos - lo
        out[:, i] = ordered[rows, lo] * (1 - frac) + ordered[rows, hi] * frac
    return out


def _unit_curves(
    data: pl.DataFrame, unit: str, time: str, hi: str, life_scale: float, rates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[float], list[Any]]:
    """Each training unit's complete run fitted at every grid rate (closed form in ``(a, b)``).

    Returns ``(a, b)`` per unit and rate ``(U, k, 2)``, each unit's best rate index, its end of
    life in ``τ`` and its name; units with fewer than 5 rows are skipped.
    """
    n_rates = len(rates)
    fits_ab = []  # per unit: (k, 2) OLS (a, b) at every rate
    ends, best_idx, names = [], [], []
    for key, part in data.group_by(unit, maintain_order=True):
        t = part[time].cast(pl.Float64).to_numpy()
        tau = (t - t[0]) / life_scale
        h = part[hi].to_numpy().astype(np.float64)
        if len(h) < 5:
            continue
        st = _suff_stats(tau, h, rates)
        xtx = np.stack(
            [
                np.stack([st["n"][-1].repeat(n_rates), st["s2"][-1]], -1),
                np.stack([st["s2"][-1], st["s22"][-1]], -1),
            ],
            -2,
        )
        xty = np.stack([st["sy"][-1].repeat(n_rates), st["s2y"][-1]], -1)
        ab = np.linalg.solve(xtx, xty[..., None])[..., 0]
        resid = st["syy"][-1] - 2 * (ab * xty).sum(-1) + np.einsum("ki,kij,kj->k", ab, xtx, ab)
        fits_ab.append(ab)
        best_idx.append(int(np.argmin(resid)))
        ends.append(float(tau[-1]))
        names.append(key[0])
    if len(fits_ab) < 3:
        raise ValueError(
            "DegradationModel.fit: need at least 3 run-to-failure units with ≥ 5 rows each."
        )
    return np.asarray(fits_ab), np.asarray(best_idx), ends, names


def _unit_ols(
    data: pl.DataFrame,
    unit: str,
    time: str,
    hi: str,
    life_scale: float,
    rates: np.ndarray,
    names: Sequence[Any],
    best_idx: np.ndarray,
    ends: Sequence[float],
) -> tuple[list[dict[str, Any]], list[float], list[float], list[int]]:
    """statsmodels OLS of each unit at its best rate: the unit's record (parameters, standard
    errors, residual scale, life), its failure threshold, residual variance and dof."""
    fleet_units = []
    thresholds, scales, dofs = [], [], []
    parts = dict(iter(data.group_by(unit, maintain_order=True)))
    for name, bi, end in zip(names, best_idx, ends, strict=True):
        part = parts[(name,)]
        t = part[time].cast(pl.Float64).to_numpy()
        tau = (t - t[0]) / life_scale
        x = np.column_stack([np.ones_like(tau), -np.expm1(rates[bi] * tau)])
        res = sm.OLS(part[hi].to_numpy().astype(np.float64), x).fit()
        a, b = (float(v) for v in res.params)
        thresholds.append(a - b * float(np.expm1(rates[bi] * end)))
        scales.append(float(res.scale))
        dofs.append(int(res.df_resid))
        fleet_units.append(
            {
                "unit": name,
                "rate": float(rates[bi]),
                "a": a,
                "b": b,
                "a_se": float(res.bse[0]),
                "b_se": float(res.bse[1]),
                "sigma": float(np.sqrt(res.scale)),
                "life": end * life_scale,
            }
        )
    return fleet_units, thresholds, scales, dofs


@dataclass
class DegradationModel:
    """Fleet-prior exponential degradation model on a health index; see the module docstring."""

    life_scale: float
    rates: list[float]
    log_rate_prior: list[float]
    prior_mean: list[list[float]]
    prior_cov: list[list[list[float]]]
    sigma2: float
    threshold_mean: float
    threshold_std: float
    max_life: float
    n_draws: int = 400
    seed: int = 0
    fleet: dict[str, Any] = field(default_factory=dict)
    """Per-training-unit fits (statsmodels OLS at each unit's best rate), for reports and tests."""

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        *,
        unit: str,
        time: str,
        hi: str = HI,
        n_rates: int = 40,
        rate_range: tuple[float, float] = (0.2, 25.0),
        n_draws: int = 400,
        seed: int = 0,
        prior_inflation: float = 1.5,
    ) -> DegradationModel:
        """Learn the fleet priors from complete run-to-failure units (rows: unit, time, HI).

        ``rate_range`` bounds ``c·L`` (exp growth per median life). ``prior_inflation`` widens
        the fleet spread a little: a new unit may lie outside the training fleet's range.
        """
        data = frame.select(unit, time, hi).drop_nulls().sort([unit, time])
        lives = data.group_by(unit, maintain_order=True).agg(
            (pl.col(time).cast(pl.Float64).last() - pl.col(time).cast(pl.Float64).first()).alias(
                "life"
            )
        )
        life_scale = float(np.median(lives["life"].to_numpy()))
        if life_scale <= 0:
            raise ValueError("DegradationModel.fit: training units need more than one time step.")
        rates = np.geomspace(*rate_range, n_rates)
        fits_ab, best_idx, ends, names = _unit_curves(data, unit, time, hi, life_scale, rates)
        fleet_units, thresholds, scales, dofs = _unit_ols(
            data, unit, time, hi, life_scale, rates, names, best_idx, ends
        )
        sigma2 = float(np.average(scales, weights=dofs))
        log_best = np.log(rates[best_idx])
        mu, sd = float(log_best.mean()), float(max(log_best.std(ddof=1), 0.1)) * prior_inflation
        log_prior = -0.5 * ((np.log(rates) - mu) / sd) ** 2
        log_prior -= np.log(np.exp(log_prior - log_prior.max()).sum()) + log_prior.max()
        prior_mean = fits_ab.mean(axis=0)  # (k, 2)
        centered = fits_ab - prior_mean
        prior_cov = np.einsum("uki,ukj->kij", centered, centered) / (len(fits_ab) - 1)
        prior_cov *= prior_inflation**2
        prior_cov += np.eye(2) * 1e-8
        thr = np.asarray(thresholds)
        return cls(
            life_scale=life_scale,
            rates=rates.tolist(),
            log_rate_prior=log_prior.tolist(),
            prior_mean=prior_mean.tolist(),
            prior_cov=prior_cov.tolist(),
            sigma2=sigma2,
            threshold_mean=float(thr.mean()),
            threshold_std=float(thr.std(ddof=1)),
            max_life=float(max(ends) * life_scale),
            n_draws=n_draws,
            seed=seed,
            fleet={"units": fleet_units},
        )

    # -- posterior per prefix ------------------------------------------------------------------

    def _draws(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        u = (np.arange(self.n_draws) + rng.uniform(size=self.n_draws)) / self.n_draws
        rng.shuffle(u)
        z = rng.standard_normal((self.n_draws, 3))
        return u, z[:, 0], z[:, 1], z[:, 2]

    def posterior(self, tau: np.ndarray, h: np.ndarray) -> dict[str, np.ndarray]:
        """Posterior over (c, a, b) after every prefix of one unit's history (τ sorted)."""
        rates = np.asarray(self.rates)
        st = _suff_stats(tau, h, rates)
        k = len(rates)
        n = st["n"].repeat(k, axis=1)
        xtx = np.stack([np.stack([n, st["s2"]], -1), np.stack([st["s2"], st["s22"]], -1)], -2)
        xty = np.stack([st["sy"].repeat(k, axis=1), st["s2y"]], -1)
        mean, cov, log_ml = conjugate_update(
            xtx,
            xty,
            st["syy"].repeat(k, axis=1),
            n,
            np.asarray(self.prior_mean)[None],
            np.asarray(self.prior_cov)[None],
            self.sigma2,
        )
        logw = log_ml + np.asarray(self.log_rate_prior)[None]
        logw -= logw.max(axis=1, keepdims=True)
        w = np.exp(logw)
        w /= w.sum(axis=1, keepdims=True)
        return {"mean": mean, "cov": cov, "weight": w}

    def predict_unit(self, t: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``(n, 4)``: RUL median, 5 %, 95 % quantile and mean after every prefix of one unit."""
        t = np.asarray(t, dtype=np.float64)
        h = np.asarray(h, dtype=np.float64)
        ok = np.isfinite(h)
        out = np.full((len(t), 4), np.nan)
        if not ok.any():
            return out
        tau_all = (t - t[0]) / self.life_scale
        tau, hh = tau_all[ok], h[ok]
        post = self.posterior(tau, hh)
        u, z1, z2, z3 = self._draws()
        rates = np.asarray(self.rates)
        cdf = np.cumsum(post["weight"], axis=1)  # (n, k)
        idx = np.minimum((cdf[:, None, :] < u[None, :, None]).sum(axis=2), len(rates) - 1)  # (n, S)
        rows = np.arange(len(tau))[:, None]
        m = post["mean"][rows, idx]  # (n, S, 2)
        c = post["cov"][rows, idx]  # (n, S, 2, 2)
        l11 = np.sqrt(np.clip(c[..., 0, 0], 1e-18, None))
        l21 = c[..., 0, 1] / l11
        l22 = np.sqrt(np.clip(c[..., 1, 1] - l21**2, 1e-18, None))
        a = m[..., 0] + l11 * z1
        b = m[..., 1] + l21 * z1 + l22 * z2
        thr = self.threshold_mean + self.threshold_std * z3
        horizon = 3.0 * self.max_life / self.life_scale
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = (a - thr) / b
            tstar = np.log1p(ratio) / rates[idx]
        # b <= 0 (health improving) or a threshold the curve never reaches are not degradation
        # paths; they are dropped like draws that say the unit has already failed although it
        # is still running (conditioning on survival), unless nearly nothing else remains.
        valid = (b > 0) & (ratio > -1) & np.isfinite(tstar)
        tstar = np.clip(np.where(valid, tstar, horizon), 0.0, horizon)
        rul = (tstar - tau[:, None]) * self.life_scale
        keep = valid & (rul > 0)
        enough = keep.mean(axis=1) >= 0.05
        masked = np.where(keep | ~enough[:, None], np.clip(rul, 0.0, None), np.nan)
        q = _row_quantiles(masked, (0.5, 0.05, 0.95))
        mean = np.nanmean(masked, axis=1)
        res = np.column_stack([q, mean])
        # Rows where the HI was missing carry the last valid estimate, shifted by elapsed time.
        filled = np.full((len(t), 4), np.nan)
        filled[ok] = res
        last = np.maximum.accumulate(np.where(ok, np.arange(len(t)), -1))
        gap = np.where(last >= 0, t - t[np.maximum(last, 0)], 0.0)
        valid = last >= 0
        out[valid] = np.clip(filled[last[valid]] - gap[valid, None], 0.0, None)
        return out

    def predict(
        self, frame: pl.DataFrame, *, unit: str, time: str, hi: str = HI, last_only: bool = False
    ) -> pl.DataFrame:
        """RUL of every row (as if "now" were that row) or of each unit's last row.

        Returns ``unit, time, rul_phys, rul_phys_lo, rul_phys_hi, rul_phys_mean`` sorted by unit
        and time; the interval is the 90 % posterior predictive interval.
        """
        data = frame.select(unit, time, hi).sort([unit, time])
        outs = []
        for _, part in data.group_by(unit, maintain_order=True):
            res = self.predict_unit(part[time].cast(pl.Float64).to_numpy(), part[hi].to_numpy())
            block = part.select(unit, time).with_columns(
                pl.Series("rul_phys", res[:, 0]),
                pl.Series("rul_phys_lo", res[:, 1]),
                pl.Series("rul_phys_hi", res[:, 2]),
                pl.Series("rul_phys_mean", res[:, 3]),
            )
            outs.append(block.tail(1) if last_only else block)
        return pl.concat(outs)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DegradationModel:
        return cls(**data)


PHYSICS_METHODS = ("exponential", "similarity")


@dataclass
class PhysicsBranch:
    """Health index + a degradation model on it, fitted together on training units.

    ``method`` picks the degradation model that gives ``rul_phys``:

    ``"exponential"``
        :class:`DegradationModel`: this unit's own health-index history extrapolated by an
        exponential law with fleet priors (empirical Bayes, per-unit posterior).
    ``"similarity"``
        :class:`~dt_platform.phm.similarity.SimilarityModel`: this unit's recent health-index
        trajectory matched against the fleet's complete run-to-failure curves (Wang et al. 2008).

    Both are degradation models on the same health index, uncapped, with a 90 % interval.
    """

    health_index: HealthIndex
    degradation: DegradationModel | None
    unit: str
    time: str
    method: str = "exponential"
    similarity: SimilarityModel | None = None

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        *,
        unit: str,
        time: str,
        normalizer: SensorNormalizer,
        hi_kwargs: dict[str, Any] | None = None,
        degradation_kwargs: dict[str, Any] | None = None,
        method: str = "exponential",
        similarity_kwargs: dict[str, Any] | None = None,
    ) -> PhysicsBranch:
        """Fit the health index, then the chosen degradation model on its values."""
        if method not in PHYSICS_METHODS:
            raise ValueError(
                f"PhysicsBranch: method must be one of {PHYSICS_METHODS}, got {method!r}."
            )
        hi_model = HealthIndex.fit(
            train, unit=unit, time=time, normalizer=normalizer, **(hi_kwargs or {})
        )
        with_hi = hi_model.transform(train)
        if method == "exponential":
            deg = DegradationModel.fit(with_hi, unit=unit, time=time, **(degradation_kwargs or {}))
            return cls(hi_model, deg, unit, time, method)
        sim = SimilarityModel.fit(with_hi, unit=unit, time=time, **(similarity_kwargs or {}))
        return cls(hi_model, None, unit, time, method, sim)

    def predict(self, frame: pl.DataFrame, *, last_only: bool = False) -> pl.DataFrame:
        """``unit, time, hi, rul_phys, rul_phys_lo, rul_phys_hi, rul_phys_mean`` per row."""
        with_hi = self.health_index.transform(frame)
        if self.method == "similarity":
            assert self.similarity is not None
            pred = self.similarity.predict(
                with_hi,
                unit=self.unit,
                time=self.time,
                last_only=last_only,
                names=("rul_phys", "rul_phys_lo", "rul_phys_hi", "rul_phys_mean"),
            )
        else:
            assert self.degradation is not None
            pred = self.degradation.predict(
                with_hi, unit=self.unit, time=self.time, last_only=last_only
            )
        return pred.join(
            with_hi.select(self.unit, self.time, HI), on=[self.unit, self.time], how="left"
        )

    def describe(self) -> str:
        """One line saying what the branch is (benchmarks and reports print it)."""
        model = (
            "trajectory similarity to the fleet's run-to-failure health-index curves"
            if self.method == "similarity"
            else "exponential degradation law with fleet priors, updated per unit"
        )
        return f"degradation model on a health index ({len(self.health_index.sensors)} sensors): {model}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "health_index": self.health_index.to_dict(),
            "degradation": self.degradation.to_dict() if self.degradation else None,
            "unit": self.unit,
            "time": self.time,
            "method": self.method,
            "similarity": self.similarity.to_dict() if self.similarity else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhysicsBranch:
        deg = data.get("degradation")
        sim = data.get("similarity")
        return cls(
            HealthIndex.from_dict(data["health_index"]),
            DegradationModel.from_dict(deg) if deg else None,
            data["unit"],
            data["time"],
            data.get("method", "exponential"),
            SimilarityModel.from_dict(sim) if sim else None,
        )
