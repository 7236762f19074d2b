"""The one fallback rule: a branch overrules the fusion only on group-by-group evidence."""

from __future__ import annotations

import numpy as np
import pytest

from dt_platform.phm.evidence import choose_branch, per_group_rmse, sign_flip_p


def test_sign_flip_p_is_exact_for_small_samples() -> None:
    assert sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(1 / 8)  # only the observed pattern
    assert sign_flip_p([1.0] * 5) == pytest.approx(1 / 32)
    assert sign_flip_p([1.0, -1.0]) == pytest.approx(3 / 4)  # ties with the observed mean count
    assert sign_flip_p([]) == 1.0
    assert sign_flip_p([-1.0, -2.0, -3.0]) == 1.0
    big = np.random.default_rng(0).normal(1.0, 1.0, size=40)
    assert 0 < sign_flip_p(big) < 0.001  # drawn patterns, never 0


def test_sign_flip_p_counts_every_sign_pattern_as_extreme() -> None:
    assert sign_flip_p(np.array([1.0, 1.0, 1.0])) == pytest.approx(1 / 8)
    # against all 32 sign patterns counted by brute force
    d = np.array([3.0, -1.0, 1.0, 1.0, 2.0])
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 5)).reshape(5, -1).T
    assert sign_flip_p(d) == pytest.approx(np.mean(signs @ d >= d.sum() - 1e-9))
    assert sign_flip_p(np.array([-1.0, -2.0])) == 1.0
    assert sign_flip_p(np.array([])) == 1.0
    # many values: random patterns; a clear gain is still detected
    assert sign_flip_p(np.full(30, 2.0) + np.linspace(-1, 1, 30)) < 0.001


def test_per_group_rmse_scores_each_group_on_its_own_rows() -> None:
    groups = np.array(["b", "a", "b", "a"])
    out = per_group_rmse(np.array([1.0, 0.0, 3.0, 2.0]), np.zeros(4), groups)
    assert out == pytest.approx([np.sqrt(2.0), np.sqrt(5.0)])  # order of np.unique: a, b


def _rows(gains: list[float], rows_per_group: int = 50, seed: int = 0):
    """Truth 0; the branch is off by 1 everywhere; the fusion is off by 1 + gain in each group."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(gains)), rows_per_group)
    sign = rng.choice([-1.0, 1.0], size=groups.size)
    branch = sign * 1.0
    fused = sign * (1.0 + np.asarray(gains)[groups])
    return np.zeros(groups.size), fused, branch, groups


def test_a_branch_that_wins_on_every_one_of_many_groups_overrules_the_fusion() -> None:
    y, fused, branch, groups = _rows([0.3] * 8)
    out = choose_branch(y, fused, {"ml": branch, "physics": fused + 5.0}, groups)
    assert out["candidate"] == "ml" and out["fallback"] == "ml"
    assert out["groups"] == 8 and out["groups_candidate_better"] == 8
    assert out["p_candidate_better"] == pytest.approx(1 / 256)


def test_three_machines_or_one_lucky_group_are_within_noise() -> None:
    # three groups that all favour the branch: p = 1/8, the fusion stays
    y, fused, branch, groups = _rows([0.3] * 3)
    out = choose_branch(y, fused, {"ml": branch}, groups)
    assert out["rmse_ml"] < out["rmse_fused"] and out["fallback"] is None
    assert out["p_candidate_better"] == pytest.approx(1 / 8)
    # a pooled gain carried by one group while the others go both ways: the fusion stays
    y, fused, branch, groups = _rows([3.0, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1])
    out = choose_branch(y, fused, {"ml": branch}, groups)
    assert out["rmse_ml"] < out["rmse_fused"] and out["fallback"] is None
    # enough groups but min_groups says no
    y, fused, branch, groups = _rows([0.3] * 8)
    assert choose_branch(y, fused, {"ml": branch}, groups, min_groups=9)["fallback"] is None


def test_a_fusion_that_wins_is_kept_however_strong_the_evidence() -> None:
    y, fused, branch, groups = _rows([-0.3] * 10)
    out = choose_branch(y, fused, {"ml": branch, "physics": branch + 2.0}, groups)
    assert out["fallback"] is None and out["groups_candidate_better"] == 0
