"""What the twin believes about a component's remaining life: a distribution of the time to
failure T (calendar hours from the prediction) built from the fused RUL and its interval.

**Model: a split log-normal through the three quantiles.** ``ln T`` is normal with its median at
``ln median`` and a different spread on each side: ``σ_lo = ln(median / lo) / z`` below,
``σ_hi = ln(hi / median) / z`` above, ``z = Φ⁻¹(½ + coverage/2)`` (1.645 for 90 %). It passes
exactly through the median and both interval ends, whatever their asymmetry, and stays on T > 0.

Why log-normal: times to failure of wear-out mechanisms (fatigue, wear, oxidation) are classically
log-normal, and the fused interval is multiplicative in character (wider for longer RULs). Why
split: the fused interval is often asymmetric (the data branch is capped at its horizon, the
physics branch is not); forcing one σ would misplace one end.

Tails, stated: the lower tail (early failure — what the decisions hinge on) follows the interval's
lower end with a log-normal decay; it is not made thinner than that. An interval whose lower end
is 0 or below is read as reaching one hour (the predictions' resolution). σ is kept within
[0.05, 3] on each side so a degenerate interval (lo = median) still admits some doubt and a
runaway one does not put mass at absurd ages. Beyond ``hi`` the tail is heavier than a normal's
but it hardly matters: the policy looks at most a few weeks ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["RulBelief"]

MIN_HOURS = 1.0
"""Floor of the median and the interval ends (hourly predictions)."""
SIGMA_MIN, SIGMA_MAX = 0.05, 3.0
MAX_HOURS = 1e6


def _clean(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"RUL {name} must be a number of hours, not {value!r}")
    return float(min(max(value, MIN_HOURS), MAX_HOURS))


@dataclass(frozen=True)
class RulBelief:
    """Split log-normal time to failure (hours from now). Build with :meth:`from_interval`."""

    median_h: float
    sigma_lo: float
    sigma_hi: float
    lo_h: float
    hi_h: float
    coverage: float = 0.9

    @classmethod
    def from_interval(
        cls, median_h: float, lo_h: float, hi_h: float, coverage: float = 0.9
    ) -> RulBelief:
        """The belief through ``median_h`` and the ``coverage`` interval ``[lo_h, hi_h]``."""
        if not 0.5 <= coverage < 1.0:
            raise ValueError(f"coverage must be in [0.5, 1), not {coverage}")
        m = _clean("median", median_h)
        lo = min(_clean("lower end", lo_h), m)
        hi = max(_clean("upper end", hi_h), m)
        z = float(ndtri(0.5 + coverage / 2.0))
        s_lo = min(max(math.log(m / lo) / z, SIGMA_MIN), SIGMA_MAX)
        s_hi = min(max(math.log(hi / m) / z, SIGMA_MIN), SIGMA_MAX)
        return cls(m, s_lo, s_hi, lo, hi, coverage)

    def cdf(self, hours: Any) -> np.ndarray:
        """P(T ≤ hours), elementwise (0 for hours ≤ 0)."""
        h = np.asarray(hours, dtype=float)
        with np.errstate(divide="ignore"):
            x = np.log(np.maximum(h, 1e-12) / self.median_h)
        z = np.where(x < 0, x / self.sigma_lo, x / self.sigma_hi)
        return np.where(h > 0, ndtr(z), 0.0)

    def p_fail_within(self, hours: float) -> float:
        """P(the component fails within ``hours`` from now)."""
        return float(self.cdf(hours))

    def quantile(self, q: float) -> float:
        """The time by which the component has failed with probability ``q``."""
        if not 0 < q < 1:
            raise ValueError(f"a quantile is in (0, 1), not {q}")
        z = float(ndtri(q))
        return self.median_h * math.exp(z * (self.sigma_lo if z < 0 else self.sigma_hi))

    def stretched(self, factor: float) -> RulBelief:
        """The belief when wear runs ``1/factor`` times as fast (``factor`` > 1: slower wear)."""
        if not factor > 0:
            raise ValueError("the stretch factor must be positive")
        return RulBelief(
            self.median_h * factor, self.sigma_lo, self.sigma_hi,
            self.lo_h * factor, self.hi_h * factor, self.coverage,
        )  # fmt: skip

    def summary(self) -> dict[str, float]:
        return {
            "median_h": round(self.median_h, 2),
            "lo_h": round(self.lo_h, 2),
            "hi_h": round(self.hi_h, 2),
            "coverage": self.coverage,
            "sigma_lo": round(self.sigma_lo, 4),
            "sigma_hi": round(self.sigma_hi, 4),
        }
