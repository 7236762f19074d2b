"""The fleet model's alert rule, chosen by expected cost on the training fleet's held-out rows.

**Costs assumed** (:class:`~dt_platform.phm.alert_scoring.AlertCosts`, in units of one needless
planned stop): a failure not warned at least 24 h ahead is an unplanned stop — the line stands
while a technician and the part are found, a spindle or a drive may take collateral damage —
and costs **10**; warned 24-72 h ahead it costs a share of that, falling linearly from 10 at
24 h to 0 at 72 h (a stop planned on short notice, and a near miss: a warning 30 h ahead on the
held-out training rows may come under 24 h on a new machine); an alert episode not followed by
a failure within 72 h costs **1** (an inspection, or a component replaced in a planned stop at a
shift change that was not needed); every hour a true warning starts more than 72 h before the
failure costs **0.002** (acted on, it throws that much component life away: ~1.4 units for a
whole 700 h life). The 10 : 1 ratio is the usual order of magnitude between corrective and
planned maintenance of a production line; with it the rule prefers a needless inspection to a
missed failure, but not ten of them.

Why the short-notice share: on the simulated line the warnings on new fleets come later than on
the training fleet's held-out rows. The rule training fleet 13 found cheapest with a step at
24 h warned all its own failures at least 24 h ahead (most 24-235 h), and 18 of the 98 failures
of five new fleets under 24 h: the cheapest rule was the one whose warnings just cleared the
step on the training rows.

**Rule family**: :class:`~dt_platform.phm.alerts.AlertRule` — probability horizon, threshold,
trailing smoothing window and a release threshold (hysteresis) at half the threshold. One rule
for all types: a training fleet holds ~4 failures per type, too few to choose per type without
fitting noise.

**Rows**: the training timeline of cross-fitted predictions (:mod:`.calibration`): every row
whose outcome is known — lives that ended in a failure, and censored lives while at least the
ML cap remained — predicted by branches and fusers that never saw its machine. The failures are
those of the maintenance log. The evaluation fleets of the benchmark are never looked at.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import polars as pl

from dt_platform.phm.alert_scoring import AlertCosts, alert_cost, alert_episodes, lead_times
from dt_platform.phm.alerts import AlertRule, alert_flags, failure_probability
from dt_platform.phm.schemas import FUSED_COLS

EPISODE_HORIZON_H = 72.0
"""An episode is judged against this horizon whatever the rule's probability horizon (a longer
probability horizon must not make false alarms true by definition)."""
HORIZONS_H: tuple[float, ...] = (48.0, 72.0, 96.0, 120.0, 168.0)
THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SMOOTHING_H: tuple[float, ...] = (1.0, 6.0, 12.0, 24.0)
RELEASE_RATIO = 0.5


def score_rule(
    timeline: pl.DataFrame, failures: pl.DataFrame, rule: AlertRule, costs: AlertCosts
) -> dict[str, Any]:
    """Expected cost (:func:`~dt_platform.phm.alert_scoring.alert_cost`) of ``rule`` on a
    timeline of predictions with known outcomes; ``failures``: ``machine_id, failed_at,
    life_start``."""
    p = failure_probability(*(timeline[c].to_numpy() for c in FUSED_COLS), rule.horizon_h)
    _, alert = alert_flags(timeline, p, rule)
    ev = timeline.select("machine_id", "ts").with_columns(pl.Series("alert", alert))
    episodes = alert_episodes(ev, failures, EPISODE_HORIZON_H)
    return alert_cost(episodes, lead_times(ev, failures), costs)


def choose_alert_rule(
    timeline: pl.DataFrame,
    failures: pl.DataFrame,
    costs: AlertCosts | None = None,
    *,
    horizons_h: Sequence[float] = HORIZONS_H,
    thresholds: Sequence[float] = THRESHOLDS,
    smoothing_h: Sequence[float] = SMOOTHING_H,
) -> tuple[AlertRule, dict[str, Any]]:
    """The rule of the grid with the least expected cost on ``timeline`` (ties: the earlier grid
    point), and what it was chosen on: costs, its counts and the runner-up rules."""
    costs = costs or AlertCosts()
    tried = []
    for h, t, w in itertools.product(horizons_h, thresholds, smoothing_h):
        rule = AlertRule(
            horizon_h=h,
            threshold=t,
            critical=max(t, 0.9),
            release=t * RELEASE_RATIO,
            smoothing_h=w,
        )
        tried.append((score_rule(timeline, failures, rule, costs), rule))
    best_score, best = min(tried, key=lambda x: x[0]["cost"])
    ranked = sorted(tried, key=lambda x: x[0]["cost"])[:5]
    return best, {
        "costs": costs.describe(),
        "episode_horizon_h": EPISODE_HORIZON_H,
        "rows": timeline.height,
        "failures": failures.height,
        "chosen": {**best.to_dict(), **best_score},
        "runners_up": [{**r.to_dict(), "cost": s["cost"]} for s, r in ranked[1:]],
        "default_rule": score_rule(timeline, failures, AlertRule(), costs),
    }
