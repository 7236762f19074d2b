"""Alerts scored against ground truth: lead times, false alarms per prediction and per episode,
and the expected cost of an alert timeline.

An **alert timeline** is ``machine_id, ts, alert``: every time a prediction was made (hourly or
daily) and whether it alerted. **Failures** are ``machine_id, failed_at`` (truth or the
maintenance log), optionally ``life_start``.

* :func:`lead_times` — warning time before each failure;
* :func:`false_alarm_rate` — per alerting *prediction* (a machine alerting 30 hours before one
  failure counts 30 true alerts: the figure weighs long alerts more);
* :func:`alert_episodes` / :func:`false_alarm_episode_share` — per alert *episode*, what a
  maintenance planner sees: a machine's contiguous alerting stretch (consecutive alerting
  predictions at the prediction cadence) is one call to act. An episode is *true* when a failure
  of that machine follows its first alert and comes no later than the horizon after its last
  alert, *false* when none does, and *open* (not scored) when the data end before its horizon
  has run out without a failure;
* :func:`standing_share` — how much of the time a machine is far from any failure it spends
  alerting: what a rule that alerts nearly always costs in attention, which the episode share
  does not see (an alert on until a failure comes is one true episode);
* :func:`alert_cost` — the expected cost of a timeline under :class:`AlertCosts`, the figure the
  fleet model's alert rule is chosen by (:mod:`dt_platform.phm.fleet.alerting`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

UTC_US = pl.Datetime("us", "UTC")
EPISODE_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "start": UTC_US,
    "end": UTC_US,
    "predictions": pl.Int64(),
    "failed_at": UTC_US,
    "false": pl.Boolean(),
    "lead_h": pl.Float64(),
}
"""One row per episode; ``failed_at``/``lead_h`` (failure − first alert) for true episodes,
``false`` null for an open one."""


def _hours(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 3600.0


def lead_times(
    evaluations: pl.DataFrame, failures: pl.DataFrame, *, max_gap_h: float = 24.0
) -> pl.DataFrame:
    """Warning time before each failure.

    ``failures`` may carry ``life_start`` (the failed component's install; default: the previous
    failure of the machine). The warning of a failure at F starts at the first prediction of the
    uninterrupted run of alerting predictions that ends with the last prediction before F (a run
    is broken by a non-alerting prediction, or by a silence longer than ``max_gap_h``);
    ``lead_h = F − start``. If the last prediction before F did not alert, the failure was
    missed: ``lead_h = 0``. Failures with no prediction in the life before them are left out
    (``evaluated`` False).
    """
    out = []
    ev = evaluations.select("machine_id", "ts", "alert").sort("machine_id", "ts")
    by_machine = {m: part for (m,), part in ev.group_by("machine_id")}
    fails = failures.sort("machine_id", "failed_at")
    previous: dict[str, Any] = {}
    for row in fails.iter_rows(named=True):
        machine, failed_at = row["machine_id"], row["failed_at"]
        start = row.get("life_start") or previous.get(machine)
        previous[machine] = failed_at
        part = by_machine.get(machine)
        rows = None
        if part is not None:
            cond = pl.col("ts") < failed_at
            if start is not None:
                cond = cond & (pl.col("ts") > start)
            rows = part.filter(cond)
        if rows is None or rows.is_empty():
            out.append({"machine_id": machine, "failed_at": failed_at, "evaluated": False})
            continue
        ts = rows["ts"].to_list()
        alerts = rows["alert"].to_list()
        k = len(ts) - 1
        if not alerts[k]:
            lead = 0.0
        else:
            while k > 0 and alerts[k - 1] and _hours(ts[k] - ts[k - 1]) <= max_gap_h:
                k -= 1
            lead = _hours(failed_at - ts[k])
        out.append(
            {"machine_id": machine, "failed_at": failed_at, "evaluated": True, "lead_h": lead}
        )
    schema = {
        "machine_id": pl.String(),
        "failed_at": UTC_US,
        "evaluated": pl.Boolean(),
        "lead_h": pl.Float64(),
    }
    return pl.DataFrame(out, schema=schema) if out else pl.DataFrame(schema=schema)


def false_alarm_rate(evaluations: pl.DataFrame, failures: pl.DataFrame, horizon_h: float) -> float:
    """Share of alerting predictions not followed by a failure of that machine within the horizon.

    An alert at t is *true* if the machine fails in (t, t + ``horizon_h``]; every other alert is
    false. Counted per prediction (a machine alerting for 30 hourly predictions before one
    failure contributes 30 true alerts). NaN when there is no alert at all.
    """
    alerts = evaluations.filter(pl.col("alert")).select("machine_id", "ts")
    if alerts.is_empty():
        return math.nan
    horizon = pl.duration(seconds=round(horizon_h * 3600))
    matched = (
        alerts.join(failures.select("machine_id", "failed_at"), on="machine_id", how="left")
        .with_columns(
            ((pl.col("failed_at") > pl.col("ts")) & (pl.col("failed_at") <= pl.col("ts") + horizon))
            .fill_null(False)
            .alias("hit")
        )
        .group_by("machine_id", "ts")
        .agg(pl.col("hit").any())
    )
    return float(1.0 - matched["hit"].mean())


def standing_share(
    evaluations: pl.DataFrame,
    failures: pl.DataFrame,
    far_h: float,
    observed_until: dt.datetime,
) -> float:
    """Share of the predictions made more than ``far_h`` before the machine's next failure that
    alert. A prediction with no failure after it counts as far only if the data ran on for
    ``far_h`` after it (``observed_until``); the others are not known to be far. NaN without
    far predictions."""
    ev = evaluations.select("machine_id", pl.col("ts").cast(UTC_US), "alert").sort("ts")
    nxt = failures.select(
        "machine_id",
        pl.col("failed_at").cast(UTC_US).alias("_next"),
        pl.col("failed_at").cast(UTC_US).alias("_at"),
    ).sort("_at")
    # both sorted by time over all machines, so sorted within each machine too
    joined = ev.join_asof(
        nxt,
        left_on="ts",
        right_on="_at",
        by="machine_id",
        strategy="forward",
        check_sortedness=False,
    )
    far = pl.duration(seconds=round(far_h * 3600))
    is_far = (
        pl.when(pl.col("_next").is_not_null())
        .then(pl.col("_next") - pl.col("ts") > far)
        .otherwise(pl.lit(observed_until).cast(UTC_US) - pl.col("ts") >= far)
    )
    alerts = joined.filter(is_far)["alert"]
    return float(alerts.mean()) if alerts.len() else math.nan


def alert_episodes(
    evaluations: pl.DataFrame,
    failures: pl.DataFrame,
    horizon_h: float,
    *,
    cadence_h: float = 1.0,
    observed_until: dt.datetime | None = None,
) -> pl.DataFrame:
    """The alert episodes of a timeline, each scored true, false or open (:data:`EPISODE_SCHEMA`).

    An episode is a run of alerting predictions of one machine with no non-alerting prediction
    between them and no gap longer than ``cadence_h`` (the prediction cadence: 1 h for hourly
    predictions, 24 h for daily ones; a missing prediction ends the episode). It is *true* when
    the machine fails at some F with ``start < F <= end + horizon_h`` (the first such F is its
    ``failed_at``, ``lead_h = F − start``), else *false* — unless ``observed_until`` (the end of
    the ground truth) comes before ``end + horizon_h``: then no one knows yet, and ``false`` is
    null (open).
    """
    ev = evaluations.select("machine_id", "ts", "alert").sort("machine_id", "ts")
    fails: dict[str, list[dt.datetime]] = {}
    for machine, failed_at in failures.select("machine_id", "failed_at").iter_rows():
        fails.setdefault(machine, []).append(failed_at)
    horizon = dt.timedelta(hours=horizon_h)
    rows = []
    for (machine,), part in ev.group_by("machine_id", maintain_order=True):
        for start, end, n in _runs(part["ts"].to_list(), part["alert"].to_list(), cadence_h):
            hit = [f for f in sorted(fails.get(machine, [])) if start < f <= end + horizon]
            row = {"machine_id": machine, "start": start, "end": end, "predictions": n}
            if hit:
                row |= {"failed_at": hit[0], "false": False, "lead_h": _hours(hit[0] - start)}
            elif observed_until is None or end + horizon <= observed_until:
                row["false"] = True
            rows.append(row)
    if not rows:
        return pl.DataFrame(schema=EPISODE_SCHEMA)
    return pl.DataFrame(rows, schema=EPISODE_SCHEMA)


def _runs(
    ts: list[dt.datetime], alert: list[bool], cadence_h: float
) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """(first, last, count) of every run of alerting predictions (sorted ``ts`` of one machine)."""
    runs: list[tuple[dt.datetime, dt.datetime, int]] = []
    start = last = None
    n = 0
    for t, a in zip(ts, alert, strict=True):
        if a and start is not None and _hours(t - last) <= cadence_h + 1e-9:
            last, n = t, n + 1
            continue
        if start is not None:
            runs.append((start, last, n))
            start = None
        if a:
            start, last, n = t, t, 1
    if start is not None:
        runs.append((start, last, n))
    return runs


def false_alarm_episode_share(episodes: pl.DataFrame) -> float:
    """Share of the scored (not open) episodes that were false; NaN when there is none."""
    scored = episodes["false"].drop_nulls()
    return float(scored.mean()) if scored.len() else math.nan


@dataclass(frozen=True)
class AlertCosts:
    """What alerts and failures cost, in units of one needless planned stop (``false_alarm``).

    The cost of a failure is continuous in how long before it the warning came:

    * warned less than ``lead_needed_h`` ahead it is an unplanned stop like a failure without a
      warning (``miss``);
    * warned between ``lead_needed_h`` and ``lead_wanted_h`` ahead it costs a share of a miss,
      falling linearly from a whole miss at ``lead_needed_h`` to nothing at ``lead_wanted_h``
      (:func:`short_notice_share`): the stop can be planned, but on short notice, and a warning
      that came 30 h ahead on the rows a rule was chosen on may come under 24 h on a new
      machine. A step at ``lead_needed_h`` would call such a near miss a full success;
    * warned at least ``lead_wanted_h`` ahead it is replaced in a planned stop (its cost is the
      part, which is due anyway: 0 here), and ``early_per_h`` charges every hour the warning
      started earlier than that: acting on it then throws that much component life away.
    """

    miss: float = 10.0
    false_alarm: float = 1.0
    lead_needed_h: float = 24.0
    lead_wanted_h: float = 72.0
    early_per_h: float = 0.002

    def describe(self) -> dict[str, float]:
        return asdict(self)


def short_notice_share(lead_h: np.ndarray, costs: AlertCosts) -> np.ndarray:
    """The share of a miss each failure's warning time costs (:class:`AlertCosts`): 1 below
    ``lead_needed_h``, falling linearly to 0 at ``lead_wanted_h``, 0 beyond."""
    lead_h = np.asarray(lead_h, dtype=np.float64)
    span = costs.lead_wanted_h - costs.lead_needed_h
    if span <= 0:
        return (lead_h < costs.lead_needed_h).astype(np.float64)
    return np.clip((costs.lead_wanted_h - lead_h) / span, 0.0, 1.0)


def alert_cost(
    episodes: pl.DataFrame, leads: pl.DataFrame, costs: AlertCosts | None = None
) -> dict[str, float]:
    """Expected cost of a timeline: its :func:`alert_episodes` and :func:`lead_times`.

    ``cost = miss × Σ short_notice_share(lead) + false_alarm × false episodes
    + early_per_h × hours of warning beyond lead_wanted_h``; with the counts it is made of
    (``warned_late``: warned less than ``lead_needed_h`` ahead; ``warned_short``: at least that
    but less than ``lead_wanted_h``).
    """
    costs = costs or AlertCosts()
    lead = leads.filter(pl.col("evaluated"))["lead_h"].to_numpy()
    late = int((lead < costs.lead_needed_h).sum())
    short = int(((lead >= costs.lead_needed_h) & (lead < costs.lead_wanted_h)).sum())
    missed = float(short_notice_share(lead, costs).sum())
    false = int(episodes["false"].fill_null(False).sum())
    early_h = float(np.clip(lead - costs.lead_wanted_h, 0.0, None).sum())
    total = costs.miss * missed + costs.false_alarm * false + costs.early_per_h * early_h
    return {
        "cost": total,
        "failures": int(lead.size),
        "warned_late": late,
        "warned_short": short,
        "false_episodes": false,
        "episodes": episodes.height,
        "early_h": early_h,
    }
