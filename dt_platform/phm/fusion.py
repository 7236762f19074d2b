"""Fusion of the physics and data branches into one RUL with a calibrated 90 % interval.

Both branches report a point estimate and a 90 % interval. Which one to trust depends on where
the unit is in its life: near failure the data branch is sharp; early in life it is capped and
blind while the degradation model still has the fleet prior and the health-index trend. So the
fusion weights must vary with context. Two methods, both fitted on *out-of-fold* predictions
(held-out training units, never in-sample fits):

``"stack"`` (default)
    Varying-coefficient linear stacking: ``fused = Σ_j φ_j(z) · (β0_j + β_ml_j·ml + β_ph_j·phys)``
    where ``φ_j`` are piecewise-linear "hat" functions over a context ``z`` (default: the mean of
    the two branch estimates; pass e.g. time in service). Linear in β, fitted by ridge-penalized
    least squares in closed form (a small ridge keeps sparse context bins stable). It generalizes inverse-variance weighting to correlated, biased branches.
``"ivw"``
    Inverse-variance weighting: each branch's interval width, rescaled per context so its
    standardized out-of-fold errors have unit variance, gives ``σ``; after a per-context bias
    correction the weights are ``∝ 1/σ²``, corrected for the correlation ρ of the two branches'
    errors (Bates & Granger 1969: ``w_phys = (σ_ml² − ρσ_mlσ_ph) / (σ_ml² + σ_ph² − 2ρσ_mlσ_ph)``,
    plain IVW when ρ = 0). The branch that is unsure of itself (wide band) gets less say.

``stack`` can be fitted with an asymmetric squared loss (``asymmetry`` > 1 weighs late errors —
predicted RUL above the truth, i.e. an unplanned failure — more than early ones; the C-MAPSS
pipeline uses the PHM08 score's own late/early ratio).

Interval: normalized split-conformal. A scale ``s(z)`` (hat-basis fit of the absolute
residual) is learned; the ``coverage`` quantile of ``|y − fused| / s(z)`` over *cross-fitted*
predictions (the fuser refitted without each group of units) sets the half-width ``q·s(z)``.
:attr:`Fuser.cv` keeps those cross-fitted metrics: the honest held-out comparison of fused vs.
each branch alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.evidence import choose_branch
from dt_platform.phm.ml import conformal_margin, group_kfold
from dt_platform.phm.scoring import coverage, phm08_score, rmse

_Z90 = 1.6448536269514722
PHYSICS_COLS: tuple[str, str, str] = ("rul_phys", "rul_phys_lo", "rul_phys_hi")
ML_COLS: tuple[str, str, str] = ("rul_mean", "rul_p05", "rul_p95")
METHODS = ("stack", "ivw")
BRANCHES = ("ml", "physics")
"""The branches a fuser can fall back to."""


def hat_basis(z: np.ndarray, knots: Sequence[float]) -> np.ndarray:
    """Piecewise-linear B-spline basis (rows sum to 1); constant beyond the end knots."""
    knots = np.asarray(knots, dtype=np.float64)
    z = np.clip(np.asarray(z, dtype=np.float64), knots[0], knots[-1])
    if len(knots) == 1:
        return np.ones((len(z), 1))
    basis = np.zeros((len(z), len(knots)))
    j = np.clip(np.searchsorted(knots, z, side="right") - 1, 0, len(knots) - 2)
    left, right = knots[j], knots[j + 1]
    frac = np.where(right > left, (z - left) / np.where(right > left, right - left, 1.0), 0.0)
    rows = np.arange(len(z))
    basis[rows, j] = 1.0 - frac
    basis[rows, j + 1] += frac
    return basis


def _ridge(
    x: np.ndarray, y: np.ndarray, lam: float, weights: np.ndarray | None = None
) -> np.ndarray:
    """Ridge least squares (penalty ``lam`` scaled by the data size)."""
    w = np.ones(len(y)) if weights is None else weights
    xtw = x.T * w
    gram = xtw @ x
    penalty = lam * np.trace(gram) / gram.shape[0] * 1e-3
    return np.linalg.solve(gram + penalty * np.eye(x.shape[1]), xtw @ y)


@dataclass
class Fuser:
    """Fitted fusion of physics and ML RUL estimates. Build with :meth:`fit`."""

    method: str
    knots: list[float]
    context: str | None
    coef: list[float]
    scale_coef: list[float]
    quantile: float
    coverage: float
    physics_cols: tuple[str, str, str] = PHYSICS_COLS
    ml_cols: tuple[str, str, str] = ML_COLS
    ivw: dict[str, list[float]] = field(default_factory=dict)
    cv: dict[str, Any] = field(default_factory=dict)
    """Cross-fitted (held-out unit) metrics: rmse/score of fused, ml, physics; coverage."""
    asymmetry: float = 1.0
    """Late/early error weight the stack was fitted with (1 = plain least squares)."""
    input_max: dict[str, float] = field(default_factory=dict)
    """Largest point estimate of each branch (by column) on the rows the fuser was fitted on;
    inputs are clipped to it. Empty in bundles from before the clipping: no clipping."""
    basis: str = "fused"
    """What the fused value rests on: ``"fused"``, or the branch it fell back to (``"ml"`` or
    ``"physics"``) because, on held-out training units, that branch beat the fusion unit by unit
    beyond chance (see :meth:`fit`, ``fallback``). A fallback keeps its own conformal interval."""

    # -- shared pieces -------------------------------------------------------------------------

    def _z(self, frame: pl.DataFrame) -> np.ndarray:
        if self.context is not None:
            return frame[self.context].cast(pl.Float64).to_numpy()
        ml = self._branches(frame, self.ml_cols)[0]
        ph = self._branches(frame, self.physics_cols)[0]
        return 0.5 * (ml + ph)

    def _branches(self, frame: pl.DataFrame, cols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        mean, lo, hi = (frame[c].cast(pl.Float64).to_numpy() for c in cols)
        top = self.input_max.get(cols[0])
        if top is not None:
            # Never extrapolate the fit: a branch estimate beyond anything it produced on the
            # training rows (a degradation model that sees no failure in a unit of an unseen
            # fault mode) enters the fusion at the largest value the fuser was fitted on.
            mean, lo, hi = (np.clip(v, 0.0, top) for v in (mean, lo, hi))
        # A band clipped at zero RUL (or collapsed at a cap) can be arbitrarily narrow; one time
        # unit of irreducible spread keeps the weights finite and the calibration meaningful.
        sigma = np.hypot(np.clip((hi - lo) / (2 * _Z90), 0.0, None), 1.0)
        return mean, sigma

    def _point(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fused point, weight on physics, basis) for every row."""
        z = self._z(frame)
        basis = hat_basis(z, self.knots)
        ml, s_ml = self._branches(frame, self.ml_cols)
        ph, s_ph = self._branches(frame, self.physics_cols)
        if self.basis in BRANCHES:
            fused = ml if self.basis == "ml" else ph
            w_ph = np.full(len(fused), 1.0 if self.basis == "physics" else 0.0)
        elif self.method == "stack":
            coef = np.asarray(self.coef).reshape(len(self.knots), 3)
            b0, b_ml, b_ph = (basis @ coef[:, i] for i in range(3))
            fused = b0 + b_ml * ml + b_ph * ph
            total = np.abs(b_ml) + np.abs(b_ph)
            w_ph = np.where(total > 0, np.abs(b_ph) / np.where(total > 0, total, 1.0), 0.5)
        else:
            k_ml = basis @ np.asarray(self.ivw["k_ml"])
            k_ph = basis @ np.asarray(self.ivw["k_ph"])
            rho = np.clip(basis @ np.asarray(self.ivw["rho"]), -0.95, 0.95)
            bias_ml = basis @ np.asarray(self.ivw["bias_ml"])
            bias_ph = basis @ np.asarray(self.ivw["bias_ph"])
            sd_ml, sd_ph = k_ml * s_ml, k_ph * s_ph
            cov = rho * sd_ml * sd_ph
            # Bates-Granger weight for two correlated unbiased estimates; independent errors
            # (rho = 0) give plain inverse-variance weighting.
            denom = np.clip(sd_ml**2 + sd_ph**2 - 2 * cov, 1e-9, None)
            w_ph = np.clip((sd_ml**2 - cov) / denom, 0.0, 1.0)
            fused = (1 - w_ph) * (ml - bias_ml) + w_ph * (ph - bias_ph)
        return np.clip(fused, 0.0, None), w_ph, basis

    # -- fitting -------------------------------------------------------------------------------

    @classmethod
    def _fit_once(
        cls,
        frame: pl.DataFrame,
        y: np.ndarray,
        *,
        method: str,
        knots: list[float],
        context: str | None,
        ridge: float,
        physics_cols: tuple[str, str, str],
        ml_cols: tuple[str, str, str],
        coverage: float,
        asymmetry: float = 1.0,
        basis: str = "fused",
    ) -> Fuser:
        fuser = cls(method, knots, context, [], [], 0.0, coverage, physics_cols, ml_cols)
        fuser.asymmetry = asymmetry
        fuser.basis = basis
        fuser.input_max = {
            c: float(frame[c].cast(pl.Float64).max()) for c in (ml_cols[0], physics_cols[0])
        }
        basis_rows = hat_basis(fuser._z(frame), knots)
        ml, s_ml = fuser._branches(frame, ml_cols)
        ph, s_ph = fuser._branches(frame, physics_cols)
        if basis in BRANCHES:
            fuser.coef = []
        elif method == "stack":
            design = np.hstack([basis_rows, basis_rows * ml[:, None], basis_rows * ph[:, None]])
            beta = _ridge(design, y, ridge)
            for _ in range(20 if asymmetry != 1.0 else 0):
                # Asymmetric least squares (expectile) by iterative reweighting: late errors
                # (prediction above truth) weigh ``asymmetry`` times more than early ones.
                w = np.where(design @ beta > y, asymmetry, 1.0)
                new = _ridge(design, y, ridge, w)
                if np.allclose(new, beta, atol=1e-8):
                    break
                beta = new
            k = len(knots)
            fuser.coef = (
                np.column_stack([beta[:k], beta[k : 2 * k], beta[2 * k :]]).ravel().tolist()
            )
        else:
            # Per-context bias and variance scale of each branch (hat-weighted averages).
            weight = basis_rows / np.clip(basis_rows.sum(axis=0), 1e-9, None)
            e_ml, e_ph = ml - y, ph - y
            bias_ml, bias_ph = weight.T @ e_ml, weight.T @ e_ph
            u_ml = (e_ml - basis_rows @ bias_ml) / s_ml
            u_ph = (e_ph - basis_rows @ bias_ph) / s_ph
            k_ml = np.sqrt(np.clip(weight.T @ u_ml**2, 1e-6, None))
            k_ph = np.sqrt(np.clip(weight.T @ u_ph**2, 1e-6, None))
            fuser.ivw = {
                "bias_ml": bias_ml.tolist(),
                "bias_ph": bias_ph.tolist(),
                "k_ml": k_ml.tolist(),
                "k_ph": k_ph.tolist(),
                "rho": np.clip((weight.T @ (u_ml * u_ph)) / (k_ml * k_ph), -0.95, 0.95).tolist(),
            }
            fuser.coef = []
        fused, _, basis_rows = fuser._point(frame)
        # Scale of the residual as a function of context: hat-basis fit of |residual|.
        scale = _ridge(basis_rows, np.abs(y - fused), ridge)
        fuser.scale_coef = np.clip(scale, 1e-3, None).tolist()
        return fuser

    @classmethod
    def fit(
        cls,
        oof: pl.DataFrame,
        *,
        truth: str = "rul",
        groups: str | None = None,
        method: str = "stack",
        context: str | None = None,
        n_knots: int = 6,
        ridge: float = 1.0,
        asymmetry: float = 1.0,
        coverage: float = 0.9,
        n_splits: int = 5,
        physics_cols: Sequence[str] = PHYSICS_COLS,
        ml_cols: Sequence[str] = ML_COLS,
        seed: int = 0,
        fallback: bool = False,
    ) -> Fuser:
        """Fit on out-of-fold branch predictions with the true RUL in ``truth``.

        ``groups`` (the unit column) enables cross-fitting: the fuser is refitted without each
        group of units to get held-out fused predictions, which calibrate the interval and fill
        :attr:`cv`. Without ``groups`` the interval is calibrated on the fit rows (optimistic).

        ``fallback`` (needs ``groups``): a branch that beats the fusion on the held-out rows,
        unit by unit beyond chance (:func:`~dt_platform.phm.evidence.choose_branch`, the rule the
        fleet model uses per machine type), is reported instead (:attr:`basis`), with an interval
        conformally calibrated the same way; ``cv["fallback_test"]`` keeps the evidence. Decided
        on the training units' out-of-fold rows only.
        """
        if method not in METHODS:
            raise ValueError(f"Fuser: method must be one of {METHODS}, got {method!r}.")
        physics_cols = tuple(physics_cols)
        ml_cols = tuple(ml_cols)
        data = _complete_rows(oof, truth, groups, context, n_knots, physics_cols, ml_cols)
        y = data[truth].cast(pl.Float64).to_numpy()
        probe = cls(method, [0.0], context, [], [], 0.0, coverage, physics_cols, ml_cols)
        z = probe._z(data)
        knots = np.unique(np.quantile(z, np.linspace(0, 1, n_knots))).tolist()
        kwargs: dict[str, Any] = dict(
            method=method,
            knots=knots,
            context=context,
            ridge=ridge,
            physics_cols=physics_cols,
            ml_cols=ml_cols,
            coverage=coverage,
            asymmetry=asymmetry,
        )
        if fallback and groups is None:
            raise ValueError("Fuser.fit: fallback is decided on held-out units; pass groups.")
        if groups is not None:
            fuser, fused_cf, scale_cf, fusion_rmse, decision = cls._fit_held_out(
                data, y, data[groups].to_numpy(), n_splits, seed, kwargs, fallback=fallback
            )
        else:
            fuser, decision = cls._fit_once(data, y, **kwargs), None
            fused_cf, _, basis = fuser._point(data)
            scale_cf = basis @ np.asarray(fuser.scale_coef)
        q = conformal_margin(
            np.zeros(len(y)), np.zeros(len(y)), np.abs(y - fused_cf) / scale_cf, coverage
        )
        fuser.quantile = q
        fuser.cv = _metrics(
            data,
            y,
            fused_cf,
            q * scale_cf,
            physics_cols,
            ml_cols,
            data[groups].to_numpy() if groups is not None else None,
            seed,
        )
        fuser.cv["basis"] = fuser.basis
        if groups is not None:
            fuser.cv["rmse_fusion_held_out"] = fusion_rmse
            if decision is not None:
                fuser.cv["fallback_test"] = decision
        return fuser

    @classmethod
    def _fit_held_out(
        cls,
        data: pl.DataFrame,
        y: np.ndarray,
        groups: np.ndarray,
        n_splits: int,
        seed: int,
        kwargs: dict[str, Any],
        *,
        fallback: bool,
    ) -> tuple[Fuser, np.ndarray, np.ndarray, float, dict[str, Any] | None]:
        """The fuser on all rows with its cross-fitted predictions and residual scales, after
        the fallback rule; also the fusion's own held-out RMSE (before any fallback) and the
        fallback rule's evidence (None without ``fallback``)."""
        fused_cf, scale_cf = cls._cross_fitted(data, y, groups, n_splits, seed, kwargs)
        fusion_rmse = rmse(fused_cf, y)
        branch, decision = None, None
        if fallback:
            decision = choose_branch(
                y,
                fused_cf,
                {
                    "ml": data[kwargs["ml_cols"][0]].cast(pl.Float64).to_numpy(),
                    "physics": data[kwargs["physics_cols"][0]].cast(pl.Float64).to_numpy(),
                },
                groups,
            )
            branch = decision["fallback"]
        if branch is not None:
            kwargs = {**kwargs, "basis": branch}
            fused_cf, scale_cf = cls._cross_fitted(data, y, groups, n_splits, seed, kwargs)
        return cls._fit_once(data, y, **kwargs), fused_cf, scale_cf, fusion_rmse, decision

    @classmethod
    def _cross_fitted(
        cls,
        data: pl.DataFrame,
        y: np.ndarray,
        groups: np.ndarray,
        n_splits: int,
        seed: int,
        kwargs: dict[str, Any],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fused point and residual scale of every row from a fuser fitted without its units."""
        fused_cf = np.full(len(y), np.nan)
        scale_cf = np.full(len(y), np.nan)
        for tr, va in group_kfold(groups, n_splits, seed):
            part = cls._fit_once(data[tr], y[tr], **kwargs)
            fused_cf[va], _, basis = part._point(data[va])
            scale_cf[va] = basis @ np.asarray(part.scale_coef)
        return fused_cf, scale_cf

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``rul_fused, rul_fused_lo, rul_fused_hi, w_physics`` per row (same order as ``frame``)."""
        missing = [
            c
            for c in [*self.physics_cols, *self.ml_cols, *([self.context] if self.context else [])]
            if c not in frame.columns
        ]
        if missing:
            raise ValueError(f"Fuser.predict: columns {missing} missing.")
        fused, w_ph, basis = self._point(frame)
        half = self.quantile * (basis @ np.asarray(self.scale_coef))
        return pl.DataFrame(
            {
                "rul_fused": fused,
                "rul_fused_lo": np.clip(fused - half, 0.0, None),
                "rul_fused_hi": fused + half,
                "w_physics": w_ph,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fuser:
        data = dict(data)
        data["physics_cols"] = tuple(data["physics_cols"])
        data["ml_cols"] = tuple(data["ml_cols"])
        return cls(**data)


def _complete_rows(
    oof: pl.DataFrame,
    truth: str,
    groups: str | None,
    context: str | None,
    n_knots: int,
    physics_cols: tuple[str, str, str],
    ml_cols: tuple[str, str, str],
) -> pl.DataFrame:
    """The out-of-fold rows with truth and both branches, checked to be enough for the knots."""
    needed = [
        truth,
        *physics_cols,
        *ml_cols,
        *([context] if context else []),
        *([groups] if groups else []),
    ]
    missing = [c for c in needed if c not in oof.columns]
    if missing:
        raise ValueError(f"Fuser.fit: columns {missing} missing from the out-of-fold frame.")
    data = oof.drop_nulls([truth, *physics_cols, *ml_cols])
    if data.height < 10 * n_knots:
        raise ValueError(
            f"Fuser.fit: {data.height} complete rows are too few for {n_knots} knots; "
            "give more out-of-fold rows or fewer knots."
        )
    return data


def _metrics(
    data: pl.DataFrame,
    y: np.ndarray,
    fused: np.ndarray,
    half: np.ndarray,
    physics_cols: Sequence[str],
    ml_cols: Sequence[str],
    groups: np.ndarray | None,
    seed: int,
    draws: int = 400,
) -> dict[str, Any]:
    """Held-out metrics, plus how often fused beats ML when each unit is scored on one row.

    Benchmarks score one (last) row per unit, so a gain averaged over all rows can hide a large
    spread: resampling one random row per unit ``draws`` times gives the spread of
    ``rmse_fused − rmse_ml`` that a 1-row-per-unit test set of the same units would show.
    """
    ml = data[ml_cols[0]].cast(pl.Float64).to_numpy()
    ph = data[physics_cols[0]].cast(pl.Float64).to_numpy()
    out: dict[str, Any] = {
        "held_out": groups is not None,
        "n": len(y),
        "rmse_fused": rmse(fused, y),
        "rmse_ml": rmse(ml, y),
        "rmse_physics": rmse(ph, y),
        "score_fused_per_row": phm08_score(fused, y) / len(y),
        "score_ml_per_row": phm08_score(ml, y) / len(y),
        "score_physics_per_row": phm08_score(ph, y) / len(y),
        "coverage": coverage(np.clip(fused - half, 0.0, None), fused + half, y),
    }
    if groups is not None:
        rng = np.random.default_rng(seed)
        order = np.argsort(groups, kind="stable")
        _, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
        picks = order[starts + (rng.uniform(size=(draws, len(starts))) * counts).astype(np.int64)]
        err_f = np.sqrt(np.mean((fused[picks] - y[picks]) ** 2, axis=1))
        err_m = np.sqrt(np.mean((ml[picks] - y[picks]) ** 2, axis=1))
        diff = err_f - err_m
        out["one_row_per_unit"] = {
            "rmse_fused_minus_ml_mean": float(diff.mean()),
            "rmse_fused_minus_ml_sd": float(diff.std(ddof=1)),
            "p_fused_beats_ml": float(np.mean(diff < 0)),
        }
    return out
