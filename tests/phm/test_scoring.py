"""Scores against hand-computed values (numbers worked out on paper, not by the code under test)."""

import math

import numpy as np
import pytest

from dt_platform.phm.scoring import (
    coverage,
    interval_width,
    mae,
    phm08_asymmetry,
    phm08_score,
    rmse,
)


def test_rmse_hand_case() -> None:
    # errors 3, -4, 0 -> mean square (9 + 16 + 0) / 3 = 25/3
    assert rmse([13, 6, 7], [10, 10, 7]) == pytest.approx(math.sqrt(25 / 3))
    assert mae([13, 6, 7], [10, 10, 7]) == pytest.approx(7 / 3)


def test_phm08_score_late_is_punished_more_than_early() -> None:
    # d = +10 (late): e^(10/10) - 1 = e - 1; d = -13 (early): e^(13/13) - 1 = e - 1
    assert phm08_score([20], [10]) == pytest.approx(math.e - 1)
    assert phm08_score([0], [13]) == pytest.approx(math.e - 1)
    # same |d| = 10: late costs e^1 - 1 = 1.71828, early e^(10/13) - 1 = 1.158106
    assert phm08_score([110], [100]) == pytest.approx(1.718281828, rel=1e-9)
    assert phm08_score([90], [100]) == pytest.approx(1.158106, rel=1e-5)
    # a sum over units, zero for perfect predictions
    assert phm08_score([110, 90, 50], [100, 100, 50]) == pytest.approx(
        1.718281828 + 1.158106, rel=1e-5
    )
    assert phm08_score([5, 6], [5, 6]) == 0.0


def test_phm08_asymmetry_matches_score_ratio() -> None:
    assert phm08_asymmetry(10) == pytest.approx(
        phm08_score([110], [100]) / phm08_score([90], [100])
    )
    assert phm08_asymmetry(10) == pytest.approx(1.718282 / 1.158106, rel=1e-5)


def test_coverage_counts_closed_interval() -> None:
    lo, hi, truth = [0, 10, 10, 5], [10, 20, 20, 6], [10, 9, 20, 7]
    # inside: 10 in [0,10] yes; 9 in [10,20] no; 20 in [10,20] yes; 7 in [5,6] no
    assert coverage(lo, hi, truth) == 0.5
    assert interval_width(lo, hi) == pytest.approx((10 + 10 + 10 + 1) / 4)


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="align"):
        rmse([1, 2], [1])
    with pytest.raises(ValueError, match="finite"):
        rmse([np.nan], [1])
    with pytest.raises(ValueError, match="lower > upper"):
        coverage([2], [1], [1])
