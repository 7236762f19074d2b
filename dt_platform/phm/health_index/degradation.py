"""The exponential degradation law with fleet priors: learned from complete runs, updated per
unit, extrapolated to the failure threshold for the RUL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm

from dt_platform.phm.health_index.conjugate import _row_quantiles, _suff_stats, conjugate_update
from dt_platform.phm.health_index.index import HI
from dt_platform.phm.unit_rows import predict_per_unit

MIN_LIFE_SHARE = 0.25
"""Shortest run, as a share of the fleet's median life, that enters the fleet prior."""


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
            "DegradationModel.fit: need at least 3 run-to-failure units with ≥ 5 rows each and "
            f"a run of at least {MIN_LIFE_SHARE:.0%} of the median life."
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
    """Fleet-prior exponential degradation model on a health index.

    The method is described in :mod:`dt_platform.phm.health_index`.
    """

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
        # A run shorter than MIN_LIFE_SHARE of the median life sees too little of the curve to
        # place it: its (a, b) are extrapolations far outside the fleet's, and one such unit
        # would set the prior's mean and spread by itself. It is left out, median life included.
        kept = lives.filter(pl.col("life") >= MIN_LIFE_SHARE * life_scale)
        left_out = sorted(set(lives[unit].to_list()) - set(kept[unit].to_list()))
        if left_out:
            data = data.filter(pl.col(unit).is_in(kept[unit].implode()))
            life_scale = float(np.median(kept["life"].to_numpy()))
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
            fleet={"units": fleet_units, **({"left_out": left_out} if left_out else {})},
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
        return predict_per_unit(
            frame,
            lambda part: self.predict_unit(
                part[time].cast(pl.Float64).to_numpy(), part[hi].to_numpy()
            ),
            unit=unit,
            time=time,
            hi=hi,
            names=("rul_phys", "rul_phys_lo", "rul_phys_hi", "rul_phys_mean"),
            last_only=last_only,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DegradationModel:
        return cls(**data)
