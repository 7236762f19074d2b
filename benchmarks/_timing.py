"""Timing shared by the benchmarks (a helper, not a benchmark: ``make bench`` skips ``_*.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(repeat: int, fn: Callable[[], T]) -> tuple[float, T]:
    """The fastest of ``repeat`` runs of ``fn`` (seconds) and the last run's result."""
    if repeat < 1:
        raise ValueError(f"best_of: repeat must be at least 1, got {repeat}")
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result
