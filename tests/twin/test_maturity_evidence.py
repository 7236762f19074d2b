"""Maturity facts gathered from a small warehouse and a real twin store (commands signed and
acknowledged through the command flow), the twin_maturity table and its snapshot records."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from dt_platform.ingest.registry import Machine
from dt_platform.phm import tables
from dt_platform.trust.snapshot import collect_records
from dt_platform.twin import db
from dt_platform.twin.command_acks import record_ack
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import open_commands
from dt_platform.twin.maturity import Windows, assess
from dt_platform.twin.maturity_evidence import as_of_for_day, collect_facts
from dt_platform.twin.maturity_table import latest_levels, replace_maturity_day
from dt_platform.twin.state import record_reported
from dt_platform.warehouse import ensure_schema
from tests.trust.audit_fixtures import load_file
from tests.twin.command_fixtures import DOMAIN, T0, Published, sign, team

DAY = T0.date()
W = Windows(freshness_h=26.0, period_days=7.0)
REGISTRY = [
    Machine("CNC-01", "cnc_spindle", line="L1", gateway="gw-opcua"),
    Machine("SMT-01", "smt_placer", line="L1", gateway="gw-opcua"),
    Machine("OVEN-01", "reflow_oven", line="L1", gateway="gw-mqtt"),
]


def _rows(machine_id: str, machine_type: str, sensor: str, hours: int) -> list[tuple]:
    return [
        (DAY, machine_id, machine_type, sensor, T0 + dt.timedelta(minutes=10 * i), 1.0 + i, "ok")
        for i in range(6 * hours)
    ]


def _command(twin, machine_id: str, status: str, reason: str | None, at: dt.datetime) -> str:
    t = team()
    draft = issue_draft(twin, REGISTRY, machine_id, "derate", percent=20, domain=DOMAIN, now=at)
    submit_signature(
        twin, draft.command_id, sign(draft.typed_data, t.maintainer), roles=t.roles,
        publisher=Published(), domain=DOMAIN, now=at + dt.timedelta(seconds=5),
    )  # fmt: skip
    record_ack(twin, machine_id, draft.command_id, 1, status, reason, at + dt.timedelta(minutes=1))
    # a repeated ack later on is not a second acknowledgement
    record_ack(twin, machine_id, draft.command_id, 1, status, reason, at + dt.timedelta(hours=2))
    return draft.command_id


@pytest.fixture
def stores(tmp_path):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    load_file(con, "gw-opcua/a.csv", _rows("CNC-01", "cnc_spindle", "rpm", 2), T0)
    load_file(con, "stream/seg-1.jsonl", _rows("CNC-01", "cnc_spindle", "load_pct", 1), T0)
    load_file(con, "gw-opcua/b.csv", _rows("SMT-01", "smt_placer", "vacuum_kpa", 2), T0)
    load_file(con, "oven-by-hand.csv", _rows("OVEN-01", "reflow_oven", "fan_rpm", 2), T0)
    con.execute("UPDATE file_ledger SET gateway = split_part(path, '/', 1) WHERE path LIKE '%/%'")
    tables.ensure_table(con, "rul_predictions")
    con.execute(
        "INSERT INTO rul_predictions (day, machine_id, ts, model_version) VALUES (?, ?, ?, ?)",
        [DAY, "CNC-01", T0 + dt.timedelta(hours=1), "xgb-1"],
    )
    twin = open_commands(db.connect(tmp_path / "twin.sqlite"))
    applied = _command(twin, "CNC-01", "applied", None, T0)
    _command(twin, "SMT-01", "rejected", "interlock", T0)
    record_reported(twin, "SMT-01", "gw-opcua", seen_at=(T0 + dt.timedelta(hours=3)).isoformat())
    yield con, twin, applied
    twin.close()


def _levels(con, twin, as_of, running) -> dict[str, int]:
    return {f.machine_id: assess(f, as_of, W).level
            for f in collect_facts(con, twin, as_of, W, running=running)}  # fmt: skip


def _decisions(con, command_id: str, *, with_command_id: bool = True) -> None:
    """A stand-in for the policy's ``decisions`` table: one derate decision for CNC-01."""
    cols = "day DATE, machine_id VARCHAR, ts TIMESTAMPTZ, action VARCHAR, status VARCHAR"
    row = [DAY, "CNC-01", T0 - dt.timedelta(minutes=5), "derate", "executed"]
    if with_command_id:
        cols, row = cols + ", command_id VARCHAR", [*row, command_id]
    con.execute(f"CREATE TABLE decisions ({cols})")
    con.execute(f"INSERT INTO decisions VALUES ({', '.join('?' * len(row))})", row)


def test_the_as_of_time_is_the_end_of_a_closed_day_or_now() -> None:
    end = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    assert as_of_for_day(DAY, end + dt.timedelta(hours=5)) == (end, False)
    now = T0 + dt.timedelta(hours=3)
    assert as_of_for_day(DAY, now) == (now, True)


def test_a_closed_day_is_judged_from_history(stores) -> None:
    con, twin, applied = stores
    as_of, running = as_of_for_day(DAY, T0 + dt.timedelta(days=3))
    facts = {f.machine_id: f for f in collect_facts(con, twin, as_of, W, running=running)}
    cnc = facts["CNC-01"]
    assert cnc.shadow.readings == 18 and cnc.shadow.gateways == ("gw-opcua", "stream")
    assert cnc.live.stream_readings == 6 and cnc.live.reported_seen_at is None
    assert [(a.command_id, a.status) for a in cnc.live.acks] == [(applied, "applied")]
    assert cnc.intelligence.predictions == 1 and cnc.intelligence.model_versions == ("xgb-1",)
    assert "no decisions table" in cnc.intelligence.decisions_unavailable
    # OVEN-01's readings were dropped by hand into the landing root: not data arriving by itself
    assert facts["OVEN-01"].shadow.readings == 0
    # SMT-01 was seen by the twin store, but a closed day does not read that (no history)
    assert _levels(con, twin, as_of, running) == {"CNC-01": 3, "SMT-01": 2, "OVEN-01": 1}


def test_while_the_day_runs_the_reported_state_counts(stores) -> None:
    con, twin, _ = stores
    now = T0 + dt.timedelta(hours=4)
    as_of, running = as_of_for_day(DAY, now)
    assert _levels(con, twin, as_of, running) == {"CNC-01": 3, "SMT-01": 3, "OVEN-01": 1}
    # before the command was acknowledged, SMT-01 was a shadow only
    early = T0 + dt.timedelta(seconds=30)
    assert _levels(con, twin, early, True)["SMT-01"] == 2


def test_a_decision_that_led_to_an_applied_command_makes_level_4(stores) -> None:
    con, twin, applied = stores
    _decisions(con, applied)
    as_of = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    facts = {f.machine_id: f for f in collect_facts(con, twin, as_of, W, running=False)}
    (decision,) = facts["CNC-01"].intelligence.decisions
    assert decision.command_id == applied and decision.applied_at == T0 + dt.timedelta(minutes=1)
    assert _levels(con, twin, as_of, False)["CNC-01"] == 4
    # eight days later the data are stale and the command is out of the period: back to 1
    assert _levels(con, twin, as_of + dt.timedelta(days=8), False)["CNC-01"] == 1


def test_a_decisions_table_without_the_expected_columns_is_named(stores) -> None:
    con, twin, applied = stores
    _decisions(con, applied, with_command_id=False)
    facts = collect_facts(con, twin, T0 + dt.timedelta(hours=5), W, running=True)
    assert facts[0].intelligence.decisions_unavailable == (
        "the decisions table lacks column(s) command_id"
    )


def test_the_table_keeps_one_row_per_day_and_machine_and_is_a_snapshot_source(stores) -> None:
    con, twin, _ = stores
    as_of = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    assessed = [assess(f, as_of, W) for f in collect_facts(con, twin, as_of, W, running=False)]
    assert replace_maturity_day(con, DAY, assessed) == 3
    assert replace_maturity_day(con, DAY, assessed) == 3  # a re-run replaces the day
    later = DAY + dt.timedelta(days=9)
    end = dt.datetime.combine(later + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    replace_maturity_day(
        con, later, [assess(f, end, W) for f in collect_facts(con, twin, end, W, running=False)]
    )
    (count,) = con.execute("SELECT count(*) FROM twin_maturity").fetchone()
    assert count == 6
    newest = {r.machine_id: r for r in latest_levels(con)}
    assert newest["CNC-01"].day == later and newest["CNC-01"].level == 1
    assert newest["CNC-01"].machine_type == "cnc_spindle"
    records = collect_records(con, DAY).source("twin_maturity")
    assert records is not None and records.rows == 3 and records.key_columns == ("machine_id",)
    record = json.loads(records.records[0])
    assert record["machine_id"] == "CNC-01" and record["level"] == 3
    assert json.loads(record["evidence"])["level_name"] == "digital twin"
    quiet = DAY - dt.timedelta(days=1)
    assert collect_records(con, quiet).source("twin_maturity") is None
    assert "twin_maturity" not in collect_records(con, quiet).skipped
