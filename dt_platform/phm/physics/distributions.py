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
