"""Speed of the servo's Vce(on) trend reading over a whole life: running sums versus a refit.

A servo module already in service when the telemetry began is read hour by hour from the shape
of its Vce(on) rise (:func:`dt_platform.phm.fitting.vce_trend.vce_trend`); training replays
every hour of every such life in every fold. Each hour's fit reads all the measured hours
before it. In the same process, on the same deterministic module (``--hours`` long, default
a year, one unit of exposure an hour, 2 % of hours unmeasured, the exposure imputed before the
data moving through the first week):

* ``running``: the library, sums carried from hour to hour (linear in the life's length);
* ``refit``: the implementation it replaced (2026-12-07), kept here as the baseline: a
  vectorized least-squares fit from scratch at every hour (quadratic).

Both give the same fits (checked here, and in ``tests/phm/test_vce_trend.py``). Each timing is
the best of ``--repeat`` runs (default 3). Prints one JSON line on stdout; ``ratio`` = refit
seconds ÷ running seconds. Usage: ``python benchmarks/vce_trend.py [--hours 8760]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import best_of  # benchmarks/_timing.py, beside this script

from dt_platform.phm.fitting.vce import MIN_HOURS
from dt_platform.phm.fitting.vce_trend import vce_trend

K = 2.0


def module(hours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ln Vce(on), exposure and exposure before the data of a module half-way through its
    life when the data begin."""
    rng = np.random.default_rng(7)
    life = 2.0 * hours
    e = np.arange(1.0, hours + 1.0)
    y = np.log(1.7) + 0.05 * ((hours + e) / life) ** K + 0.002 * rng.standard_normal(hours)
    y[rng.uniform(size=hours) < 0.02] = np.nan
    before = np.where(np.arange(hours) < 168, hours - 168 + np.arange(hours), float(hours))
    return y, e, before


def refit(y: np.ndarray, e: np.ndarray, before: np.ndarray, k: float) -> np.ndarray:
    """The replaced implementation's level per hour: a fit from scratch at every hour."""
    level = np.full(y.size, np.nan)
    measured = np.flatnonzero(np.isfinite(y) & np.isfinite(e))
    ys = y[measured] - y[measured[0]]
    for t in range(measured[MIN_HOURS - 1], y.size):
        total = before[t] + e[t]
        m = int(np.searchsorted(measured, t, side="right"))
        x = ((before[t] + e[measured[:m]]) / total) ** k
        yy = ys[:m]
        xm, ym = x.mean(), yy.mean()
        spread = float(((x - xm) ** 2).sum())
        beta = float(((x - xm) * (yy - ym)).sum()) / spread
        if beta > 0:
            level[t] = beta
    return level


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=8760, help="the life's length (hours)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    if args.hours < 2 * MIN_HOURS or args.repeat < 1:
        parser.error(f"--hours must be at least {2 * MIN_HOURS} and --repeat at least 1")
    y, e, before = module(args.hours)
    running_s, trend = best_of(args.repeat, lambda: vce_trend(y, e, before, K))
    refit_s, level = best_of(args.repeat, lambda: refit(y, e, before, K))
    same = bool(
        np.array_equal(np.isnan(trend.level), np.isnan(level))
        and np.allclose(trend.level, level, rtol=1e-7, equal_nan=True)
    )
    print(
        json.dumps(
            {
                "benchmark": "vce_trend",
                "hours": args.hours,
                "hours_fitted": int(np.isfinite(level).sum()),
                "running_s": round(running_s, 4),
                "refit_s": round(refit_s, 4),
                "ratio": round(refit_s / running_s, 1),
                "same_fits": same,
            }
        )
    )
    if not same:
        sys.exit("vce_trend benchmark: the running sums and the refit disagree")


if __name__ == "__main__":
    main()
