"""When a branch may overrule the fusion: one rule for the C-MAPSS fuser and the fleet model.

The fusion of the two branches is the default report. It gives way to a branch only when the
held-out data show, group by group (unit, machine), that the branch beats it. The unit of
evidence is the group, not the row: rows of one machine share its errors, so a gain pooled over
a thousand rows of three machines is three observations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dt_platform.phm.scoring import rmse

FALLBACK_ALPHA = 0.05
"""Level of the sign-flip test a branch must pass to overrule the fusion."""
MIN_GROUPS = 3
"""Fewest held-out groups on which a branch may overrule the fusion at all."""


def sign_flip_p(d: Sequence[float] | np.ndarray, *, draws: int = 20_000, seed: int = 0) -> float:
    """One-sided p-value of mean(``d``) > 0 by flipping the signs of ``d``: under the null each
    value is as likely positive as negative, so ``p`` is the share of sign patterns whose mean is
    at least the observed one (exact for up to 16 values, else ``draws`` random patterns). No
    normality is assumed; the smallest possible ``p`` is ``2⁻ⁿ``. 1.0 for no values."""
    d = np.asarray(d, dtype=np.float64)
    if d.size == 0:
        return 1.0
    if d.size <= 16:
        signs = 1.0 - 2.0 * ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1)
    else:
        signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(draws, d.size))
        signs[0] = 1.0  # the observed pattern counts: p is never 0
    means = signs @ d / d.size
    # a tolerance so that ties with the observed mean count despite float rounding
    return float(np.mean(means >= d.mean() - 1e-9 * (1.0 + np.abs(d).max())))


def per_group_rmse(predicted: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """RMSE of each group's rows, in the order of ``np.unique(groups)``."""
    _, inverse = np.unique(groups, return_inverse=True)
    sq = (np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)) ** 2
    return np.sqrt(np.bincount(inverse, weights=sq) / np.bincount(inverse))


def choose_branch(
    truth: np.ndarray,
    fused: np.ndarray,
    branches: Mapping[str, np.ndarray],
    groups: np.ndarray,
    *,
    alpha: float = FALLBACK_ALPHA,
    min_groups: int = MIN_GROUPS,
) -> dict[str, Any]:
    """The branch to report instead of the fusion (``fallback``), or None to keep the fusion.

    All inputs are held-out values of the same rows. The candidate is the branch with the lowest
    pooled RMSE; for each group ``d = RMSE(fused) − RMSE(candidate)`` on its rows, and the
    candidate overrules the fusion when

    * its pooled RMSE is strictly below the fusion's,
    * there are at least ``min_groups`` groups, and
    * the sign-flip test (:func:`sign_flip_p`) of mean ``d`` > 0 rejects "no gain" at ``alpha``:
      at 0.05 five groups that all favour the branch are the least that can overrule the
      fusion; three that all do (p = 1/8) are within noise.

    Returns the pooled RMSEs (``rmse_fused``, ``rmse_<branch>``), ``groups``, ``candidate``,
    ``groups_candidate_better``, ``p_candidate_better`` and ``fallback``.
    """
    y = np.asarray(truth, dtype=np.float64)
    scores = {"fused": rmse(fused, y), **{k: rmse(v, y) for k, v in branches.items()}}
    candidate = min(branches, key=lambda k: scores[k])
    gain = per_group_rmse(fused, y, groups) - per_group_rmse(branches[candidate], y, groups)
    p = sign_flip_p(gain)
    overrules = scores[candidate] < scores["fused"] and len(gain) >= min_groups and p <= alpha
    return {
        **{f"rmse_{k}": v for k, v in scores.items()},
        "groups": len(gain),
        "candidate": candidate,
        "groups_candidate_better": int((gain > 0).sum()),
        "p_candidate_better": p,
        "fallback": candidate if overrules else None,
    }
