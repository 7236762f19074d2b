"""The ROI model: its arithmetic on hand-made tables, its sampling, and the sanity cases of issue
14 (zero failure cost, the perfect-foresight bound, reproducibility, Monte-Carlo error, payback
that never comes)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dt_platform.twin.costs import Costs
from dt_platform.twin.roi import RoiError, RoiInputs, _draw_indices, run_roi
from dt_platform.twin.roi_outcomes import parse_outcomes
from dt_platform.twin.roi_report import describe, summary
from tests.twin.roi_fixtures import synthetic, uniform

OUTCOMES = parse_outcomes(synthetic(), "synthetic")
COSTS = Costs(unplanned_failure=1000, planned_job=100, lost_production_per_h=10,
              derate_loss_per_pct_h=1, inspection=5)  # fmt: skip


def run(outcomes=OUTCOMES, **inputs):
    inputs.setdefault("draws", 400)
    return run_roi(outcomes, RoiInputs(**inputs))


def test_hand_computed_costs_savings_and_payback_on_identical_machines() -> None:
    table = parse_outcomes(
        uniform(
            {
                "run_to_failure": {"unplanned_failures": 2, "production_lost_h": 30},
                "preventive": {"unplanned_failures": 1, "planned_jobs": 2, "production_lost_h": 20},
                "predictive": {
                    "planned_jobs": 1,
                    "inspections": 4,
                    "derate_pct_h": 50,
                    "production_lost_h": 5,
                },
            },
            years=0.25,
        )
    )
    result = run(table, costs=COSTS, machines=10, setup_cost=9_000, running_cost=500, years=3)
    assert result.segments == {None: 4}  # 90-day runs: four make a machine-year
    # per 0.25 machine-year: rtf 2000+300, preventive 1000+200+200, predictive 100+20+50+50
    expected = {"run_to_failure": 2300, "preventive": 1400, "predictive": 220}
    for policy, cost in expected.items():
        np.testing.assert_allclose(result.annual_cost[policy], 10 * 4 * cost)
    np.testing.assert_allclose(result.savings["predictive_vs_preventive"], 40 * 1180 - 500)
    np.testing.assert_allclose(result.savings["predictive_vs_run_to_failure"], 40 * 2080 - 500)
    np.testing.assert_allclose(result.payback_years["predictive_vs_preventive"], 9000 / 46700)
    assert "perfect_foresight_vs_preventive" not in result.savings


def test_the_sampling_follows_the_weights() -> None:
    rng = np.random.default_rng(5)
    weights = np.array([[0.1, 0.6, 0.3], [1.0, 0.0, 0.0]])
    idx = _draw_indices(rng, np.cumsum(weights, axis=1), 20_000)
    assert np.all(idx[1] == 0)
    np.testing.assert_allclose(np.bincount(idx[0], minlength=3) / 20_000, weights[0], atol=0.01)


def test_the_mean_annual_cost_is_the_outcomes_rate_times_the_fleet() -> None:
    result = run(costs=COSTS, machines=30, draws=4000)
    for policy, table in OUTCOMES.policies.items():
        rates = table.cost(COSTS) / table.machine_years
        spread = result.cost_spread(policy)
        se = (spread.mean_hi - spread.mean_lo) / 2 / 1.6449
        assert abs(spread.mean - 30 * rates.mean()) < 4 * se, policy


def test_zero_failure_cost_makes_predictive_no_better_than_run_to_failure() -> None:
    free_failures = Costs(unplanned_failure=0, lost_production_per_h=0)
    result = run(costs=free_failures, running_cost=0, setup_cost=100_000)
    savings = result.savings["predictive_vs_run_to_failure"]
    assert savings.max() <= 1e-9
    assert result.payback("predictive_vs_run_to_failure").never_share == 1.0
    # with the default costs the same outcomes do save (the test above is not vacuous)
    assert run(running_cost=0).savings_spread("predictive_vs_run_to_failure").p5 > 0


def test_perfect_foresight_bounds_the_savings_from_above() -> None:
    result = run(draws=1000)
    for against in ("preventive", "run_to_failure"):
        bound = result.savings[f"perfect_foresight_vs_{against}"]
        assert np.all(bound >= result.savings[f"predictive_vs_{against}"] - 1e-6)
        assert result.bound_exceeded_share(against) == 0.0
        assert result.savings_spread(f"perfect_foresight_vs_{against}").p50 > 0


def test_a_perfect_foresight_that_is_beaten_is_reported() -> None:
    # planned jobs dearer than failures: perfect foresight's jobs cost more than predictive's
    result = run(costs=Costs(planned_job=50_000, unplanned_failure=1_000))
    assert result.bound_exceeded_share("run_to_failure") > 0.5
    assert any("no upper bound" in line for line in describe(result))


def test_the_same_seed_gives_the_same_result_and_another_seed_another() -> None:
    a, b, c = run(seed=7), run(seed=7), run(seed=8)
    for name in a.savings:
        np.testing.assert_array_equal(a.savings[name], b.savings[name])
    assert not np.array_equal(a.savings["predictive_vs_preventive"],
                              c.savings["predictive_vs_preventive"])  # fmt: skip
    assert json.dumps(summary(a), sort_keys=True) == json.dumps(summary(b), sort_keys=True)


def test_more_draws_narrow_the_interval_of_the_mean() -> None:
    few = run(draws=200).savings_spread("predictive_vs_preventive")
    many = run(draws=5000).savings_spread("predictive_vs_preventive")
    assert (many.mean_hi - many.mean_lo) < 0.5 * (few.mean_hi - few.mean_lo)
    assert few.mean_lo < few.mean < few.mean_hi


def test_a_larger_fleet_costs_proportionally_more_with_a_relatively_narrower_spread() -> None:
    small = run(machines=10, draws=2000).cost_spread("run_to_failure")
    large = run(machines=40, draws=2000).cost_spread("run_to_failure")
    assert large.mean == pytest.approx(4 * small.mean, rel=0.05)
    assert (large.p95 - large.p5) / large.mean < (small.p95 - small.p5) / small.mean


def test_savings_that_never_repay_are_reported_as_never() -> None:
    result = run(running_cost=10_000_000)
    assert np.all(result.savings["predictive_vs_preventive"] < 0)
    payback = result.payback("predictive_vs_preventive")
    assert math.isinf(payback.p5) and payback.never_share == 1.0
    assert payback.within_horizon_share == 0.0
    doc = summary(result)["payback_years"]["predictive_vs_preventive"]
    assert doc["p50"] is None and doc["never_share"] == 1.0
    assert "Payback of the set-up cost: never in the median draw" in describe(result)[0]


def test_a_fleet_per_type_draws_from_that_type_only() -> None:
    result = run(machines={"smt_placer": 5, "cnc_spindle": 0}, draws=3000)
    table = OUTCOMES.policies["run_to_failure"]
    rows = OUTCOMES.rows_of("smt_placer")
    rate = (table.cost(Costs()) / table.machine_years)[rows].mean()
    assert result.cost_spread("run_to_failure").mean == pytest.approx(5 * rate, rel=0.05)
    with pytest.raises(RoiError, match="no 'reflow_oven' machines; their types: cnc_spindle"):
        run(machines={"reflow_oven": 2})


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"setup_cost": -1}, "setup_cost must be a number ≥ 0"),
        ({"running_cost": math.inf}, "running_cost must be"),
        ({"machines": 0}, "the fleet must have 1 to"),
        ({"machines": {"smt_placer": -1, "cnc_spindle": 3}}, "the fleet must have"),
        ({"machines": {"smt_placer": "many"}}, "machines must be a number"),
        ({"years": 0}, "years must be 1 to 30"),
        ({"draws": 1}, "draws must be 2 to"),
    ],
)
def test_inputs_out_of_range_are_refused(inputs: dict, message: str) -> None:
    with pytest.raises(RoiError, match=message):
        RoiInputs(**inputs)


def test_a_negative_cost_is_refused() -> None:
    # by Costs itself or, failing that, by the model's inputs
    with pytest.raises(ValueError, match="planned_job must be"):
        RoiInputs(costs=Costs(planned_job=-5))


def test_too_large_a_computation_is_refused_before_it_starts() -> None:
    with pytest.raises(RoiError, match="lower the draws, the fleet or the years"):
        run(machines=10_000, years=30, draws=20_000)


def test_the_summary_is_plain_json_with_the_assumptions() -> None:
    doc = json.loads(json.dumps(summary(run(machines=12, seed=3))))
    assert doc["format"] == "dt-roi/1" and doc["inputs"]["fleet"] == {
        "mixed as in the outcomes": 12
    }
    assert set(doc["annual_cost"]) == {"run_to_failure", "preventive", "predictive",
                                       "perfect_foresight"}  # fmt: skip
    s = doc["annual_savings"]["predictive_vs_preventive"]
    assert s["p5"] <= s["p50"] <= s["p95"] and 0 <= s["positive_share"] <= 1
    assert any("assumption" in a for a in doc["assumptions"])
