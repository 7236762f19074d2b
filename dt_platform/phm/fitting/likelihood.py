"""The censored log-location-scale likelihood of component lives under one damage law."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from statsmodels.base.model import GenericLikelihoodModel

from dt_platform.phm import physics
from dt_platform.phm.episodes import LifeRecord
from dt_platform.phm.physics import DamageLaw


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
