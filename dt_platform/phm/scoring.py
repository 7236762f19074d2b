"""Prognostics scores: RMSE, the PHM08 asymmetric score, and interval coverage.

The PHM08 score (Saxena et al. 2008) punishes late predictions (predicted RUL above the truth,
d > 0) harder than early ones, because a late prediction means an unplanned failure:
``s = Σ exp(−d/13) − 1`` for ``d < 0`` and ``Σ exp(d/10) − 1`` otherwise, ``d = predicted − true``.
It is a *sum*, so it grows with the number of units: compare scores on the same test set only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _pair(predicted: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64).ravel()
    t = np.asarray(truth, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"predicted has {p.size} values but truth has {t.size}; align them.")
    if p.size == 0:
        raise ValueError("cannot score an empty set of predictions.")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("predictions and truth must be finite (found NaN or inf).")
    return p, t


def rmse(predicted: Any, truth: Any) -> float:
    """Root-mean-square error."""
    p, t = _pair(predicted, truth)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mae(predicted: Any, truth: Any) -> float:
    """Mean absolute error."""
    p, t = _pair(predicted, truth)
    return float(np.mean(np.abs(p - t)))


def phm08_score(predicted: Any, truth: Any) -> float:
    """PHM08 score: Σ e^(−d/13) − 1 for d < 0, Σ e^(d/10) − 1 for d ≥ 0; d = predicted − true."""
    p, t = _pair(predicted, truth)
    return float(np.sum(phm08_terms(p - t)))


def phm08_terms(errors: Any) -> np.ndarray:
    """Each unit's term of the PHM08 score for its error ``d = predicted − true`` (late errors
    cost more): their sum is :func:`phm08_score`."""
    d = np.asarray(errors, dtype=np.float64)
    return np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))


def coverage(lower: Any, upper: Any, truth: Any) -> float:
    """Share of ``truth`` inside the closed interval ``[lower, upper]``."""
    lo, t = _pair(lower, truth)
    hi, _ = _pair(upper, truth)
    if (lo > hi).any():
        raise ValueError("interval has lower > upper for some rows; check the bound order.")
    return float(np.mean((t >= lo) & (t <= hi)))


def interval_width(lower: Any, upper: Any) -> float:
    """Mean width of the intervals (a coverage is only meaningful next to its width)."""
    lo, hi = _pair(lower, upper)
    return float(np.mean(hi - lo))


def phm08_asymmetry(error: float = 10.0) -> float:
    """How much more the PHM08 score charges a late error than an early one of the same size.

    ``(e^(d/10) − 1) / (e^(d/13) − 1)`` at ``d = error`` cycles: 1.48 at 10 cycles. Used as the
    late/early weight of an asymmetric least-squares fit, it aligns a squared-error fit with
    the score without tuning anything on test data.
    """
    if error <= 0:
        raise ValueError("error must be a positive number of cycles.")
    return float(np.expm1(error / 10.0) / np.expm1(error / 13.0))
