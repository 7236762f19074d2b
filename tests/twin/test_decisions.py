"""MANAGER limits, the autonomous path (sent only within valid limits signed by a MANAGER) and the
advisory path (a MAINTAINER approves, the signed command carries the decision out)."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing

import duckdb
import polars as pl
import pytest
from eth_account import Account

from dt_platform.twin.command_acks import record_ack
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import command_history, get_status
from dt_platform.twin.commands import CommandRefused
from dt_platform.twin.costs import Capacity
from dt_platform.twin.decision_store import approve_decision, list_decisions
from dt_platform.twin.decisions import Autonomy, decide_day, write_decisions_table
from dt_platform.twin.limits import Limits
from dt_platform.twin.limits_store import current_limits, issue_limits, submit_limits
from dt_platform.twin.state import record_reported
from tests.twin.command_fixtures import DOMAIN, REGISTRY, T0, Published, at, sign, store, team


@pytest.fixture
def crew(tmp_path):
    t = team()
    t.operator = Account.create()
    t.roles.grant("OPERATOR", t.operator.address)
    con = store(tmp_path)
    record_reported(con, "CNC-01", "gw-opcua", mode="production", settings={"derate_pct": 0.0},
                    online=True)  # fmt: skip
    yield t, con
    con.close()


def signed_limits(con, t, now=T0, **kw):
    kw.setdefault("expires_at", now + dt.timedelta(days=7))
    draft = issue_limits(con, Limits(**kw), domain=DOMAIN, now=now)
    return submit_limits(
        con, draft.limits_id, sign(draft.typed_data, t.manager), roles=t.roles, domain=DOMAIN,
        now=now, signer=t.manager.address,
    )  # fmt: skip


def autonomous(con, t, action, limits, percent=None, now=T0, publisher=None, **kw):
    draft = issue_draft(con, REGISTRY, "CNC-01", action, domain=DOMAIN, now=now, percent=percent)
    return draft, submit_signature(
        con, draft.command_id, sign(draft.typed_data, t.operator), roles=t.roles,
        publisher=publisher, domain=DOMAIN, now=now, limits=limits, **kw,
    )  # fmt: skip


# --- limits --------------------------------------------------------------------------------------


def test_limits_are_signed_by_a_manager_once(crew) -> None:
    t, con = crew
    signed = signed_limits(con, t, max_derate_pct=20, scope=("CNC-01",))
    assert signed.signer == t.manager.address and signed.limits.scope == ("CNC-01",)
    assert current_limits(con, T0).limits_id == signed.limits_id
    assert current_limits(con, T0 + dt.timedelta(days=8)) is None  # expired
    with pytest.raises(CommandRefused, match="replayed"):
        submit_limits(con, signed.limits_id, signed.signature, roles=t.roles, domain=DOMAIN, now=T0)
    draft = issue_limits(con, Limits(expires_at=at(3600)), domain=DOMAIN, now=T0)
    with pytest.raises(CommandRefused, match="role_missing"):
        submit_limits(con, draft.limits_id, sign(draft.typed_data, t.maintainer), roles=t.roles,
                      domain=DOMAIN, now=T0)  # fmt: skip
    with pytest.raises(CommandRefused, match="within 90 days"):
        issue_limits(con, Limits(expires_at=T0 + dt.timedelta(days=91)), domain=DOMAIN, now=T0)
    with pytest.raises(ValueError, match="a larger derate is critical"):
        Limits(max_derate_pct=60)


# --- the autonomous path -------------------------------------------------------------------------


def test_an_autonomous_derate_within_the_limits_is_sent(crew) -> None:
    t, con = crew
    limits = signed_limits(con, t, max_derate_pct=20)
    published = Published()
    draft, status = autonomous(con, t, "derate", limits, 20.0, publisher=published)
    assert status.state == "pending" and status.issuer == t.operator.address
    assert status.approver == t.manager.address  # the limits stand as the approval
    assert len(published.messages) == 1
    signed = next(e for e in command_history(con, draft.command_id) if e.event == "signed")
    assert signed.role == "OPERATOR" and signed.detail["limits_id"] == limits.limits_id


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("derate above the limit", "outside_limits"),
        ("expired limits", "limits_invalid"),
        ("signer no longer a MANAGER", "limits_invalid"),
        ("revoked limits", "limits_invalid"),
        ("platform key without OPERATOR", "role_missing"),
        ("stop not allowed", "outside_limits"),
        ("stop during a customer order", "outside_limits"),
        ("resume is never autonomous", "outside_limits"),
    ],
)
def test_outside_valid_limits_nothing_is_sent(crew, case, code) -> None:
    from dt_platform.twin.limits_store import revoke_limits

    t, con = crew
    limits = signed_limits(
        con, t, max_derate_pct=20, may_stop_production=case != "stop not allowed"
    )
    now, action, percent, kw = T0, "derate", 20.0, {}
    if case == "derate above the limit":
        percent = 30.0
    elif case == "expired limits":
        now = T0 + dt.timedelta(days=7, seconds=1)
    elif case == "signer no longer a MANAGER":
        t.roles.revoke("MANAGER", t.manager.address)
    elif case == "revoked limits":
        revoke_limits(con, limits.limits_id, by=t.manager.address, now=T0)
    elif case == "platform key without OPERATOR":
        t.roles.revoke("OPERATOR", t.operator.address)
    elif case.startswith("stop"):
        action, percent = "maintenance_on", None
        kw = {"in_customer_order": case.endswith("customer order")}
    else:
        action, percent = "resume", None
    published = Published()
    with pytest.raises(CommandRefused) as refused:
        autonomous(con, t, action, limits, percent, now=now, publisher=published, **kw)
    assert refused.value.reason_code == code
    assert published.messages == []
    (row,) = con.execute("SELECT state FROM commands").fetchall()
    assert row["state"] in ("issued", "expired")


def test_an_autonomous_stop_within_the_limits_needs_no_second_person(crew) -> None:
    t, con = crew
    limits = signed_limits(con, t, may_stop_production=True)
    _, status = autonomous(con, t, "maintenance_on", limits)
    assert status.state == "pending" and status.approver == t.manager.address


# --- deciding a day ------------------------------------------------------------------------------


def _predictions(ts: dt.datetime, rul: tuple[float, float, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "machine_id": ["CNC-01", "OVEN-01"],
            "machine_type": ["cnc_spindle", "reflow_oven"],
            "ts": [ts, ts],
            "component_installed_at": [ts - dt.timedelta(days=60)] * 2,
            "rul_fused_h": [rul[0], None],
            "rul_fused_lo_h": [rul[1], None],
            "rul_fused_hi_h": [rul[2], None],
            "model_version": ["abc", "abc"],
        }
    )


NEAR = (20.0, 6.0, 45.0)
IN_STOCK = Capacity(default_spare_lead_time_h=0.0)
WED = dt.datetime(2026, 3, 4, 2, 0, tzinfo=dt.UTC)  # Wednesday 10:00 at the plant


def test_advisory_decision_is_approved_signed_and_applied(crew) -> None:
    t, con = crew
    run = decide_day(con, _predictions(WED, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK)
    (rec,) = run.records
    assert run.skipped == ["OVEN-01"]
    assert (rec.action, rec.mode, rec.status) == ("maintain_now", "advisory", "advised")
    assert rec.rul_fused_h == 20.0 and rec.model_version == "abc" and "maintain now" in rec.reason
    again = decide_day(con, _predictions(WED, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK)
    assert [r.decision_id for r in again.records] == [rec.decision_id]  # idempotent
    draft = approve_decision(con, rec.decision_id, REGISTRY, domain=DOMAIN, now=WED,
                             actor=t.maintainer.address)  # fmt: skip
    assert draft.action == "maintenance_on"
    assert list_decisions(con)[0].status == "approved"
    with pytest.raises(CommandRefused, match="approved"):
        approve_decision(con, rec.decision_id, REGISTRY, domain=DOMAIN, now=WED)
    status = submit_signature(
        con, draft.command_id, sign(draft.typed_data, t.maintainer), roles=t.roles,
        publisher=None, domain=DOMAIN, now=WED,
    )  # fmt: skip
    assert status.state == "awaiting_approval"  # a stop in production: a MANAGER approves too
    assert list_decisions(con)[0].status == "commanded"


def test_a_component_being_replaced_gets_no_decision(crew) -> None:
    _, con = crew
    # a corrective work order is open: the prediction reads 0 h, basis failed
    repairing = _predictions(WED, (0.0, 0.0, 0.0)).with_columns(pl.lit("failed").alias("basis"))
    run = decide_day(con, repairing, registry=REGISTRY, now=WED, capacity=IN_STOCK)
    assert run.records == [] and run.under_repair == ["CNC-01"] and run.skipped == ["OVEN-01"]
    assert list_decisions(con) == []
    # once the new component runs, its prediction is decided on again
    fresh = _predictions(WED + dt.timedelta(hours=1), NEAR).with_columns(
        pl.lit("fused").alias("basis")
    )
    run = decide_day(con, fresh, registry=REGISTRY, now=WED, capacity=IN_STOCK)
    assert [r.machine_id for r in run.records] == ["CNC-01"] and run.under_repair == []


def test_a_newer_decision_supersedes_an_unapproved_one_and_old_ones_are_not_approved(crew) -> None:
    _, con = crew
    first = decide_day(
        con, _predictions(WED, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK
    ).records[0]
    later = WED + dt.timedelta(hours=1)
    second = decide_day(
        con, _predictions(later, NEAR), registry=REGISTRY, now=later, capacity=IN_STOCK
    ).records[0]
    assert second.status == "advised"
    assert [r.status for r in list_decisions(con)] == ["advised", "superseded"]
    with pytest.raises(CommandRefused, match="superseded"):
        approve_decision(con, first.decision_id, REGISTRY, domain=DOMAIN, now=later)
    with pytest.raises(CommandRefused, match="old"):
        approve_decision(con, second.decision_id, REGISTRY, domain=DOMAIN,
                         now=later + dt.timedelta(days=2))  # fmt: skip


def test_autonomous_decisions_act_within_the_limits_and_advise_outside(crew) -> None:
    t, con = crew
    inside = signed_limits(con, t, now=WED, may_stop_production=True)
    published = Published()
    autonomy = Autonomy(inside, t.operator, t.roles, DOMAIN, published)
    (rec,) = decide_day(con, _predictions(WED, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK,
                        autonomy=autonomy).records  # fmt: skip
    assert (rec.mode, rec.status, rec.limits_id) == ("autonomous", "commanded", inside.limits_id)
    assert get_status(con, rec.command_id).action == "maintenance_on"
    assert len(published.messages) == 1
    v = get_status(con, rec.command_id).version
    record_ack(con, "CNC-01", rec.command_id, v, "applied", None, WED + dt.timedelta(minutes=1))
    assert list_decisions(con)[0].status == "applied"


def test_a_decision_outside_the_limits_waits_for_a_person(crew) -> None:
    t, con = crew
    limits = signed_limits(con, t, now=WED, may_stop_production=False)
    published = Published()
    autonomy = Autonomy(limits, t.operator, t.roles, DOMAIN, published)
    (rec,) = decide_day(con, _predictions(WED, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK,
                        autonomy=autonomy).records  # fmt: skip
    assert (rec.mode, rec.status, rec.command_id) == ("advisory", "advised", None)
    assert "stopping production" in rec.detail["autonomous_refused"]
    assert (
        published.messages == [] and con.execute("SELECT count(*) FROM commands").fetchone()[0] == 0
    )
    # a past day decided again acts on nothing
    old = WED - dt.timedelta(days=3)
    (past,) = decide_day(con, _predictions(old, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK,
                         autonomy=autonomy).records  # fmt: skip
    assert past.command_id is None and "older than" in past.detail["not_sent"]


def test_the_days_decisions_go_to_the_warehouse(crew, tmp_path) -> None:
    _, con = crew
    decide_day(con, _predictions(WED, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK)
    with closing(duckdb.connect(str(tmp_path / "w.duckdb"))) as duck:
        assert write_decisions_table(duck, con, WED.date()) == 1
        assert write_decisions_table(duck, con, WED.date()) == 1  # replaced, not appended
        row = duck.execute(
            "SELECT machine_id, action, status, mode, rul_fused_h, prediction_ts = ts, "
            "expected_costs FROM decisions WHERE day = ?", [WED.date()],
        ).fetchone()  # fmt: skip
    assert row[:6] == ("CNC-01", "maintain_now", "advised", "advisory", 20.0, True)
    assert set(json.loads(row[6])) >= {"nothing", "maintain_now", "maintain_at_next_stop"}


def test_the_cli_lists_decisions_and_shows_limits(crew, tmp_path) -> None:
    from click.testing import CliRunner

    from dt_platform.cli import main

    t, con = crew
    decide_day(con, _predictions(WED, NEAR), registry=REGISTRY, now=WED, capacity=IN_STOCK)
    env = {"DT_HOME": str(tmp_path)}
    listed = CliRunner().invoke(main, ["decisions", "list", "--reasons"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "CNC-01" in listed.output and "maintain_now" in listed.output
    assert "advised" in listed.output and "× €20,000" in listed.output
    shown = CliRunner().invoke(main, ["limits", "show"], env=env)
    assert "current: none (every decision is advisory)" in shown.output
    signed_limits(con, t, now=dt.datetime.now(dt.UTC), max_derate_pct=15)
    shown = CliRunner().invoke(main, ["limits", "show"], env=env)
    assert "derate ≤ 15 %" in shown.output and t.manager.address in shown.output
