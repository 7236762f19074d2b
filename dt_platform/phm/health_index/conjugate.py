"""Closed-form pieces of the exponential model's posterior: cumulative sufficient statistics of
every prefix, the conjugate update of two coefficients, and row-wise quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
    """Linear-interpolated quantiles of each row ignoring NaN (vectorized ``nanquantile``).

    Ordered by construction: columns are monotone in ``probs`` (in whatever order ``probs`` is
    given), also when a row's values are all equal. ``a·(1−f) + b·f`` can land one ulp above
    ``a == b`` and put a 5 % point above the 95 % point; ``a + (b − a)·f`` cannot, and a running
    maximum over the sorted probabilities removes any remaining rounding.
    """
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = np.isfinite(ordered).sum(axis=1)
    rows = np.arange(len(ordered))
    order = np.argsort(np.asarray(probs, dtype=np.float64), kind="stable")
    out = np.empty((len(ordered), len(probs)))
    for i in order:
        pos = probs[i] * np.clip(count - 1, 0, None)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.clip(count - 1, 0, None))
        low, high = ordered[rows, lo], ordered[rows, hi]
        out[:, i] = low + (high - low) * (pos - lo)
    out[:, order] = np.maximum.accumulate(out[:, order], axis=1)
    return out
