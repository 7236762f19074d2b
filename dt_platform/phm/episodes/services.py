"""A machine's component lives as the maintenance log tells them: installed, then failed,
removed or still in service (:class:`Service`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from dt_platform.phm.episodes.history import History
from dt_platform.phm.episodes.hours import _epoch_hour, hour_to_datetime
from dt_platform.phm.episodes.stress import MachineStress
from dt_platform.phm.physics import LAWS

FAILURE_LOOKBACK_H = 24


@dataclass(frozen=True)
class Service:
    """One component's time in service as the maintenance log tells it."""

    start: dt.datetime
    install_source: str
    end: dt.datetime | None
    """Failure estimate, removal time, or None if still in service at the end of the history."""
    end_kind: str
    work_order: str | None
    repair_until: dt.datetime | None = None
    """For a failure: when the repair that replaced it finished (None while open)."""


def _replacements(work_orders: pl.DataFrame, component: str) -> pl.DataFrame:
    return work_orders.filter(
        (pl.col("component") == component)
        & ((pl.col("action") == "replace") | (pl.col("kind") == "corrective"))
    ).sort("started_at")


def _last_active_before(
    stress: MachineStress | None, started_at: dt.datetime
) -> dt.datetime | None:
    """End of the last hour with the machine operating before ``started_at`` (within the lookback)."""
    if stress is None or stress.display.is_empty():
        return None
    start_hour = _epoch_hour(started_at) - stress.hour0
    lo = start_hour - FAILURE_LOOKBACK_H
    recent = stress.display.filter(
        (pl.col("hour") >= lo) & (pl.col("hour") <= start_hour) & (pl.col("active_fraction") > 0)
    )
    if recent.is_empty():
        return None
    last = int(recent["hour"].max())
    return min(hour_to_datetime(stress.hour0 + last + 1), started_at)


def services(history: History, machine_id: str) -> list[Service]:
    """The degrading component's lives on one machine, in order (the last one may be open)."""
    info = history.machines[machine_id]
    component = LAWS[info.machine_type].component
    wo = _replacements(history.work_orders.filter(pl.col("machine_id") == machine_id), component)
    stress = history.stress.get(machine_id)
    out: list[Service] = []
    start: dt.datetime | None = None
    source = "work_order"
    rows = list(wo.iter_rows(named=True))
    first_data = (
        hour_to_datetime(stress.first_data_hour)
        if stress is not None and stress.first_data_hour is not None
        else None
    )
    unlogged = (
        not rows
        or rows[0]["kind"] == "corrective"
        or (first_data is not None and rows[0]["started_at"] > first_data)
    )
    if unlogged:
        # The component running when data begin has no logged installation: its age is unknown.
        if info.installed is not None:
            start = dt.datetime.combine(info.installed, dt.time(), tzinfo=dt.UTC)
            source = "registry"
        elif first_data is not None:
            start = first_data
            source = "first_data"
    for row in rows:
        started, finished = row["started_at"], row["finished_at"]
        if start is not None and started > start:
            if row["kind"] == "corrective":
                end = _last_active_before(stress, started) or started
                end = max(end, start)
                out.append(Service(start, source, end, "failure", row["work_order"], finished))
            else:
                out.append(Service(start, source, started, "removed", row["work_order"], finished))
        start = finished
        source = "work_order"
        if finished is None:
            break
    if start is not None and start < history.until:
        out.append(Service(start, source, None, "censored", None))
    return out
