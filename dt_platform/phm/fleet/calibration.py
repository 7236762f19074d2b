"""What the training fleet's held-out rows decide about the fused estimate: the fused value of
every training row from fusers that never saw its machine (:func:`cross_fitted_predictions`),
the per-type fallback to a branch that beats the fusion (:func:`choose_fallbacks`) and the
width of the intervals as reported (:func:`interval_scales`).

Everything here reads out-of-fold rows only: the branches' values come from models fitted without
the row's machine (:mod:`.training`, step 5), and the fusers used here are fitted without its
fold too, so a row is predicted as a machine of a new fleet would be.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.fleet.model import combine_branches
from dt_platform.phm.fusion import Fuser
from dt_platform.phm.schemas import FUSED_COLS, ML_COLS, PHYSICS_COLS
from dt_platform.phm.scoring import coverage, rmse

FALLBACK_BRANCHES = ("ml", "physics")


def fold_fusers(
    folds: Sequence[Sequence[str]],
    fit_rows: pl.DataFrame,
    fit: Callable[[pl.DataFrame], dict[str, Fuser]],
) -> list[tuple[list[str], dict[str, Fuser]]]:
    """Per machine fold, its machines and the fusers ``fit`` on the other folds' ``fit_rows``."""
    return [
        (list(held_out), fit(fit_rows.filter(~pl.col("machine_id").is_in(list(held_out)))))
        for held_out in folds
    ]


def cross_fitted_predictions(
    oof: pl.DataFrame,
    fusers_by_fold: Sequence[tuple[Sequence[str], Mapping[str, Fuser]]],
    clip_h: float,
    *,
    fallback: Mapping[str, str] | None = None,
    interval_scale: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Every out-of-fold row with the reported columns of :func:`combine_branches` (fused RUL
    and interval, ``w_physics``, ``basis``) from the fusers of its fold (:func:`fold_fusers`)."""
    parts = []
    for held_out, fusers in fusers_by_fold:
        rows = oof.filter(pl.col("machine_id").is_in(list(held_out)))
        if rows.is_empty():
            continue
        reported = combine_branches(
            rows, fusers, clip_h, fallback=fallback, interval_scale=interval_scale
        )
        parts.append(rows.hstack(reported.select(*FUSED_COLS, "w_physics", "basis")))
    return pl.concat(parts).sort("machine_id", "ts")


def choose_fallbacks(rows: pl.DataFrame, *, min_machines: int = 3) -> dict[str, dict[str, Any]]:
    """Per machine type, the RMSE of each branch and of the fusion on held-out rows, and the
    ``fallback`` branch (``ml`` or ``physics``) where the fusion does not beat both, else None.
    A type seen on fewer than ``min_machines`` held-out machines keeps the fusion: one or two
    machines are too few to overrule a fuser fitted on the whole fleet.

    ``rows``: cross-fitted rows (:func:`cross_fitted_predictions`) with the true ``rul_h``, of
    lives that ended in a failure, within the horizon, both branches present — the rows the fusion
    is built for. The physics is scored as it would be reported (unclipped).
    """
    out: dict[str, dict[str, Any]] = {}
    for (mtype,), part in sorted(rows.group_by("machine_type"), key=lambda g: str(g[0])):
        y = part["rul_h"].to_numpy()
        scores = {
            "physics": rmse(part[PHYSICS_COLS[0]], y),
            "ml": rmse(part[ML_COLS[0]], y),
            "fused": rmse(part[FUSED_COLS[0]], y),
        }
        best = min(FALLBACK_BRANCHES, key=lambda b: scores[b])
        out[str(mtype)] = {
            "rows": part.height,
            "machines": part["machine_id"].n_unique(),
            **{f"rmse_{k}": v for k, v in scores.items()},
            "fallback": (
                best
                if scores["fused"] >= scores[best] and part["machine_id"].n_unique() >= min_machines
                else None
            ),
        }
    return out


def interval_scales(
    rows: pl.DataFrame, target: float, *, min_rows: int = 200
) -> dict[str, dict[str, float]]:
    """Per machine type, the factor that stretches the reported interval's halves (around the
    reported value) to cover ``target`` of the held-out ``rows`` (split conformal: the
    ``target`` quantile of each row's needed factor), with the coverage before and after.

    ``rows`` as for :func:`choose_fallbacks`, with the reported (fused or fallback) values. A type
    with fewer than ``min_rows`` rows keeps factor 1.
    """
    out: dict[str, dict[str, float]] = {}
    for (mtype,), part in sorted(rows.group_by("machine_type"), key=lambda g: str(g[0])):
        y = part["rul_h"].to_numpy()
        f, lo, hi = (part[c].to_numpy() for c in FUSED_COLS)
        need = np.maximum(
            np.where(y < f, (f - y) / np.clip(f - lo, 1e-6, None), 0.0),
            np.where(y > f, (y - f) / np.clip(hi - f, 1e-6, None), 0.0),
        )
        factor = 1.0
        if part.height >= min_rows:
            k = min(int(np.ceil((len(need) + 1) * target)), len(need))
            factor = float(np.sort(need)[k - 1])
        out[str(mtype)] = {
            "factor": factor,
            "coverage_before": coverage(lo, hi, y),
            "coverage_after": coverage(
                np.clip(f - factor * (f - lo), 0.0, None), f + factor * (hi - f), y
            ),
        }
    return out
