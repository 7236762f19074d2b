"""servo drive: the Vce(on) rise of a module that was already in service when the telemetry
began, read from the shape of its trend.

Such a module has no Vce(on) of its own when new: :func:`~.vce.vce_indicator` measures the rise
against the life's first hours, which happened before the data. Under the fleet's growth law
(:func:`~.vce.fit_vce_law`, ``indicator = a·f^k``) its corrected ln Vce(on) follows

    y(e) = c + β · (E0 + e)^k

with ``e`` the exposure since the first hour of the data (known), ``E0`` the exposure the module
had spent before it (unknown), ``c`` its ln Vce(on) when new and ``β = r·a / L^k`` (``r`` the
limit rise, ``L`` the exposure of its whole life; ln(1 + r·x) is taken as r·x, 2 % off at the
limit). For a given ``E0`` the model is linear in ``(c, β)``. Over a grid of ``E0`` every hour's
least-squares fit comes from running sums of the hours so far (causal), and the residual sum of
squares across the grid is the evidence on ``E0``: a rise that curves sharply says the module
is young, one that runs straight says it has a long way behind it. A straight rise fits every
``E0`` about equally well; then the weights stay spread and so do the remaining lives drawn
from them.

The weights are a profile likelihood with the residual variance of the best fit. The hourly
residuals are not independent (the temperature correction leaves hours of the same shift alike),
so each counts as 1 / :data:`BLOCK_HOURS` of an observation: the evidence of a day, not of 24
independent readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dt_platform.phm.fitting.vce import MIN_HOURS, SMOOTH_HOURS

GRID_POINTS = 81
GRID_MAX = 2.0
"""``E0`` is searched from 0 to this many times the type's characteristic life exposure."""
BLOCK_HOURS = SMOOTH_HOURS
"""Hours of residuals that count as one observation (see the module docs)."""


@dataclass(frozen=True)
class VceTrend:
    """Per hour of one life (from its first hour in the data) and per ``E0`` of the grid."""

    grid: np.ndarray
    """``E0`` values, exposure units."""
    exposure: np.ndarray
    """Exposure since the first hour, per hour."""
    weight: np.ndarray
    """(hours, grid): the evidence on ``E0`` from the hours so far; rows sum to 1, or are all 0
    where there is no fit yet (fewer than :data:`~.vce.MIN_HOURS` measured hours) or no fit
    with a rising Vce(on)."""
    level: np.ndarray
    """(hours, grid): the fitted ln Vce(on) at the hour above the module's value when new."""
    seen: np.ndarray
    """(hours, grid): how much of that rise the data themselves show (since their first
    measured hour)."""

    def point(self, hour: int) -> int | None:
        """Grid index of the weighted median ``E0`` at ``hour``; None without a fit."""
        return self.quantile_index(hour, np.array([0.5]))[0] if self.weight[hour].any() else None

    def quantile_index(self, hour: int, u: np.ndarray) -> np.ndarray:
        """Grid indices at the weight quantiles ``u`` (draws of ``E0``)."""
        cdf = np.cumsum(self.weight[hour])
        return np.minimum(np.searchsorted(cdf, u * cdf[-1]), self.grid.size - 1)


def vce_trend(corrected: np.ndarray, exposure: np.ndarray, k: float, scale: float) -> VceTrend:
    """The trend fits of one life: ``corrected`` ln Vce(on) per hour (NaN where not measured),
    ``exposure`` the cumulative exposure at the end of each hour, ``k`` the growth law's
    exponent, ``scale`` the type's characteristic life exposure (the grid's unit)."""
    y = np.asarray(corrected, dtype=float)
    e = np.asarray(exposure, dtype=float)
    e = e - e[0] if e.size else e
    grid = scale * np.linspace(0.0, GRID_MAX, GRID_POINTS)
    shape = (y.size, grid.size)
    ok = np.isfinite(y) & np.isfinite(e)
    if not ok.any():
        empty = np.zeros(shape)
        return VceTrend(grid, e, empty, empty.copy(), empty.copy())
    x = ((grid[None, :] + np.where(ok, e, 0.0)[:, None]) / scale) ** k
    yc = np.where(ok, y - y[ok][0], 0.0)[:, None]  # centred: running sums without cancellation
    w = ok[:, None].astype(float)
    n, sx, sxx, sy, sxy, syy = (
        np.cumsum(v, axis=0) for v in (w, w * x, w * x * x, yc, yc * x, yc * yc)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = n * sxx - sx * sx
        beta = (n * sxy - sx * sy) / spread
        c = (sy - beta * sx) / n
        sse = np.maximum(syy - c * sy - beta * sxy, 0.0)
        fitted = (n >= MIN_HOURS) & (spread > 1e-12 * n * n) & np.isfinite(beta)
        best = np.where(fitted, sse, np.inf).min(axis=1, keepdims=True)
        sigma2 = np.maximum(best / np.maximum(n[:, :1] - 3.0, 1.0), 1e-18)
        loglik = -(sse - best) / (2.0 * BLOCK_HOURS * sigma2)
    usable = fitted & (beta > 0) & np.isfinite(loglik)
    weight = np.where(usable, np.exp(np.where(usable, loglik, 0.0)), 0.0)
    total = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, total, out=np.zeros(shape), where=total > 0)
    first = int(np.flatnonzero(ok)[0])
    # the fitted rise above the value when new: beta·(E0 + e)^k, at the hour's own exposure
    x_now = ((grid[None, :] + e[:, None]) / scale) ** k
    beta = np.where(fitted, beta, 0.0)
    level = beta * x_now
    seen = beta * (x_now - x[first][None, :])
    return VceTrend(grid, e, weight, level, seen)
