"""Fusion of the physics and data branches into one RUL with a calibrated 90 % interval.

Both branches report a point estimate and a 90 % interval. Which one to trust depends on where
the unit is in its life: near failure the data branch is sharp; early in life it is capped and
blind while the degradation model still has the fleet prior and the health-index trend. So the
fusion weights must vary with context ``z`` (default: the mean of the two branch estimates; pass
e.g. time in service). Two methods, both fitted on *out-of-fold* predictions (held-out training
units, never in-sample fits): ``"stack"`` (default), varying-coefficient linear stacking, and
``"ivw"``, inverse-variance weighting corrected for the branches' correlation; their formulas are
in :mod:`dt_platform.phm.fusion_basis`. ``stack`` can be fitted with an asymmetric squared loss
(``asymmetry`` > 1 weighs late errors more than early ones; the C-MAPSS pipeline uses the PHM08
score's own late/early ratio).

Interval: normalized split-conformal. A scale ``s(z)`` (hat-basis fit of the absolute
residual) is learned; the ``coverage`` quantile of ``|y − fused| / s(z)`` over *cross-fitted*
predictions (the fuser refitted without each group of units,
:mod:`dt_platform.phm.fusion_held_out`) sets the half-width ``q·s(z)``. :attr:`Fuser.cv` keeps
those cross-fitted metrics: the honest held-out comparison of fused vs. each branch alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.fusion_basis import (
    branch_sigma,
    fit_ivw,
    fit_scale,
    fit_stack,
    hat_basis,
    ivw_point,
    precision_share,
    stack_point,
)
from dt_platform.phm.fusion_held_out import (
    HeldOut,
    complete_rows,
    held_out_metrics,
    held_out_predictions,
)
from dt_platform.phm.ml import conformal_margin

PHYSICS_COLS: tuple[str, str, str] = ("rul_phys", "rul_phys_lo", "rul_phys_hi")
ML_COLS: tuple[str, str, str] = ("rul_mean", "rul_p05", "rul_p95")
METHODS = ("stack", "ivw")
BRANCHES = ("ml", "physics")
"""The branches a fuser can fall back to."""


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
    inputs: tuple[str, ...] = ()
    """Further columns the ``stack`` weighs along the context besides the two branches (e.g. the
    unit's age); each enters clipped to ``[0, largest value on the fit rows]``. Empty in bundles
    from before them."""
    basis: str = "fused"
    """What the fused value rests on: ``"fused"``, or the branch it fell back to (``"ml"`` or
    ``"physics"``) because, on held-out training units, that branch beat the fusion unit by unit
    beyond chance (see :meth:`fit`, ``fallback``). A fallback keeps its own conformal interval."""
    confidence: bool = False
    """``stack`` only: also weigh each branch by its confidence, through its inverse-variance
    share of the two intervals (:func:`~dt_platform.phm.fusion_basis.precision_share`), so a
    branch counts for more on the rows where its own interval is the narrower. False in bundles
    from before it."""

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
        return mean, branch_sigma(lo, hi)

    def _inputs(self, frame: pl.DataFrame) -> np.ndarray | None:
        """The further inputs, one column each, clipped to the range they were fitted on."""
        if not self.inputs:
            return None
        return np.column_stack(
            [
                np.clip(frame[c].cast(pl.Float64).to_numpy(), 0.0, self.input_max.get(c, np.inf))
                for c in self.inputs
            ]
        )

    def _share(self, s_ml: np.ndarray, s_ph: np.ndarray) -> np.ndarray | None:
        """The physics branch's inverse-variance share, where the stack weighs confidence."""
        return precision_share(s_ml, s_ph) if self.confidence else None

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
            share = self._share(s_ml, s_ph)
            fused, w_ph = stack_point(basis, self.coef, ml, ph, self._inputs(frame), share)
        else:
            fused, w_ph = ivw_point(basis, self.ivw, ml, s_ml, ph, s_ph)
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
        inputs: tuple[str, ...] = (),
        confidence: bool = False,
        basis: str = "fused",
    ) -> Fuser:
        fuser = cls(method, knots, context, [], [], 0.0, coverage, physics_cols, ml_cols)
        fuser.asymmetry = asymmetry
        fuser.inputs = inputs
        fuser.confidence = confidence
        fuser.basis = basis
        fuser.input_max = {
            c: float(frame[c].cast(pl.Float64).max())
            for c in (ml_cols[0], physics_cols[0], *inputs)
        }
        basis_rows = hat_basis(fuser._z(frame), knots)
        ml, s_ml = fuser._branches(frame, ml_cols)
        ph, s_ph = fuser._branches(frame, physics_cols)
        if basis in BRANCHES:
            fuser.coef = []
        elif method == "stack":
            extra = fuser._inputs(frame)
            share = fuser._share(s_ml, s_ph)
            fuser.coef = fit_stack(basis_rows, ml, ph, y, ridge, asymmetry, extra, share)
        else:
            fuser.ivw = fit_ivw(basis_rows, ml, s_ml, ph, s_ph, y)
            fuser.coef = []
        fused, _, basis_rows = fuser._point(frame)
        fuser.scale_coef = fit_scale(basis_rows, np.abs(y - fused), ridge)
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
        bands: Sequence[float] = (),
        inputs: Sequence[str] = (),
        confidence: bool = False,
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

        ``bands`` (edges of the true RUL, needs ``groups``): ``cv["by_truth_band"]`` scores the
        held-out fusion and each branch band by band.

        ``inputs`` (``stack`` only): further columns weighed along the context with the branches
        (:attr:`inputs`). ``confidence`` (``stack`` only): weigh each branch by its confidence
        too (:attr:`confidence`).
        """
        inputs = tuple(inputs)
        _check_options(method, inputs, fallback=fallback, groups=groups, confidence=confidence)
        physics_cols = tuple(physics_cols)
        ml_cols = tuple(ml_cols)
        data = complete_rows(
            oof, truth, groups, context, n_knots, physics_cols, ml_cols, inputs=inputs
        )
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
            inputs=inputs,
            confidence=confidence,
        )
        group_ids = data[groups].to_numpy() if groups is not None else None
        held = None
        if group_ids is not None:
            fuser, held = cls._fit_held_out(
                data, y, group_ids, n_splits, seed, kwargs, fallback=fallback
            )
            fused_cf, scale_cf = held.fused, held.scale
        else:
            fuser = cls._fit_once(data, y, **kwargs)
            fused_cf, _, basis = fuser._point(data)
            scale_cf = basis @ np.asarray(fuser.scale_coef)
        fuser._calibrate(data, y, fused_cf, scale_cf, group_ids, seed, bands)
        fuser.cv.update(held.evidence() if held is not None else {})
        return fuser

    def _calibrate(
        self,
        data: pl.DataFrame,
        y: np.ndarray,
        fused_cf: np.ndarray,
        scale_cf: np.ndarray,
        group_ids: np.ndarray | None,
        seed: int,
        bands: Sequence[float],
    ) -> None:
        """The interval's conformal quantile from the cross-fitted residuals, and :attr:`cv`."""
        self.quantile = q = conformal_margin(
            np.zeros(len(y)), np.zeros(len(y)), np.abs(y - fused_cf) / scale_cf, self.coverage
        )
        self.cv = held_out_metrics(
            data,
            y,
            fused_cf,
            q * scale_cf,
            self.physics_cols,
            self.ml_cols,
            group_ids,
            seed,
            bands=bands,
        )
        self.cv["basis"] = self.basis

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
    ) -> tuple[Fuser, HeldOut]:
        """The fuser on all rows, after the fallback rule, with its cross-fitted predictions."""

        def fit_predict(
            basis: str, tr: np.ndarray, va: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray]:
            part = cls._fit_once(data[tr], y[tr], **kwargs, basis=basis)
            fused, _, rows = part._point(data[va])
            return fused, rows @ np.asarray(part.scale_coef)

        branch_cols = {"ml": kwargs["ml_cols"][0], "physics": kwargs["physics_cols"][0]}
        held = held_out_predictions(
            fit_predict, data, y, groups, n_splits, seed, branch_cols, fallback=fallback
        )
        return cls._fit_once(data, y, **kwargs, basis=held.basis), held

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``rul_fused, rul_fused_lo, rul_fused_hi, w_physics`` per row (same order as ``frame``)."""
        missing = [
            c
            for c in [
                *self.physics_cols,
                *self.ml_cols,
                *([self.context] if self.context else []),
                *self.inputs,
            ]
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
        data["inputs"] = tuple(data.get("inputs", ()))
        return cls(**data)


def _check_options(
    method: str,
    inputs: tuple[str, ...],
    *,
    fallback: bool,
    groups: str | None,
    confidence: bool,
) -> None:
    """Refuse a combination :meth:`Fuser.fit` cannot honour, before any work."""
    if method not in METHODS:
        raise ValueError(f"Fuser: method must be one of {METHODS}, got {method!r}.")
    if inputs and method != "stack":
        raise ValueError(f"Fuser.fit: further inputs {list(inputs)} need method 'stack'.")
    if confidence and method != "stack":
        raise ValueError("Fuser.fit: weighing the branches' confidence needs method 'stack'.")
    if fallback and groups is None:
        raise ValueError("Fuser.fit: fallback is decided on held-out units; pass groups.")
