"""Return on investment of the predictive twin: a Monte-Carlo model on the closed loop's outcomes.

A manager gives costs (:class:`~dt_platform.twin.costs.Costs`), the platform's set-up cost and
yearly running cost, the fleet (a number of machines, or machines per type) and a horizon; the
model answers, for each maintenance policy, the distribution of the fleet's annual cost and, for
predictive maintenance against preventive and against run-to-failure, the distribution of annual
savings net of the platform's running cost and of the time the savings take to pay the set-up
cost back. Perfect foresight (replacing each component at the last planned stop before its true
failure) is carried along as the upper bound of what any prediction could save.

Method (one draw, repeated ``draws`` times from one seeded generator, so a seed reproduces it):

1. *How well the closed loop pins the rates down*: each (seed, machine) row of the outcomes gets a
   Bayesian-bootstrap weight (Dirichlet(1, …, 1), per machine type when the fleet mix is given).
2. *Which machine-years the fleet meets*: every machine of the fleet, for every year of the
   horizon, is a machine-year assembled from ``k`` rows drawn with those weights, ``k`` ≈ one year
   divided by the rows' typical length (a 90-day run gives k = 4); the same rows for every policy,
   so the policies are compared on the same machines, seeds and component lives (paired).
3. *Costs*: a machine-year's cost under a policy is the manager's costs applied to the rows'
   event counts and hours (failures, planned jobs, inspections, production lost, derate), divided
   by their machine-years; downtime is priced once, through the production it loses. The
   fleet's annual cost is the sum over machines, averaged over the horizon's years.
4. *Savings and payback*: savings = annual cost of the other policy − annual cost of predictive
   − the platform's running cost; payback = set-up cost / savings, infinite when savings ≤ 0.

Each quantity is summarised by its 5/50/95 % quantiles over the draws and by its mean with a 90 %
interval for the mean (Monte-Carlo error, which narrows as draws grow).

Assumptions (say them wherever the figures are shown, :data:`ASSUMPTIONS`): the closed loop's
simulated machines stand for the real fleet; rows are independent, so a machine-year made of
short runs ignores wear carried from one run into the next; costs are linear in the counts and
hours, with no discounting, inflation or capacity limits across the fleet; the platform's
running cost is one yearly figure for the fleet, whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from dt_platform.twin.costs import Costs
from dt_platform.twin.roi_outcomes import POLICIES, Outcomes

__all__ = [
    "ASSUMPTIONS",
    "COMPARISONS",
    "Payback",
    "RoiError",
    "RoiInputs",
    "RoiResult",
    "Spread",
    "run_roi",
]

COMPARISONS: dict[str, tuple[str, str]] = {
    "predictive_vs_preventive": ("predictive", "preventive"),
    "predictive_vs_run_to_failure": ("predictive", "run_to_failure"),
    "perfect_foresight_vs_preventive": ("perfect_foresight", "preventive"),
    "perfect_foresight_vs_run_to_failure": ("perfect_foresight", "run_to_failure"),
}
"""Comparison → (policy with the platform, policy it replaces)."""
ASSUMPTIONS = (
    "Every cost figure is an assumption to change, not a measurement.",
    "The closed loop's simulated machines stand for the real fleet.",
    "Rows of the outcomes are independent: a machine-year made of short runs ignores wear carried "
    "from one run into the next.",
    "Costs are linear in events and hours; no discounting, inflation or fleet-wide capacity limit.",
    "The platform's running cost is one yearly figure for the whole fleet.",
)
MAX_MACHINES = 10_000
MAX_DRAWS = 20_000
MAX_YEARS = 30
MAX_SEGMENTS = 52
MAX_SAMPLES = 60_000_000
_CHUNK = 2_000_000


class RoiError(ValueError):
    """Inputs the model cannot use (the message says which and why)."""


@dataclass(frozen=True)
class RoiInputs:
    """A manager's inputs. ``machines``: a fleet size (machine types mixed as in the outcomes)
    or machines per type; ``running_cost`` is per year; ``setup_cost`` once."""

    costs: Costs = field(default_factory=Costs)
    setup_cost: float = 150_000.0
    running_cost: float = 30_000.0
    machines: int | Mapping[str, int] = 20
    years: int = 5
    seed: int = 0
    draws: int = 2_000

    def __post_init__(self) -> None:
        for name in ("setup_cost", "running_cost"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise RoiError(f"{name} must be a number ≥ 0, got {value!r}")
        for name in ("unplanned_failure", "planned_job", "lost_production_per_h",
                     "derate_loss_per_pct_h", "inspection"):  # fmt: skip
            value = getattr(self.costs, name)
            if not np.isfinite(value) or value < 0:
                raise RoiError(f"costs.{name} must be a number ≥ 0, got {value!r}")
        try:
            fleet = self.fleet()
        except (TypeError, ValueError) as exc:
            raise RoiError(f"machines must be a number or {{type: number}}: {exc}") from exc
        if any(n < 0 for n in fleet.values()) or not 0 < sum(fleet.values()) <= MAX_MACHINES:
            raise RoiError(f"the fleet must have 1 to {MAX_MACHINES:,} machines, got {fleet}")
        if not 1 <= self.years <= MAX_YEARS:
            raise RoiError(f"years must be 1 to {MAX_YEARS}, got {self.years}")
        if not 2 <= self.draws <= MAX_DRAWS:
            raise RoiError(f"draws must be 2 to {MAX_DRAWS:,}, got {self.draws}")

    def fleet(self) -> dict[str | None, int]:
        """Machines per type; the single key ``None`` for a fleet mixed as in the outcomes."""
        if isinstance(self.machines, Mapping):
            return {str(t): int(n) for t, n in self.machines.items()}
        return {None: int(self.machines)}


@dataclass(frozen=True)
class Spread:
    """A quantity over the draws: quantiles, and its mean with a 90 % interval for the mean."""

    p5: float
    p50: float
    p95: float
    mean: float
    mean_lo: float
    mean_hi: float

    @classmethod
    def of(cls, values: np.ndarray) -> Spread:
        p5, p50, p95 = np.quantile(values, [0.05, 0.5, 0.95])
        mean = float(values.mean())
        half = 1.6449 * float(values.std(ddof=1)) / np.sqrt(len(values))
        return cls(float(p5), float(p50), float(p95), mean, mean - half, mean + half)


@dataclass(frozen=True)
class Payback:
    """Payback years over the draws (quantiles taken among the draws themselves, ``inf`` =
    never), the share of draws never paying back and the share paying back within the horizon."""

    p5: float
    p50: float
    p95: float
    never_share: float
    within_horizon_share: float

    @classmethod
    def of(cls, years: np.ndarray, horizon: int) -> Payback:
        p5, p50, p95 = np.quantile(years, [0.05, 0.5, 0.95], method="inverted_cdf")
        never = float(np.isinf(years).mean())
        within = float((years <= horizon).mean())
        return cls(float(p5), float(p50), float(p95), never, within)


@dataclass(frozen=True)
class RoiResult:
    """Per-draw values (arrays of length ``inputs.draws``) and their summaries."""

    inputs: RoiInputs
    outcomes: Outcomes
    segments: dict[str | None, int]
    """Rows assembled into one machine-year, per fleet group."""
    annual_cost: dict[str, np.ndarray]
    savings: dict[str, np.ndarray]
    """Annual savings net of the running cost, per comparison of :data:`COMPARISONS`."""
    payback_years: dict[str, np.ndarray]

    def cost_spread(self, policy: str) -> Spread:
        return Spread.of(self.annual_cost[policy])

    def savings_spread(self, comparison: str) -> Spread:
        return Spread.of(self.savings[comparison])

    def payback(self, comparison: str) -> Payback:
        return Payback.of(self.payback_years[comparison], self.inputs.years)

    def positive_share(self, comparison: str) -> float:
        """Share of draws in which the comparison saves money (net of running cost)."""
        return float((self.savings[comparison] > 0).mean())

    def bound_exceeded_share(self, against: str) -> float | None:
        """Share of draws in which predictive saves more than perfect foresight against
        ``against`` (None without perfect foresight in the outcomes)."""
        bound = self.savings.get(f"perfect_foresight_vs_{against}")
        if bound is None:
            return None
        return float((self.savings[f"predictive_vs_{against}"] > bound).mean())


def _segments(outcomes: Outcomes, rows: np.ndarray) -> int:
    typical = float(np.median(outcomes.policies["predictive"].machine_years[rows]))
    return int(min(MAX_SEGMENTS, max(1, round(1.0 / typical))))


def _groups(outcomes: Outcomes, inputs: RoiInputs) -> list[tuple[str | None, np.ndarray, int]]:
    groups = []
    for machine_type, count in inputs.fleet().items():
        rows = outcomes.rows_of(machine_type)
        if machine_type is not None and rows.size == 0:
            raise RoiError(
                f"the outcomes ({outcomes.source}) have no {machine_type!r} machines; "
                f"their types: {', '.join(outcomes.types)}"
            )
        if count > 0:
            groups.append((machine_type, rows, count))
    return groups


def _draw_indices(rng: np.random.Generator, cum: np.ndarray, size: int) -> np.ndarray:
    """``size`` indices per draw, draw i's from the distribution with cumulative weights
    ``cum[i]`` (one vectorised inverse-CDF lookup for all draws)."""
    d, n = cum.shape
    offsets = np.arange(d)[:, None]
    flat = (cum + offsets).ravel()
    u = rng.random((d, size)) + offsets
    idx = np.searchsorted(flat, u.ravel(), side="right").reshape(d, size) - offsets * n
    return np.minimum(idx, n - 1)


def _fleet_costs(outcomes: Outcomes, inputs: RoiInputs, rng: np.random.Generator):
    policies = [p for p in POLICIES if p in outcomes.policies]
    costs = {p: outcomes.policies[p].cost(inputs.costs) for p in policies}
    years = {p: outcomes.policies[p].machine_years for p in policies}
    total = {p: np.zeros(inputs.draws) for p in policies}
    segments: dict[str | None, int] = {}
    groups = _groups(outcomes, inputs)
    samples = sum(inputs.draws * inputs.years * n * _segments(outcomes, r) for _, r, n in groups)
    if samples > MAX_SAMPLES:
        raise RoiError(
            f"{samples:,} machine-year pieces to draw, more than the {MAX_SAMPLES:,} this model "
            "computes at once: lower the draws, the fleet or the years"
        )
    for machine_type, rows, count in groups:
        k = segments[machine_type] = _segments(outcomes, rows)
        weights = rng.dirichlet(np.ones(rows.size), size=inputs.draws)
        cum = np.cumsum(weights, axis=1)
        cum[:, -1] = 1.0
        per_draw = inputs.years * count * k
        step = max(1, _CHUNK // per_draw)
        for start in range(0, inputs.draws, step):
            stop = min(start + step, inputs.draws)
            picked = rows[_draw_indices(rng, cum[start:stop], per_draw)]
            picked = picked.reshape(stop - start, inputs.years * count, k)
            for p in policies:
                machine_years = costs[p][picked].sum(-1) / years[p][picked].sum(-1)
                total[p][start:stop] += machine_years.sum(-1) / inputs.years
    return total, segments


def run_roi(outcomes: Outcomes, inputs: RoiInputs) -> RoiResult:
    """The Monte-Carlo model (see the module docstring); the same inputs give the same result."""
    rng = np.random.default_rng(inputs.seed)
    annual, segments = _fleet_costs(outcomes, inputs, rng)
    savings, payback = {}, {}
    for name, (with_platform, replaced) in COMPARISONS.items():
        if with_platform not in annual:
            continue
        net = annual[replaced] - annual[with_platform] - inputs.running_cost
        savings[name] = net
        with np.errstate(divide="ignore"):
            payback[name] = np.where(net > 0, inputs.setup_cost / np.maximum(net, 1e-300), np.inf)
    return RoiResult(inputs, outcomes, segments, annual, savings, payback)
