"""Where alarm conditions come from: the day's maintenance alerts, the maintenance log's repairs,
and the twin's own state (drift between desired and reported, machines gone silent).

**Severity.** ``rul_risk`` takes the maintenance alert's own severity: ``critical`` when the
smoothed P(RUL <= horizon) reached the alert rule's ``critical`` level (0.9 by default, or the
level of the rule chosen by expected cost), ``warning`` from its threshold up
(:func:`dt_platform.phm.alerts.evaluate_alerts`). ``drift`` is a ``warning`` once a desired
setting has gone unapplied for ``grace`` (a command in flight is not drift) and ``critical`` after
``critical_after``. ``offline`` is a ``warning``: the machine said it went offline, or was not
heard from for ``silent_after``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import duckdb
import polars as pl

from dt_platform.phm import tables
from dt_platform.twin.alarms import Condition, Repair
from dt_platform.twin.state import TwinState
from dt_platform.warehouse import table_names

ALERT_DETAIL = (
    "probability",
    "horizon_h",
    "threshold",
    "rul_fused_h",
    "rul_fused_lo_h",
    "rul_fused_hi_h",
    "driver",
    "reason",
    "model_version",
)
MAX_REASON_CHARS = 2_000


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value[:MAX_REASON_CHARS]
    return value


def rul_risk_conditions(alerts: pl.DataFrame) -> list[Condition]:
    """One ``rul_risk`` condition per machine of a day's ``maintenance_alerts`` rows (the
    latest row of a machine if there are several), true since the alert's ``ts``."""
    if alerts.is_empty():
        return []
    latest = alerts.sort("ts").group_by("machine_id", maintain_order=True).last()
    out = []
    for row in latest.iter_rows(named=True):
        detail = {k: _plain(row.get(k)) for k in ALERT_DETAIL if row.get(k) is not None}
        if row.get("day") is not None:
            detail["day"] = _plain(row["day"])
        severity = "critical" if row.get("severity") == "critical" else "warning"
        out.append(Condition(row["machine_id"], "rul_risk", severity, row["ts"], detail))
    return out


def day_alert_conditions(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[Condition]:
    """The ``rul_risk`` conditions of one day's ``maintenance_alerts`` (none if not written)."""
    return rul_risk_conditions(tables.read_day(con, "maintenance_alerts", day))


def logged_repairs(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> list[Repair]:
    """Repair and replace work orders of the maintenance log started before ``until``."""
    if "maintenance_log" not in table_names(con):
        return []
    rows = con.execute(
        "SELECT work_order, machine_id, action, started_at, finished_at FROM maintenance_log "
        "WHERE action IN ('repair', 'replace') AND started_at < ? ORDER BY started_at",
        [until],
    ).fetchall()
    return [
        Repair(wo, machine, action, _utc(started), _utc(finished) if finished else None)
        for wo, machine, action, started, finished in rows
    ]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def _parse(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC) if text else None


def twin_conditions(
    states: Iterable[TwinState],
    now: dt.datetime,
    *,
    grace: dt.timedelta = dt.timedelta(minutes=5),
    critical_after: dt.timedelta = dt.timedelta(hours=1),
    silent_after: dt.timedelta = dt.timedelta(minutes=10),
) -> list[Condition]:
    """``drift`` and ``offline`` conditions from the twin state at ``now`` (see module doc)."""
    out: list[Condition] = []
    for s in states:
        if s.delta and s.desired is not None:
            since = _parse(s.desired.updated_at) or now
            if now - since >= grace:
                severity = "critical" if now - since >= critical_after else "warning"
                detail = {
                    "delta": s.delta,
                    "desired_version": s.desired.version,
                    "applied_version": s.reported.applied_version if s.reported else None,
                    "command_id": s.desired.command_id,
                }
                out.append(Condition(s.machine_id, "drift", severity, since, detail))
        r = s.reported
        if r is None:
            continue
        last_seen = _parse(r.last_seen)
        silent = last_seen is not None and now - last_seen >= silent_after
        if not r.online or silent:
            detail = {"last_seen": r.last_seen, "gateway": r.gateway, "said_offline": not r.online}
            out.append(Condition(s.machine_id, "offline", "warning", last_seen or now, detail))
    return out
