"""Held-out evaluation of a fuser: its out-of-fold rows, cross-fitting, fallback and metrics.

A fuser learns from *out-of-fold* branch predictions (:func:`complete_rows` checks that they are
complete and enough), and scored on the rows it was fitted on it looks better than it is. So it
is refitted without each group of units (:func:`cross_fitted`), and the held-out fused values
decide whether a branch overrules the fusion (:func:`held_out_predictions`, the rule of
:func:`~dt_platform.phm.evidence.choose_branch`), calibrate the conformal interval, and give the
honest comparison of fused vs. each branch alone (:func:`held_out_metrics`). The fitting itself
is the caller's (:class:`~dt_platform.phm.fusion.Fuser`), passed in as a :data:`FitPredict`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.evidence import choose_branch
from dt_platform.phm.ml import group_kfold
from dt_platform.phm.scoring import coverage, phm08_score, rmse

FitPredict = Callable[[str, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``(basis, training rows, held-out rows) -> (fused point, residual scale)`` of the held-out
rows, from a fuser with that ``basis`` (``"fused"`` or a branch) fitted on the training rows."""


@dataclass(frozen=True)
class HeldOut:
    """Cross-fitted predictions of every row, after the fallback rule."""

    basis: str
    """``"fused"``, or the branch that overruled the fusion."""
    fused: np.ndarray
    scale: np.ndarray
    """Residual scale ``s(z)`` of every row; the interval's half-width is ``q·s(z)``."""
    rmse_fusion: float
    """The fusion's own held-out RMSE, before any fallback."""
    decision: dict[str, Any] | None
    """The fallback rule's evidence; None when the rule was not asked for."""

    def evidence(self) -> dict[str, Any]:
        """What the fuser's ``cv`` keeps of it: the fusion's own held-out RMSE and, when the
        fallback rule was asked for, its evidence (``fallback_test``)."""
        out: dict[str, Any] = {"rmse_fusion_held_out": self.rmse_fusion}
        if self.decision is not None:
            out["fallback_test"] = self.decision
        return out


def complete_rows(
    oof: pl.DataFrame,
    truth: str,
    groups: str | None,
    context: str | None,
    n_knots: int,
    physics_cols: tuple[str, str, str],
    ml_cols: tuple[str, str, str],
    *,
    inputs: Sequence[str] = (),
) -> pl.DataFrame:
    """The out-of-fold rows with truth, both branches and any further ``inputs``, checked to be
    enough for the knots.

    Rows where the truth, a branch or an input is missing are dropped; a missing column is an
    error.
    """
    needed = [
        truth,
        *physics_cols,
        *ml_cols,
        *inputs,
        *([context] if context else []),
        *([groups] if groups else []),
    ]
    missing = [c for c in needed if c not in oof.columns]
    if missing:
        raise ValueError(f"Fuser.fit: columns {missing} missing from the out-of-fold frame.")
    data = oof.drop_nulls([truth, *physics_cols, *ml_cols, *inputs])
    if data.height < 10 * n_knots:
        raise ValueError(
            f"Fuser.fit: {data.height} complete rows are too few for {n_knots} knots; "
            "give more out-of-fold rows or fewer knots."
        )
    return data


def cross_fitted(
    fit_predict: FitPredict, basis: str, groups: np.ndarray, n_splits: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fused point and residual scale of every row from a fuser fitted without its units."""
    fused_cf = np.full(len(groups), np.nan)
    scale_cf = np.full(len(groups), np.nan)
    for tr, va in group_kfold(groups, n_splits, seed):
        fused_cf[va], scale_cf[va] = fit_predict(basis, tr, va)
    return fused_cf, scale_cf


def held_out_predictions(
    fit_predict: FitPredict,
    data: pl.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    n_splits: int,
    seed: int,
    branch_cols: dict[str, str],
    *,
    fallback: bool,
) -> HeldOut:
    """Cross-fitted predictions, after the fallback rule when ``fallback`` is set.

    ``branch_cols`` maps each branch (``"ml"``, ``"physics"``) to its point-estimate column in
    ``data``. A branch that overrules the fusion is cross-fitted again as the basis, so its
    interval is calibrated on held-out rows the same way.
    """
    fused_cf, scale_cf = cross_fitted(fit_predict, "fused", groups, n_splits, seed)
    fusion_rmse = rmse(fused_cf, y)
    branch, decision = None, None
    if fallback:
        branches = {k: data[c].cast(pl.Float64).to_numpy() for k, c in branch_cols.items()}
        decision = choose_branch(y, fused_cf, branches, groups)
        branch = decision["fallback"]
    if branch is not None:
        fused_cf, scale_cf = cross_fitted(fit_predict, branch, groups, n_splits, seed)
    return HeldOut(branch or "fused", fused_cf, scale_cf, fusion_rmse, decision)


def held_out_metrics(
    data: pl.DataFrame,
    y: np.ndarray,
    fused: np.ndarray,
    half: np.ndarray,
    physics_cols: Sequence[str],
    ml_cols: Sequence[str],
    groups: np.ndarray | None,
    seed: int,
    draws: int = 400,
    bands: Sequence[float] = (),
) -> dict[str, Any]:
    """Held-out metrics, plus how often fused beats ML when each unit is scored on one row.

    Benchmarks score one (last) row per unit, so a gain averaged over all rows can hide a large
    spread: resampling one random row per unit ``draws`` times gives the spread of
    ``rmse_fused − rmse_ml`` that a 1-row-per-unit test set of the same units would show.
    ``bands`` (edges of the true RUL) adds ``by_truth_band``: where the fusion gains and where it
    loses, since a test set's mix of bands decides which one shows.
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
    if len(bands) > 1:
        out["by_truth_band"] = by_truth_band(y, fused, ml, ph, bands)
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


def by_truth_band(
    y: np.ndarray, fused: np.ndarray, ml: np.ndarray, ph: np.ndarray, edges: Sequence[float]
) -> list[dict[str, float]]:
    """RMSE of the fusion and of each branch on the rows whose truth is in each band (lo, hi]."""
    out = []
    for lo, hi in itertools.pairwise(edges):
        k = (y > lo) & (y <= hi) if lo > edges[0] else (y >= lo) & (y <= hi)
        if k.any():
            out.append(
                {
                    "rul_from": float(lo),
                    "rul_to": float(hi),
                    "rows": int(k.sum()),
                    "rmse_fused": rmse(fused[k], y[k]),
                    "rmse_ml": rmse(ml[k], y[k]),
                    "rmse_physics": rmse(ph[k], y[k]),
                }
            )
    return out
