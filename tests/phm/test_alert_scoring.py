"""Alert episodes and the cost of a timeline, on a timeline worked out by hand.

Horizon 12 h, hourly cadence, truth observed until t = 40 h:

* A (predictions 0-28 h): alerts 5-7 and 20-28, fails at 28.5. Episode 5-7 ends 21.5 h before
  the failure (> 12 h): false. Episode 20-28: true, lead 8.5 h.
* B (predictions 0-39 h): alerts 0-3, 5 and 35-39, never fails. 0-3 and 5 are two episodes (the
  quiet hour 4 splits them), both false; 35-39 would need the truth up to 51 h: open.
* C (predictions 0, 1, 4, 5 — hours 2 and 3 missing): alerts at all four, fails at 6. Hourly,
  the missing hours split it into 0-1 (lead 6 h) and 4-5 (lead 2 h), both true.
* D (predictions 0-12 h): fails at 10, alerts at 11-12 (after the failure): false.

Episodes 8, scored 7, false 4: share 4/7.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.alert_scoring import (
    AlertCosts,
    alert_cost,
    alert_episodes,
    false_alarm_episode_share,
    lead_times,
    short_notice_share,
    standing_share,
)

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def timeline(spec: dict[str, tuple[list[float], set[float]]]) -> pl.DataFrame:
    rows = [
        {"machine_id": m, "ts": h(t), "alert": t in on}
        for m, (hours, on) in spec.items()
        for t in hours
    ]
    return pl.DataFrame(rows, schema={"machine_id": pl.String, "ts": UTC, "alert": pl.Boolean})


EVALUATIONS = timeline(
    {
        "A": (list(range(29)), {5, 6, 7, *range(20, 29)}),
        "B": (list(range(40)), {0, 1, 2, 3, 5, *range(35, 40)}),
        "C": ([0, 1, 4, 5], {0, 1, 4, 5}),
        "D": (list(range(13)), {11, 12}),
    }
)
FAILURES = pl.DataFrame(
    {"machine_id": ["A", "C", "D"], "failed_at": [h(28.5), h(6.0), h(10.0)]},
    schema={"machine_id": pl.String, "failed_at": UTC},
)


def test_episodes_of_a_hand_made_timeline() -> None:
    ep = alert_episodes(EVALUATIONS, FAILURES, 12.0, observed_until=h(40))
    got = [
        (r["machine_id"], r["start"], r["end"], r["predictions"], r["false"], r["lead_h"])
        for r in ep.sort("machine_id", "start").iter_rows(named=True)
    ]
    assert got == [
        ("A", h(5), h(7), 3, True, None),
        ("A", h(20), h(28), 9, False, pytest.approx(8.5)),
        ("B", h(0), h(3), 4, True, None),
        ("B", h(5), h(5), 1, True, None),
        ("B", h(35), h(39), 5, None, None),
        ("C", h(0), h(1), 2, False, pytest.approx(6.0)),
        ("C", h(4), h(5), 2, False, pytest.approx(2.0)),
        ("D", h(11), h(12), 2, True, None),
    ]
    assert false_alarm_episode_share(ep) == pytest.approx(4 / 7)


def test_the_horizon_the_cadence_and_the_end_of_truth_change_the_episodes() -> None:
    # a 22 h horizon reaches A's failure from its first episode (7 + 22 = 29 >= 28.5)
    ep = alert_episodes(EVALUATIONS, FAILURES, 22.0, observed_until=h(40))
    a = ep.filter(pl.col("machine_id") == "A").sort("start")
    assert a["false"].to_list() == [False, False] and a["lead_h"][0] == pytest.approx(23.5)
    # at a daily cadence C's missing hours do not split its alert
    daily = alert_episodes(EVALUATIONS, FAILURES, 12.0, cadence_h=24.0, observed_until=h(40))
    c = daily.filter(pl.col("machine_id") == "C")
    assert c.height == 1 and c["predictions"][0] == 4 and c["lead_h"][0] == pytest.approx(6.0)
    # without an end of truth, B's last episode is scored false: 5 false of 8
    closed = alert_episodes(EVALUATIONS, FAILURES, 12.0)
    assert closed["false"].null_count() == 0
    assert false_alarm_episode_share(closed) == pytest.approx(5 / 8)


def test_no_alert_no_episode() -> None:
    quiet = EVALUATIONS.with_columns(pl.lit(False).alias("alert"))
    ep = alert_episodes(quiet, FAILURES, 12.0)
    assert ep.is_empty() and math.isnan(false_alarm_episode_share(ep))


def test_cost_of_the_hand_made_timeline() -> None:
    leads = lead_times(EVALUATIONS, FAILURES)
    # A warned 8.5 h ahead (run 20-28); C 6 h (its 2 h gap is within lead_times' 24 h); D missed
    assert leads.sort("machine_id")["lead_h"].to_list() == [
        pytest.approx(8.5),
        pytest.approx(6.0),
        0.0,
    ]
    ep = alert_episodes(EVALUATIONS, FAILURES, 12.0, observed_until=h(40))
    costs = AlertCosts(miss=10.0, false_alarm=1.0, lead_needed_h=5.0, lead_wanted_h=7.0)
    costs = AlertCosts(**{**costs.describe(), "early_per_h": 0.5})
    out = alert_cost(ep, leads, costs)
    # one late (D), C warned on short notice (6 h: half-way from needed to wanted, half a miss),
    # four false episodes, A warned 1.5 h more than wanted
    assert out["warned_late"] == 1 and out["warned_short"] == 1 and out["false_episodes"] == 4
    assert out["early_h"] == pytest.approx(1.5)
    assert out["cost"] == pytest.approx(10.0 + 5.0 + 4.0 + 0.75)


def test_short_notice_costs_a_falling_share_of_a_miss() -> None:
    costs = AlertCosts(lead_needed_h=24.0, lead_wanted_h=72.0)
    share = short_notice_share(np.array([0.0, 23.9, 24.0, 36.0, 60.0, 72.0, 300.0]), costs)
    assert share.tolist() == pytest.approx([1.0, 1.0, 1.0, 0.75, 0.25, 0.0, 0.0])
    # without a span between needed and wanted it is the plain step at lead_needed_h
    step = AlertCosts(lead_needed_h=24.0, lead_wanted_h=24.0)
    assert short_notice_share(np.array([23.0, 24.0, 30.0]), step).tolist() == [1.0, 0.0, 0.0]


def test_standing_share_counts_the_alerts_made_far_from_any_failure() -> None:
    """Far = more than 10 h before the machine's next failure, or with no failure after it and
    10 h of data still to come (observed until 40 h). A: failure at 28.5, far at 0-18 (alerts 5,
    6, 7); B: never fails, far at 0-30 (alerts 0-3 and 5), 31-39 unknown; C: failure at 6, never
    far; D: failure at 10, far at 11-12 after it (both alert). 10 alerts on 19 + 31 + 2 = 52."""
    assert standing_share(EVALUATIONS, FAILURES, 10.0, h(40.0)) == pytest.approx(10 / 52)
    # a failure exactly far_h ahead is not far (A at 0 with 28.5 h); the data's end counts from
    # each prediction: B far at 0-11 (alerts 0-3, 5), D at 11 (alert), not at 12
    assert standing_share(EVALUATIONS, FAILURES, 28.5, h(40.0)) == pytest.approx(6 / 13)
    only_c = EVALUATIONS.filter(pl.col("machine_id") == "C")
    assert math.isnan(standing_share(only_c, FAILURES, 10.0, h(40.0)))
