"""The decisions page as each role meets it (Streamlit AppTest against the real chain and twin
store): the decision per machine with its reason; a MAINTAINER's approval hands the decision's
command to the wallet; only a MANAGER is offered the limits form; signed limits show as the mode."""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest
from eth_account import Account
from streamlit.testing.v1 import AppTest

from app import commanding
from dt_platform.ingest.registry import load_registry
from dt_platform.trust.chain import AuditChain, dev_key
from dt_platform.twin import db
from dt_platform.twin.costs import Capacity
from dt_platform.twin.decision_store import get_decision, list_decisions
from dt_platform.twin.decisions import decide_day
from dt_platform.twin.limits import Limits
from dt_platform.twin.limits_store import issue_limits, revoke_limits, submit_limits
from dt_platform.twin.production_plan import ProductionPlan
from dt_platform.twin.state import record_reported
from dt_platform.twin.typed_data import command_domain, sign_typed_data

pytestmark = pytest.mark.integration

ENTRY = str(Path(__file__).resolve().parents[2] / "app" / "dashboard.py")
SESSION = "dt_signed_in"


@pytest.fixture(scope="module")
def decided(platform):
    """A fresh advisory decision for CNC-01 (a failure expected within a day)."""
    settings = platform.settings
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=7)
    predictions = pl.DataFrame(
        {
            "machine_id": ["CNC-01"],
            "machine_type": ["cnc_spindle"],
            "ts": [now],
            "component_installed_at": [now - dt.timedelta(days=60)],
            "rul_fused_h": [18.0],
            "rul_fused_lo_h": [5.0],
            "rul_fused_hi_h": [40.0],
            "model_version": ["page-test"],
        }
    )
    with closing(db.connect(settings.twin_db_path)) as con:
        record_reported(con, "CNC-01", "gw-historian", online=True, mode="production",
                        settings={"derate_pct": 0.0})  # fmt: skip
        run = decide_day(
            con, predictions, registry=load_registry(settings.machine_registry_path),
            now=now, capacity=Capacity(default_spare_lead_time_h=0.0),
            plan=ProductionPlan(weekly_stops=()),  # whatever the weekday: act now, not at a stop
        )  # fmt: skip
    (rec,) = run.records
    return rec


def app(platform, role: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    at.switch_page("app_pages/decisions.py")
    return at.run()


def text(at: AppTest) -> str:
    kinds = ("markdown", "caption", "error", "info", "success", "warning")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_a_maintainer_sees_the_advice_and_approves_it_into_a_command(platform, decided) -> None:
    command = {"maintain_now": "maintenance_on", "inspect": "inspect", "derate": "derate"}
    assert decided.status == "advised" and decided.action in command
    at = app(platform, "MAINTAINER")
    assert not at.exception and [t.value for t in at.title] == ["Decisions"]
    shown = text(at)
    what = decided.action.replace("_", " ")
    assert f"**CNC-01** · **{what}" in shown and "advised (advisory)" in shown
    # the demo MANAGER's limits are in force (derate only): a stop still waits for a MAINTAINER
    assert decided.reason in shown and "Autonomous within limits" in shown
    assert "Only a MANAGER sets the autonomy limits" in shown
    at.button(key=f"approve_{decided.decision_id}").click().run()
    assert not at.exception
    request = at.session_state[commanding.SIGNING]
    assert request["purpose"] == "command" and command[decided.action] in request["typed_data"]
    with closing(db.connect(platform.settings.twin_db_path)) as con:
        rec = get_decision(con, decided.decision_id)
    assert rec.status == "approved" and rec.command_id == request["command_id"]


def test_a_manager_is_offered_the_limits_and_sees_them_in_force(platform, decided) -> None:
    at = app(platform, "MANAGER")
    assert not at.exception
    assert "Sign limits with browser wallet" in [b.label for b in at.get("form_submit_button")]
    settings = platform.settings
    chain = AuditChain.connect(settings, read_only=True)
    manager = Account.from_key(dev_key("MANAGER"))
    now = dt.datetime.now(dt.UTC)
    with closing(db.connect(settings.twin_db_path)) as con:
        draft = issue_limits(con, Limits(15, expires_at=now + dt.timedelta(days=1)),
                             domain=command_domain(chain), now=now)  # fmt: skip
        submit_limits(con, draft.limits_id, sign_typed_data(draft.typed_data, manager),
                      roles=chain, domain=command_domain(chain), now=now)  # fmt: skip
    try:
        at = app(platform, "MAINTAINER")
        assert not at.exception
        assert "Autonomous within limits" in text(at) and "derate ≤ 15 %" in text(at)
    finally:
        with closing(db.connect(settings.twin_db_path)) as con:
            revoke_limits(con, draft.limits_id, by=manager.address, now=now)
            assert list_decisions(con, machine_id="CNC-01")
