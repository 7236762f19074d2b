"""Fleet health and what changed since the day before; the top risks with their RUL intervals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from dt_platform.report.content import Section, Table, hours, interval, share, text
from dt_platform.report.db import day_window, missing_tables, rows
from dt_platform.report.svg import Interval, interval_chart

TOP_RISKS = 8
WEEK_H = 168.0

_PREDICTIONS = """
SELECT day, machine_id, rul_fused_h, rul_fused_lo_h, rul_fused_hi_h, basis, note
FROM rul_predictions WHERE day IN ($day, $prev)
QUALIFY row_number() OVER (PARTITION BY day, machine_id ORDER BY ts DESC) = 1"""
_ALERTS = """
SELECT day, machine_id, probability, severity, reason
FROM maintenance_alerts WHERE day IN ($day, $prev)
QUALIFY row_number() OVER (PARTITION BY day, machine_id ORDER BY ts DESC) = 1"""
_LEVELS = "SELECT day, machine_id, level, level_name FROM twin_maturity WHERE day IN ($day, $prev)"
_WORK = """
SELECT work_order, machine_id, started_at, finished_at, kind, action, component, notes
FROM maintenance_log WHERE started_at >= $start AND started_at < $end
ORDER BY started_at, work_order"""


def _by_day(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, day: dt.date
) -> tuple[dict, dict]:
    """``(today, yesterday)``: machine id → row, empty where the table does not exist."""
    if missing_tables(con, table):
        return {}, {}
    found = rows(con, sql, {"day": day, "prev": day - dt.timedelta(days=1)})
    return (
        {r["machine_id"]: r for r in found if r["day"] == day},
        {r["machine_id"]: r for r in found if r["day"] != day},
    )


def fleet_rows(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[dict[str, Any]]:
    """Per active machine: today's and yesterday's newest prediction, alert and level."""
    if missing_tables(con, "machines"):
        return []
    machines = rows(
        con, "SELECT machine_id, machine_type FROM machines WHERE active ORDER BY machine_id"
    )
    pred, pred0 = _by_day(con, "rul_predictions", _PREDICTIONS, day)
    alert, alert0 = _by_day(con, "maintenance_alerts", _ALERTS, day)
    level, level0 = _by_day(con, "twin_maturity", _LEVELS, day)
    out = []
    for m in machines:
        mid = m["machine_id"]
        p, p0 = pred.get(mid, {}), pred0.get(mid, {})
        out.append(
            {
                **m,
                "rul": p.get("rul_fused_h"),
                "lo": p.get("rul_fused_lo_h"),
                "hi": p.get("rul_fused_hi_h"),
                "basis": p.get("basis"),
                "note": p.get("note"),
                "rul_prev": p0.get("rul_fused_h"),
                "predicted": mid in pred,
                "alert": alert.get(mid),
                "alert_prev": alert0.get(mid),
                "level": level.get(mid, {}).get("level"),
                "level_name": level.get(mid, {}).get("level_name"),
                "level_prev": level0.get(mid, {}).get("level"),
            }
        )
    return out


def _change(r: dict[str, Any]) -> str:
    if r["rul"] is None or r["rul_prev"] is None:
        return "–"
    delta = r["rul"] - r["rul_prev"]
    return f"{'+' if delta >= 0 else '−'}{hours(abs(delta))}"


def _alert_text(alert: dict | None) -> str:
    return "–" if alert is None else f"{alert['severity']} ({share(alert['probability'])})"


def fleet_section(con: duckdb.DuckDBPyConnection, day: dt.date) -> Section:
    section = Section("fleet", "Fleet health and what changed since yesterday")
    fleet = fleet_rows(con, day)
    if not fleet:
        section.missing.append("no machine registry in the warehouse: nothing to report on")
        return section
    predicted = [r for r in fleet if r["predicted"]]
    with_rul = [r for r in fleet if r["rul"] is not None]
    alerting = sorted(r["machine_id"] for r in fleet if r["alert"])
    alerting_prev = sorted(r["machine_id"] for r in fleet if r["alert_prev"])
    new = sorted(set(alerting) - set(alerting_prev))
    gone = sorted(set(alerting_prev) - set(alerting))
    levels = [
        f"{r['machine_id']} {r['level_prev']} → {r['level']}"
        for r in fleet
        if r["level"] is not None and r["level_prev"] is not None and r["level"] != r["level_prev"]
    ]
    start, end = day_window(day)
    work = (
        []
        if missing_tables(con, "maintenance_log")
        else rows(con, _WORK, {"start": start, "end": end})
    )
    failures = [w for w in work if w["kind"] == "corrective"]
    section.facts = {
        "machines": len(fleet),
        "predicted": len(predicted),
        "with_rul": len(with_rul),
        "alerting": len(alerting) if predicted else None,
        "alerting_prev": len(alerting_prev),
        "new_alerts": new,
        "no_longer_alerting": gone,
        "level_changes": levels,
        "work_orders": [w["work_order"] for w in work],
        "failures": [w["work_order"] for w in failures],
    }
    if not predicted:
        section.missing.append(f"no predictions for {day}: the prognostics did not run that day")
    section.lines.append(
        f"{len(fleet)} active machines; {len(with_rul)} with a fused RUL; {len(alerting)} "
        f"alerting (the day before: {len(alerting_prev)})."
    )
    section.lines.append(
        "New alerts: "
        + (", ".join(new) or "none")
        + ". No longer alerting: "
        + (", ".join(gone) or "none")
        + "."
    )
    if levels:
        section.lines.append("Twin maturity changed: " + "; ".join(levels) + ".")
    section.lines.append(
        f"Work orders started: {len(work)}, of them failures (corrective): {len(failures)}."
    )
    _fleet_tables(section, fleet, work)
    return section


def _fleet_tables(section: Section, fleet: list[dict[str, Any]], work: list[dict]) -> None:
    section.tables.append(
        Table(
            "Every active machine at the day's last prediction",
            (
                "machine",
                "type",
                "RUL",
                "90 % interval",
                "since yesterday",
                "basis",
                "alert",
                "maturity",
            ),
            [
                (
                    r["machine_id"],
                    r["machine_type"],
                    hours(r["rul"]),
                    interval(r["lo"], r["hi"]),
                    _change(r),
                    text(r["basis"]),
                    _alert_text(r["alert"]),
                    text(r["level"] and f"{r['level']} {r['level_name']}"),
                )
                for r in fleet
            ],
            frozenset({2, 3, 4}),
        )
    )
    if work:
        section.tables.append(
            Table(
                "Maintenance started that day",
                ("work order", "machine", "started", "kind", "action", "component", "notes"),
                [
                    (
                        w["work_order"],
                        w["machine_id"],
                        f"{w['started_at']:%H:%M}",
                        w["kind"],
                        w["action"],
                        text(w["component"]),
                        text(w["notes"]),
                    )
                    for w in work
                ],
            )
        )


def _risk_key(r: dict[str, Any]) -> tuple:
    alert = r["alert"]
    low = r["lo"] if r["lo"] is not None else r["rul"]
    return (alert is None, -(alert["probability"] if alert else 0.0), low, r["machine_id"])


def risks_section(con: duckdb.DuckDBPyConnection, day: dt.date) -> Section:
    """Machines alerting first (most probable failure first), then the smallest lower RUL."""
    section = Section("risks", "Top risks")
    ranked = sorted((r for r in fleet_rows(con, day) if r["rul"] is not None), key=_risk_key)
    top = ranked[:TOP_RISKS]
    section.facts = {"top": [r["machine_id"] for r in top]}
    if not top:
        section.missing.append(f"no fused RUL for {day}: no risk can be ranked")
        return section
    section.lines.append(
        f"The {len(top)} machines most at risk: alerting ones first (most probable failure "
        "first), then the smallest lower bound of the 90 % interval."
    )
    section.charts.append(
        interval_chart(
            [
                Interval(
                    r["machine_id"],
                    r["lo"] if r["lo"] is not None else r["rul"],
                    r["rul"],
                    r["hi"] if r["hi"] is not None else r["rul"],
                    r["alert"] is not None,
                )
                for r in top
            ],
            f"Remaining useful life, {day}",
            marker_h=WEEK_H,
            marker="one week",
        )
    )
    section.tables.append(
        Table(
            "Top risks",
            ("machine", "type", "RUL", "90 % interval", "P(failure) in horizon", "why"),
            [
                (
                    r["machine_id"],
                    r["machine_type"],
                    hours(r["rul"]),
                    interval(r["lo"], r["hi"]),
                    share(r["alert"]["probability"]) if r["alert"] else "below threshold",
                    text((r["alert"] or {}).get("reason") or r["note"] or r["basis"]),
                )
                for r in top
            ],
            frozenset({2, 3}),
        )
    )
    return section
