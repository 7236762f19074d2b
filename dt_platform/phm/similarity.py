"""Trajectory-similarity RUL: a fleet degradation model on a health index (Wang et al. 2008).

The per-row XGBoost branch sees trailing-window summaries of the sensors. This branch looks at
the data another way: it compares the *whole recent trajectory* of a unit's health index with
the complete run-to-failure trajectories of the training fleet. Each training unit becomes a
reference curve (its health index, smoothed); a running unit's recent history is slid along
every reference, and where it fits, that reference says how much life was left from that point.
The fleet's answers, weighted by how well each fits, form the RUL distribution. This is the
family of the PHM08 challenge winner (Wang, Yu, Siegel, Lee, "A similarity-based prognostics
approach for remaining useful life estimation of engineered systems", PHM 2008).

Method
------
1. **Reference library.** For each training unit the health index ``h(t)`` is smoothed by a
   least-squares fit of ``a − b·(exp(c·τ) − 1)`` (closed form in ``a, b``, profiled over a grid
   of ``c``; ``τ`` is service age in units of the fleet's median life). Its remaining life at
   every sample is known exactly: ``t_end − t``. The health-index noise variance ``σ²`` is the
   pooled residual variance around those curves.
2. **Matching.** At "now" (sample ``t`` of the running unit) the last ``w`` health-index values
   (``w = min(window, t + 1)``, and never more than the shortest reference) are compared with
   every reference ``r`` ending at every position ``p``:
   ``D(r, p) = Σ_j (h[t−j] − h_r[p−j] − δ)²``. The unit's own level offset ``δ`` (units start
   with different initial wear and manufacturing spread) is integrated out under its fleet prior
   ``N(0, s²)``, ``s²`` the spread of the references' initial levels, which turns ``D`` into
   ``Σ e² − (Σ e)² / (w + σ²T/s²)`` with ``e`` the plain differences (``level_offset=False``
   keeps ``δ = 0``). Every prefix ``t`` and position ``p`` comes out of cumulative sums along
   the diagonals of the difference matrix, so scoring every row of a unit costs about as much
   as scoring its last one.
3. **Weights.** Read as a Gaussian likelihood, a match has log-weight ``−D / (2σ²·T)``.
   ``T`` (``temperature``) tempers it: consecutive residuals are correlated and one reference
   curve is one draw from the fleet, so ``w`` samples carry far less than ``w`` independent
   pieces of evidence. Each reference gets equal prior mass, spread uniformly over its positions;
   its weight is its mean likelihood over positions, its RUL the likelihood-weighted mean (and
   spread) of its remaining life over positions.
4. **RUL.** The references form a Gaussian mixture (component spread: the within-reference
   spread over positions, floored at ``min_spread``); its median is the point estimate, its 5 %
   and 95 % quantiles the 90 % interval, and its mean is reported too.

Properties: causal (the estimate at ``t`` uses samples ``≤ t`` only); not capped (a healthy unit
that matches the early part of long-lived references inherits their long remaining lives);
falls back to the fleet's life distribution when the history is too short to discriminate;
needs only complete run-to-failure units. Assumptions: one dominant degradation mode reflected
in the health index; regular sampling (the window counts samples, remaining lives come from the
references' own time stamps); the running unit belongs to the training fleet's population.

On C-MAPSS FD001 (5-fold unit-grouped CV on the training units, rows with RUL <= 150) this is
the better degradation branch on its own (RMSE 14.1, PHM08 score 3.0 per row, 90 % coverage
0.975 at temperature 3, whole history, level offset; the exponential law: 17.4 / 8.3 / 0.93),
but fused with the XGBoost branch it adds nothing the exponential branch does not: the errors of
both degradation branches are strongly correlated with the XGBoost errors (about 0.6 at RUL
50-150). ``benchmarks/cmapss.py --select`` reproduces the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.special import logsumexp, ndtr

from dt_platform.phm.unit_rows import predict_per_unit

HI = "hi"
SIM_OUT: tuple[str, str, str, str] = ("rul_sim", "rul_sim_lo", "rul_sim_hi", "rul_sim_mean")
BLOCK_CELLS = 200_000
"""Cells per (references × prefixes × offsets) block: small blocks stay in cache."""


def exp_curve(tau: np.ndarray, h: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Least-squares fit of ``a − b·expm1(c·τ)`` to ``h``, best ``c`` of ``rates``; fitted values.

    For a fixed ``c`` the model is linear in ``(a, b)``, so every grid rate is solved in closed
    form and the rate with the smallest residual sum of squares wins.
    """
    g = np.expm1(np.outer(tau, rates))  # (n, k)
    n = len(tau)
    s1, s11 = g.sum(0), (g * g).sum(0)
    sy, s1y = h.sum(), g.T @ h
    det = n * s11 - s1 * s1
    ok = det > 1e-12 * np.maximum(n * s11, 1e-300)
    det = np.where(ok, det, 1.0)
    a = (s11 * sy - s1 * s1y) / det
    slope = (n * s1y - s1 * sy) / det  # coefficient of +g, i.e. −b
    fit = a[None, :] + g * slope[None, :]
    sse = np.where(ok, ((fit - h[:, None]) ** 2).sum(0), np.inf)
    if not np.isfinite(sse).any():  # a constant series: the mean is the best curve
        return np.full(n, h.mean())
    return fit[:, int(np.argmin(sse))]


def _window_sum(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Sum over axis 1 of ``values`` from row ``start[t] + 1`` through row ``t``, for every t."""
    cums = np.cumsum(values, axis=1)
    prev = cums[:, np.maximum(start, 0), :]
    prev[:, start < 0, :] = 0.0
    return cums - prev


def mixture_quantiles(
    weight: np.ndarray, mean: np.ndarray, sd: np.ndarray, probs: Sequence[float], grid: int = 96
) -> np.ndarray:
    """Quantiles of Gaussian mixtures, one mixture per row; ``weight/mean/sd`` are ``(n, R)``.

    The mixture CDF is evaluated on a per-row grid spanning all components (±4 sd) and inverted
    by linear interpolation: accurate to a small fraction of a component's spread.
    """
    lo = np.min(mean - 4 * sd, axis=1)
    hi = np.max(mean + 4 * sd, axis=1)
    x = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, grid)[None, :]  # (n, G)
    out = np.empty((len(mean), len(probs)))
    step = max(1, int(4e6 // max(mean.shape[1] * grid, 1)))  # bound the (rows, R, G) block
    for s in range(0, len(mean), step):
        sl = slice(s, s + step)
        xs = x[sl]
        z = (xs[:, None, :] - mean[sl, :, None]) / sd[sl, :, None]
        cdf = np.maximum.accumulate(np.einsum("nr,nrg->ng", weight[sl], ndtr(z)), axis=1)
        rows = np.arange(len(xs))
        for i, p in enumerate(probs):
            k = np.clip((cdf < p).sum(axis=1), 1, grid - 1)
            c0, c1 = cdf[rows, k - 1], cdf[rows, k]
            frac = np.where(c1 > c0, (p - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
            x0, x1 = xs[rows, k - 1], xs[rows, k]
            out[sl, i] = x0 + np.clip(frac, 0.0, 1.0) * (x1 - x0)
    return out


@dataclass
class SimilarityModel:
    """Library of reference degradation curves plus the matching settings; see the module doc.

    Build with :meth:`fit` on complete run-to-failure units; :meth:`predict` gives the RUL of
    every row (or each unit's last row) with a 90 % interval.
    """

    units: list[Any]
    curves: list[list[float]]
    """Smoothed health index of each reference unit, one value per sample."""
    remaining: list[list[float]]
    """Remaining life of each reference unit at each of its samples (``t_end − t``)."""
    sigma2: float
    """Health-index noise variance around the reference curves."""
    window: int | None = None
    """Samples compared (``None``: the whole history, capped by the shortest reference)."""
    temperature: float = 3.0
    level_var: float = 0.0
    """Prior variance of a unit's health-index level offset (0: no offset allowed)."""
    min_spread: float = 2.0
    """Floor of each reference's RUL spread, in time units: no single answer is exact."""

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        *,
        unit: str,
        time: str,
        hi: str = HI,
        window: int | None = None,
        temperature: float = 3.0,
        level_offset: bool = True,
        min_spread: float = 2.0,
        n_rates: int = 40,
        rate_range: tuple[float, float] = (0.2, 25.0),
    ) -> SimilarityModel:
        """Build the reference library from complete run-to-failure units (last row = failure).

        ``window`` and ``temperature`` are the settings that matter; choose them by unit-grouped
        cross-validation (:func:`dt_platform.phm.cmapss.select_physics` does). ``rate_range``
        bounds ``c`` of the smoothing curve (exponential growth per median life).
        """
        if window is not None and window < 2:
            raise ValueError("SimilarityModel: window must be >= 2 samples (or None for all).")
        if temperature <= 0 or min_spread <= 0:
            raise ValueError("SimilarityModel: temperature and min_spread must be positive.")
        missing = [c for c in (unit, time, hi) if c not in frame.columns]
        if missing:
            raise ValueError(f"SimilarityModel.fit: columns {missing} missing from the frame.")
        data = frame.select(unit, time, hi).drop_nulls().sort([unit, time])
        parts = [
            (key[0], p) for key, p in data.group_by(unit, maintain_order=True) if p.height >= 5
        ]
        if len(parts) < 3:
            raise ValueError(
                "SimilarityModel.fit: need at least 3 run-to-failure units with >= 5 rows each."
            )
        scale = max(float(np.median([p[time][-1] - p[time][0] for _, p in parts])), 1.0)
        rates = np.geomspace(*rate_range, n_rates)
        units, curves, remaining = [], [], []
        sse, dof = 0.0, 0
        for key, part in parts:
            t = part[time].cast(pl.Float64).to_numpy()
            h = part[hi].cast(pl.Float64).to_numpy()
            smooth = exp_curve((t - t[0]) / scale, h, rates)
            sse += float(((h - smooth) ** 2).sum())
            dof += len(h) - 3
            units.append(key)
            curves.append(smooth.tolist())
            remaining.append((t[-1] - t).tolist())
        starts = np.array([c[0] for c in curves])
        return cls(
            units=units,
            curves=curves,
            remaining=remaining,
            sigma2=max(sse / max(dof, 1), 1e-12),
            window=None if window is None else int(window),
            temperature=float(temperature),
            # Spread of the units' initial health level: the prior of a unit's level offset.
            level_var=float(np.var(starts, ddof=1)) if level_offset else 0.0,
            min_spread=float(min_spread),
        )

    # -- matching ------------------------------------------------------------------------------

    def match(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per prefix ``t`` and reference ``r``: normalized weight, RUL mean and RUL spread.

        ``h`` is one unit's (finite) health index in time order. Returns three ``(n, R)``
        arrays; row ``t`` depends on ``h[: t + 1]`` only.
        """
        h = np.asarray(h, dtype=np.float64)
        if h.ndim != 1 or not np.isfinite(h).all():
            raise ValueError("SimilarityModel.match: the health index must be a finite 1-D array.")
        lengths = np.array([len(c) for c in self.curves])
        n, n_ref = len(h), len(lengths)
        rows = np.arange(n)
        # Capped by the shortest reference, so every reference can answer every prefix.
        cap = int(lengths.min()) if self.window is None else min(self.window, int(lengths.min()))
        w = np.minimum(cap, rows + 1)
        start = rows - w  # the cumulative sum at ``start`` is subtracted (−1: nothing)
        var = self.sigma2 * self.temperature
        shrink = var / self.level_var if self.level_var > 0 else None
        log_w = np.empty((n, n_ref))
        mean = np.empty((n, n_ref))
        spread = np.empty((n, n_ref))
        # References of similar length share a block; the offsets o = p − t (reference position
        # minus query position) that any window can use run from min(0, cap − n) to length − 1.
        order = np.argsort(lengths, kind="stable")
        o_lo = min(0, cap - n)
        i = 0
        while i < n_ref:
            top_len = int(lengths[order[i]])
            size = max(1, int(BLOCK_CELLS // (n * (top_len - o_lo))))
            block = order[i : i + size]
            i += len(block)
            width = int(lengths[block].max())
            offsets = np.arange(o_lo, width)
            pos = rows[:, None] + offsets[None, :]  # (n, K): reference sample facing query row
            clipped = np.clip(pos, 0, width - 1)
            # Edge-padded so out-of-range cells hold bounded values; no valid window reads them.
            cur = np.stack([np.pad(self.curves[r], (0, width - lengths[r]), "edge") for r in block])
            rem = np.stack([np.pad(self.remaining[r], (0, width - lengths[r])) for r in block])
            diff = h[None, :, None] - cur[:, clipped]  # (c, n, K)
            quad = _window_sum(diff * diff, start)
            if shrink is not None:
                # The unit's level offset integrated out under N(0, level_var): what remains is
                # how well the *shape* of the window fits, plus a penalty on a large offset.
                s1 = _window_sum(diff, start)
                quad -= s1 * s1 / (w[None, :, None] + shrink)
            # Prefix t's window covers reference samples p − w + 1 .. p, with p = t + o.
            valid = (pos - w[:, None] + 1 >= 0)[None] & (pos[None] < lengths[block][:, None, None])
            lw = np.where(valid, quad * (-0.5 / var), -np.inf)
            top = lw.max(axis=2, keepdims=True)
            e = np.exp(lw - top)
            z = e.sum(axis=2)
            rul = rem[:, clipped]
            m1 = (e * rul).sum(axis=2) / z
            m2 = (e * rul * rul).sum(axis=2) / z
            # Equal prior mass per reference, uniform over its admissible positions.
            log_w[:, block] = (top[..., 0] + np.log(z) - np.log(valid.sum(axis=2))).T
            mean[:, block] = m1.T
            spread[:, block] = np.sqrt(np.clip(m2 - m1 * m1, 0.0, None)).T
        weight = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
        return weight, mean, np.hypot(spread, self.min_spread)

    def predict_unit(self, h: np.ndarray) -> np.ndarray:
        """``(n, 4)``: RUL median, 5 %, 95 % quantile and mean after every prefix of one unit.

        A missing (NaN) sample carries the last finite one forward (no evidence of change);
        rows before the first finite sample have no estimate (NaN).
        """
        h = np.asarray(h, dtype=np.float64)
        out = np.full((len(h), 4), np.nan)
        last = np.maximum.accumulate(np.where(np.isfinite(h), np.arange(len(h)), -1))
        seen = last >= 0
        if not seen.any():
            return out
        weight, mean, spread = self.match(h[last[seen]])
        q = mixture_quantiles(weight, mean, spread, (0.5, 0.05, 0.95))
        mix_mean = (weight * mean).sum(axis=1)
        q = np.sort(q, axis=1)[:, [1, 0, 2]]  # guard the order median, lo, hi against rounding
        out[seen] = np.clip(np.column_stack([q, mix_mean]), 0.0, None)
        return out

    def predict(
        self,
        frame: pl.DataFrame,
        *,
        unit: str,
        time: str,
        hi: str = HI,
        last_only: bool = False,
        names: Sequence[str] = SIM_OUT,
    ) -> pl.DataFrame:
        """RUL of every row (as if "now" were that row) or of each unit's last row.

        Returns ``unit, time`` and the four ``names`` (median, 5 %, 95 %, mean), sorted by unit
        and time.
        """
        if len(names) != 4:
            raise ValueError("SimilarityModel.predict: names needs 4 column names.")
        missing = [c for c in (unit, time, hi) if c not in frame.columns]
        if missing:
            raise ValueError(f"SimilarityModel.predict: columns {missing} missing from the frame.")
        return predict_per_unit(
            frame,
            lambda part: self.predict_unit(part[hi].cast(pl.Float64).to_numpy()),
            unit=unit,
            time=time,
            hi=hi,
            names=names,
            last_only=last_only,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimilarityModel:
        return cls(**data)
