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

from dt_platform.phm.evidence import FALLBACK_ALPHA, MIN_GROUPS, choose_branch
from dt_platform.phm.fleet.model import combine_branches
from dt_platform.phm.fusion import Fuser
from dt_platform.phm.schemas import FUSED_COLS, ML_COLS, PHYSICS_COLS


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


def choose_fallbacks(
    rows: pl.DataFrame, *, min_machines: int = MIN_GROUPS, alpha: float = FALLBACK_ALPHA
) -> dict[str, dict[str, Any]]:
    """Per machine type, the RMSE of each branch and of the fusion on held-out rows, and the
    ``fallback`` branch (``ml`` or ``physics``) reported instead of the fusion, else None.

    The rule is the one the C-MAPSS fuser uses (:func:`~dt_platform.phm.evidence.choose_branch`),
    with the machine as the unit of evidence: the fusion is kept unless the better branch beats
    it machine by machine beyond chance (a sign-flip test at ``alpha``: five machines that all
    favour the branch are the least that can overrule the fusion, three never do), on at least
    ``min_machines`` held-out machines.

    ``rows``: cross-fitted rows (:func:`cross_fitted_predictions`) with the true ``rul_h``, of
    lives that ended in a failure, within the horizon, both branches present — the rows the fusion
    is built for. The physics is scored as it would be reported (unclipped).
    """
    out: dict[str, dict[str, Any]] = {}
    for (mtype,), part in sorted(rows.group_by("machine_type"), key=lambda g: str(g[0])):
        decision = choose_branch(
            part["rul_h"].to_numpy(),
            part[FUSED_COLS[0]].to_numpy(),
            {"physics": part[PHYSICS_COLS[0]].to_numpy(), "ml": part[ML_COLS[0]].to_numpy()},
            part["machine_id"].to_numpy(),
            alpha=alpha,
            min_groups=min_machines,
        )
        groups = decision.pop("groups")
        better = decision.pop("groups_candidate_better")
        out[str(mtype)] = {
            "rows": part.height,
            "machines": groups,
            "machines_candidate_better": better,
            **decision,
        }
    return out


def interval_scales(
    rows: pl.DataFrame, target: float, *, min_machines: int = 8
) -> dict[str, dict[str, Any]]:
    """The factor that stretches the reported interval's halves (around the reported value) so
    that it covers ``target`` of the truths of a *new machine*: per machine type, and pooled
    over the types (key ``"*"``), with the coverage before and after.

    Conformal by machine, not by row. Rows of one machine share its errors (its wear rate, its
    fault, how far off the damage law is for it): between machines the coverage of one interval
    varies ten times more than a few hundred independent rows would let it. So held-out rows
    are a few machines' worth of evidence, and a row quantile weighs a machine by its rows.
    Leaving one machine out at a time on the held-out rows of the seed-7 training fleet, a
    factor from the other machines' row quantile covered the left-out machine 86-87 % on
    average (per type or pooled over the types), the machine quantile pooled over the types
    90 %; per type the spread between machines also grew (sd 0.18 against 0.15).

    Each row needs the factor at which the interval just reaches its truth; each machine's
    needs form its own coverage curve, and the factor is the smallest at which the machines'
    curves, weighted equally, average ``target`` (the target quantile of the pooled
    per-machine distributions — the "pooling CDFs" method of Dunn, Wasserman & Ramdas 2022 for
    two-layer hierarchical data).

    A type gets its own factor only when held out on at least ``min_machines`` machines; with
    fewer (a fleet of 16 holds ~4 per type) which machines happened to be drawn decides it more
    than the type does, and the factor pooled over all machines is used. ``coverage_before`` /
    ``coverage_after`` are over rows; ``machine_coverage_*`` the mean of the machines' own.

    ``rows`` as for :func:`choose_fallbacks`, with the reported (fused or fallback) values.
    """
    if rows.is_empty():
        return {}
    need = _needed_factor(rows)
    machines = rows["machine_id"].to_numpy()
    pooled = machine_quantile(need, machines, target)
    groups = [("*", np.ones(rows.height, dtype=bool))] + [
        (str(t), (rows["machine_type"] == t).to_numpy())
        for t in sorted(rows["machine_type"].unique().to_list())
    ]
    out: dict[str, dict[str, Any]] = {}
    for name, sel in groups:
        n_machines = len(np.unique(machines[sel]))
        own = name != "*" and n_machines >= min_machines
        factor = machine_quantile(need[sel], machines[sel], target) if own else pooled
        out[name] = {
            "factor": factor,
            "machines": n_machines,
            "factor_from": "own" if own else "pooled",
            "coverage_before": float(np.mean(need[sel] <= 1.0)),
            "coverage_after": float(np.mean(need[sel] <= factor)),
            "machine_coverage_before": _machine_mean(need[sel] <= 1.0, machines[sel]),
            "machine_coverage_after": _machine_mean(need[sel] <= factor, machines[sel]),
        }
    return out


def machine_quantile(values: np.ndarray, machines: np.ndarray, target: float) -> float:
    """The smallest ``v`` of ``values`` with ``mean over machines of P_m(value ≤ v) ≥ target``:
    the ``target`` quantile of ``values`` with every machine's rows weighing 1 / (machines ×
    its rows). NaN for no values."""
    if values.size == 0:
        return float("nan")
    _, inverse, counts = np.unique(machines, return_inverse=True, return_counts=True)
    weight = 1.0 / (counts.size * counts[inverse])
    order = np.argsort(values, kind="stable")
    reached = np.cumsum(weight[order]) >= target - 1e-12
    return float(values[order][np.argmax(reached)])


def _machine_mean(flags: np.ndarray, machines: np.ndarray) -> float:
    _, inverse, counts = np.unique(machines, return_inverse=True, return_counts=True)
    return float(np.mean(np.bincount(inverse, weights=flags.astype(np.float64)) / counts))


def _needed_factor(rows: pl.DataFrame) -> np.ndarray:
    """Per row, the factor the interval's halves need around the reported value to reach the
    truth (0 where the value is exact)."""
    y = rows["rul_h"].to_numpy()
    f, lo, hi = (rows[c].to_numpy() for c in FUSED_COLS)
    return np.maximum(
        np.where(y < f, (f - y) / np.clip(f - lo, 1e-6, None), 0.0),
        np.where(y > f, (y - f) / np.clip(hi - f, 1e-6, None), 0.0),
    )
