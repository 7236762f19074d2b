"""Remaining life given survival so far, its Monte-Carlo interval and the per-machine random stream."""

from __future__ import annotations

import math
import zlib

import numpy as np

from dt_platform.phm import physics

N_DRAWS = 300
INTERVAL = (5.0, 95.0)


def _residual(
    exposure: np.ndarray, log_eta: np.ndarray, sigma: np.ndarray, u: np.ndarray, dist: str
) -> np.ndarray:
    """Remaining exposure at quantile ``u`` of the life given survival to ``exposure``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (np.log(np.maximum(exposure, 1e-300)) - log_eta) / sigma
        f = physics.std_cdf(dist, z)  # type: ignore[arg-type]
        q = f + u * (1.0 - f)
        life = np.exp(log_eta + sigma * physics.std_ppf(dist, q))  # type: ignore[arg-type]
    return np.maximum(life - exposure, 0.0)


def _interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise 5 % and 95 % order statistics; a draw that never fails (inf/NaN) sorts last."""
    x = np.sort(np.where(np.isfinite(draws), draws, np.inf), axis=-1)
    n = x.shape[-1]
    lo = x[..., math.floor(INTERVAL[0] / 100 * (n - 1))]
    hi = x[..., math.ceil(INTERVAL[1] / 100 * (n - 1))]
    return np.where(np.isfinite(lo), lo, np.nan), np.where(np.isfinite(hi), hi, np.nan)


def _rng(machine_id: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(machine_id.encode())])


def _equilibrium_residual(
    observed: np.ndarray, log_eta: np.ndarray, sigma: np.ndarray, u: np.ndarray, dist: str
) -> np.ndarray:
    """Remaining exposure at quantile ``u`` of a component of unknown age that was in service
    when the data began and has since survived ``observed`` exposure.

    Its remaining life at the first data is the equilibrium residual of the life law
    (:func:`~dt_platform.phm.physics.distributions.std_equilibrium_sf`: a part found running in a
    line that has replaced it at failure for years is a draw from that renewal process, not the
    machine's original part). Given survival through ``observed``, the residual ``r`` solves
    ``S_e(observed + r) = (1 − u)·S_e(observed)``; solved by bisection on the log scale.
    Broadcasts like :func:`_residual`.
    """
    observed, log_eta, sigma, u = np.broadcast_arrays(
        np.asarray(observed, dtype=np.float64), log_eta, sigma, u
    )

    def sf(log_x: np.ndarray) -> np.ndarray:
        return physics.std_equilibrium_sf(dist, (log_x - log_eta) / sigma, sigma)  # type: ignore[arg-type]

    with np.errstate(divide="ignore"):
        log_c = np.log(np.maximum(observed, 0.0))
    target = (1.0 - u) * np.where(observed > 0, sf(log_c), 1.0)
    # bracket the log of (observed + r) between the observed exposure and far past any life
    lo = np.where(observed > 0, log_c, log_eta - 40.0 * sigma)
    hi = log_eta + 40.0 * sigma
    hi = np.maximum(hi, lo + 1.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = sf(mid) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.maximum(np.exp(0.5 * (lo + hi)) - np.maximum(observed, 0.0), 0.0)
