"""Where conditions come from: a day's maintenance alerts (severity as the alert rule set it),
the maintenance log's repairs, and the twin state (drift after a grace period, offline)."""

import datetime as dt

import duckdb
import polars as pl
import pytest

from dt_platform.twin.alarm_sources import logged_repairs, rul_risk_conditions, twin_conditions
from dt_platform.twin.alarms import AlarmError, Condition, sync_alarms
from dt_platform.twin.state import Desired, Reported, TwinState
from dt_platform.warehouse import Warehouse

END = dt.datetime(2026, 2, 11, tzinfo=dt.UTC)


def test_one_condition_per_machine_with_the_alert_severity():
    alerts = pl.DataFrame(
        {
            "machine_id": ["CNC-01", "CNC-01", "OVEN-01", "SMT-01"],
            "ts": [END - dt.timedelta(hours=1), END, END, END],
            "probability": [0.55, 0.91, 0.6, float("nan")],
            "severity": ["warning", "critical", "warning", None],
            "reason": ["earlier", "later", "oven", "smt"],
            "day": [dt.date(2026, 2, 10)] * 4,
        }
    )
    conds = {c.machine_id: c for c in rul_risk_conditions(alerts)}
    assert set(conds) == {"CNC-01", "OVEN-01", "SMT-01"}
    cnc = conds["CNC-01"]
    assert (cnc.kind, cnc.severity, cnc.since) == ("rul_risk", "critical", END)
    assert cnc.detail == {"probability": 0.91, "reason": "later", "day": "2026-02-10"}
    assert conds["OVEN-01"].severity == "warning"
    smt = conds["SMT-01"]  # no severity given: the lower one; NaN is not carried into JSON
    assert smt.severity == "warning" and smt.detail["probability"] is None
    assert rul_risk_conditions(pl.DataFrame()) == []


def test_a_detail_that_is_not_json_is_refused(tmp_path):
    from dt_platform.twin import db

    bad = Condition("CNC-01", "rul_risk", "warning", END, {"p": float("nan")})
    with pytest.raises(AlarmError, match="detail is not JSON"):
        sync_alarms(db.connect(tmp_path / "t.sqlite"), [bad], [], END)


def test_repairs_are_the_repair_and_replace_work_orders(tmp_path):
    assert logged_repairs(duckdb.connect(), END) == []  # no maintenance log yet
    with Warehouse(tmp_path / "w.duckdb").write() as con:
        assert logged_repairs(con, END) == []
        rows = [
            ("WO-1", "CNC-01", END - dt.timedelta(hours=5), END - dt.timedelta(hours=2), "replace"),
            ("WO-2", "CNC-01", END - dt.timedelta(hours=5), None, "repair"),
            ("WO-3", "CNC-01", END - dt.timedelta(hours=5), END, "clean"),
            ("WO-4", "OVEN-01", END + dt.timedelta(hours=1), END + dt.timedelta(hours=2), "repair"),
        ]
        for wo, machine, started, finished, action in rows:
            con.execute(
                "INSERT INTO maintenance_log VALUES (?, ?, ?, ?, 'corrective', ?, NULL, NULL, "
                "'cmms/a.csv', 1)",
                [wo, machine, started, finished, action],
            )
        repairs = logged_repairs(con, END)
    assert [(r.work_order, r.action, r.finished_at) for r in repairs] == [
        ("WO-1", "replace", END - dt.timedelta(hours=2)),
        ("WO-2", "repair", None),
    ]
    assert repairs[0].started_at.tzinfo is not None


def _state(machine, *, delta=None, set_at=None, online=True, seen=None):
    desired = (
        Desired(machine, 2, {"derate_pct": 20.0}, "cmd-9", set_at.isoformat()) if delta else None
    )
    reported = Reported(
        machine, "gw-1", online, seen.isoformat() if seen else None, None, None, {}, 1, {}
    )
    return TwinState(machine, reported, desired, delta or {})


def test_drift_after_a_grace_period_and_offline_machines():
    now = END
    states = [
        _state("FRESH", delta={"derate_pct": 20.0}, set_at=now - dt.timedelta(minutes=1), seen=now),
        _state("SLOW", delta={"derate_pct": 20.0}, set_at=now - dt.timedelta(minutes=20), seen=now),
        _state("STUCK", delta={"derate_pct": 20.0}, set_at=now - dt.timedelta(hours=3), seen=now),
        _state("DOWN", online=False, seen=now - dt.timedelta(minutes=1)),
        _state("QUIET", seen=now - dt.timedelta(hours=1)),
        _state("FINE", seen=now - dt.timedelta(seconds=5)),
    ]
    found = {(c.machine_id, c.kind): c for c in twin_conditions(states, now)}
    assert set(found) == {
        ("SLOW", "drift"),
        ("STUCK", "drift"),
        ("DOWN", "offline"),
        ("QUIET", "offline"),
    }
    assert found[("SLOW", "drift")].severity == "warning"
    stuck = found[("STUCK", "drift")]
    assert stuck.severity == "critical" and stuck.since == now - dt.timedelta(hours=3)
    assert stuck.detail == {
        "delta": {"derate_pct": 20.0},
        "desired_version": 2,
        "applied_version": 1,
        "command_id": "cmd-9",
    }
    assert found[("DOWN", "offline")].detail["said_offline"] is True
    assert found[("QUIET", "offline")].detail["said_offline"] is False
