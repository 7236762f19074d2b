"""Standardized log-life distributions (lognormal, and smallest extreme value for Weibull lives)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Distribution = Literal["lognormal", "weibull"]


def std_logsf(dist: Distribution, z: np.ndarray) -> np.ndarray:
    """log P(Z > z) of the standardized log-life (normal, or smallest extreme value for Weibull)."""
    from scipy import special

    if dist == "lognormal":
        return special.log_ndtr(-z)
    return -np.exp(z)


def std_logpdf(dist: Distribution, z: np.ndarray) -> np.ndarray:
    if dist == "lognormal":
        return -0.5 * z * z - 0.5 * math.log(2.0 * math.pi)
    return z - np.exp(z)


def std_cdf(dist: Distribution, z: np.ndarray) -> np.ndarray:
    from scipy import special

    if dist == "lognormal":
        return special.ndtr(z)
    return -np.expm1(-np.exp(z))


def std_ppf(dist: Distribution, q: np.ndarray) -> np.ndarray:
    from scipy import special

    q = np.clip(q, 1e-15, 1.0 - 1e-15)
    if dist == "lognormal":
        return special.ndtri(q)
    return np.log(-np.log1p(-q))


def std_equilibrium_sf(dist: Distribution, z: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Survival of the *equilibrium* residual life at standardized log-exposure ``z``.

    A component found in service at a random moment of a long-running renewal process (parts
    replaced at failure, again and again) has lived an unknown part of its life; its remaining
    life R has survival ``P(R > x) = E[(L − x)⁺] / E[L]`` (Cox 1962, *Renewal Theory*, §5.2; the
    inspection paradox). With ``z = (ln x − μ) / σ``:

    * lognormal: ``Φ(σ − z) − exp(σz − σ²/2)·Φ(−z)``;
    * Weibull (shape ``1/σ``): ``Q(σ, e^z)``, the regularized upper incomplete gamma function.
    """
    from scipy import special

    z = np.asarray(z, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if dist == "lognormal":
        with np.errstate(over="ignore", invalid="ignore"):
            tail = np.exp(sigma * z - 0.5 * sigma * sigma + special.log_ndtr(-z))
        return np.clip(special.ndtr(sigma - z) - np.nan_to_num(tail, nan=0.0), 0.0, 1.0)
    with np.errstate(over="ignore"):
        return special.gammaincc(sigma, np.exp(z))
