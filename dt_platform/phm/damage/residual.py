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
