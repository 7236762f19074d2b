"""The twin's pages as each role meets them (Streamlit AppTest against the real chain, warehouse
and twin store): alarms open now with their history, links and acknowledgement (MAINTAINER,
checked on chain at submit); the live twin with its commands; the machine page's RUL marks.

The signed round trip through a browser wallet is in ``test_browser.py``."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from pathlib import Path

import pytest
from eth_account import Account
from streamlit.testing.v1 import AppTest

from dt_platform.ingest.registry import load_registry
from dt_platform.live.broker import broker_down, broker_up
from dt_platform.live.cli import known_gateways
from dt_platform.trust.chain import AuditChain, dev_key
from dt_platform.twin import db
from dt_platform.twin.alarms import Condition, alarm_history, alarms, open_alarms, sync_alarms
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import list_commands, open_commands
from dt_platform.twin.state import record_reported
from dt_platform.twin.typed_data import command_domain, sign_typed_data

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "app"
ENTRY = str(APP / "dashboard.py")
SESSION = "dt_signed_in"


@pytest.fixture(scope="module")
def twin(platform):
    """The platform's twin store with what the pages show: two machines reporting, alarms of
    both severities (one acknowledged, one closed), a derate recorded but not published (the
    demo's broker is down for these tests: an outage) and a critical derate awaiting approval."""
    settings = platform.settings
    broker_down(settings)
    with closing(open_commands(db.connect(settings.twin_db_path))) as con:
        last = con.execute("SELECT max(as_of) FROM alarm_syncs").fetchone()[0]
        now = dt.datetime.now(dt.UTC)
        if last is not None:  # the demo synced its days up to their end, maybe ahead of now
            now = max(now, dt.datetime.fromisoformat(last) + dt.timedelta(minutes=1))
        for machine, gateway in (("OVEN-01", "gw-mqtt"), ("CNC-01", "gw-historian")):
            record_reported(
                con, machine, gateway, online=True, mode="production",
                settings={"derate_pct": 0.0, "maintenance": False, "inspection": ""},
                readings={"zone_temp_c": [245.5, "°C"]}, reading_ts=now.isoformat(),
            )  # fmt: skip
        since = now - dt.timedelta(hours=3)
        risk = [
            Condition(
                "SMT-01", "rul_risk", "warning", since, {"probability": 0.6, "horizon_h": 72}
            ),
            Condition("CNC-01", "rul_risk", "critical", since, {"reason": "vibration rising"}),
            Condition("SERVO-01", "rul_risk", "warning", since, {}),
        ]
        sync_alarms(con, risk, [], now - dt.timedelta(seconds=30), kinds=["rul_risk"])
        sync_alarms(con, risk[:2], [], now, kinds=["rul_risk"])  # SERVO-01's clears
        drift = Condition("OVEN-01", "drift", "warning", since, {"delta": {"derate_pct": 10.0}})
        sync_alarms(con, [drift], [], now, kinds=["drift"])

        chain = AuditChain.connect(settings, read_only=True)
        domain = command_domain(chain)
        registry = load_registry(settings.machine_registry_path)
        maintainer = Account.from_key(dev_key("MAINTAINER"))
        for machine, percent in (("OVEN-01", 10.0), ("CNC-01", 60.0)):
            draft = issue_draft(
                con, registry, machine, "derate", domain=domain, now=now, percent=percent
            )
            submit_signature(
                con, draft.command_id, sign_typed_data(draft.typed_data, maintainer),
                roles=chain, publisher=None, domain=domain, now=now,
                signer=maintainer.address,
            )  # fmt: skip
    try:
        yield settings
    finally:
        broker_up(settings, known_gateways(settings))  # the outage ends for the other tests


def app(platform, role_or_address: str, page: str, **query: str) -> AppTest:
    address = (
        role_or_address if role_or_address.startswith("0x") else platform.address(role_or_address)
    )
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(address)
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "error", "info", "success", "warning")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def links(at: AppTest) -> list[dict]:
    return [{"page": e.proto.page, "query": e.proto.query_string} for e in at.get("page_link")]


def alarm_lines(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(":material/")]


def test_alarms_open_on_what_is_open_now_most_severe_first(platform, twin) -> None:
    at = app(platform, "MAINTAINER", "alarms")
    assert not at.exception and [t.value for t in at.title] == ["Alarms"]
    lines = alarm_lines(at)
    assert [line.split("**")[1] for line in lines] == ["CNC-01", "OVEN-01", "SMT-01"]
    assert "critical" in lines[0] and "vibration rising" in texts(at)
    assert "P(failure within 72 h) = 0.60" in lines[2]
    assert "SERVO-01" not in "\n".join(lines)  # cleared: under closed alarms only
    assert any(row["machine"] == "SERVO-01" for row in at.table[-1].value.to_dict("records"))
    targets = [(link["page"], link["query"]) for link in links(at)]
    assert ("machine", "machine=CNC-01") in [(p.rsplit("/", 1)[-1], q) for p, q in targets]
    assert len(at.text_area) == 3  # every open alarm can be acknowledged by a maintainer


def test_a_manager_sees_the_alarms_but_no_acknowledge_form(platform, twin) -> None:
    at = app(platform, "MANAGER", "alarms")
    assert not at.exception and len(alarm_lines(at)) >= 3
    assert not at.text_area and "Only a MAINTAINER acknowledges" in texts(at)


def _ack(at: AppTest, twin_db: Path, machine: str, note: str) -> AppTest:
    """Fill the note of ``machine``'s open alarm and submit its form."""
    with closing(db.connect(twin_db)) as con:
        alarm = next(a for a in open_alarms(con) if a.machine_id == machine)
    keys = [t.key for t in at.text_area]
    at.text_area(key=f"ack_note_{alarm.alarm_id}").input(note)
    [b for b in at.button if b.label == "Acknowledge"][
        keys.index(f"ack_note_{alarm.alarm_id}")
    ].click()
    return at.run()


def test_a_maintainer_acknowledges_with_a_note(platform, twin) -> None:
    at = app(platform, "MAINTAINER", "alarms")
    at = _ack(at, twin.twin_db_path, "SMT-01", "   ")
    assert any("needs a note" in e.value for e in at.error), texts(at)
    at = _ack(at, twin.twin_db_path, "SMT-01", "nozzle set ordered, swap on the night shift")
    assert not at.exception
    maintainer = platform.address("MAINTAINER")
    assert any(f"acknowledged by {maintainer}" in s.value for s in at.success), texts(at)
    with closing(db.connect(twin.twin_db_path)) as con:
        smt = next(a for a in alarms(con, machine_id="SMT-01") if a.active)
        assert smt.state == "acknowledged" and smt.acked_by == maintainer
        assert [e.type for e in alarm_history(con, smt.alarm_id)][-1] == "acknowledged"
    assert "nozzle set ordered" in texts(at)


def test_an_acknowledgement_without_the_role_on_chain_is_refused(platform, twin, outsider) -> None:
    """The form was shown while the account held MAINTAINER; the role is gone at submit."""
    admin = platform.client("ADMIN")
    admin.grant_role("MANAGER", outsider)
    admin.grant_role("MAINTAINER", outsider)
    try:
        at = app(platform, outsider, "alarms")
        assert at.text_area, "a maintainer is offered the form"
        admin.revoke_role("MAINTAINER", outsider)
        at = _ack(at, twin.twin_db_path, "CNC-01", "looked at it")
        refusal = [e.value for e in at.error if "Acknowledgement refused" in e.value]
        assert refusal and f"{outsider} does not hold MAINTAINER" in refusal[0]
        assert not at.text_area  # the page follows the chain from now on
        with closing(db.connect(twin.twin_db_path)) as con:
            cnc = next(a for a in alarms(con, machine_id="CNC-01") if a.active)
            assert cnc.state == "open" and cnc.acked_by is None
    finally:
        for role in ("MANAGER", "MAINTAINER"):
            if admin.has_role(role, outsider):
                admin.revoke_role(role, outsider)


@pytest.mark.parametrize("page", ["alarms", "live"])
@pytest.mark.parametrize("role", ["AUDITOR", "QC", "OPERATOR"])
def test_the_twin_pages_are_for_managers_and_maintainers(platform, twin, page, role) -> None:
    at = AppTest.from_file(str(APP / "app_pages" / f"{page}.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    assert not at.exception and "Access denied" in at.error[0].value
    assert not at.title and not at.table


def test_the_live_page_shows_state_delta_and_commands(platform, twin) -> None:
    at = app(platform, "MAINTAINER", "live", machine="OVEN-01")
    assert not at.exception and [t.value for t in at.title] == ["Live twin"]
    assert at.selectbox[0].value == "OVEN-01"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "online" and metrics["Mode"] == "production"
    settings = {r["setting"]: r for r in at.table[0].value.to_dict("records")}
    assert settings["derate_pct"]["reported"] == "0" and settings["derate_pct"]["desired"] == "10"
    assert settings["derate_pct"]["delta"] == "yes"
    assert "Latest command: **derate 10 %** · **pending**" in texts(at)
    assert "recorded but not published" in texts(at)  # no broker: stays pending, said so
    history = at.table[2].value.to_dict("records")
    assert history[0]["signed by"] == platform.address("MAINTAINER")
    assert not history[0]["published"]
    assert any(b.label == "Sign with browser wallet and send" for b in at.button)
    # a retry while the broker is still down fails clearly and keeps the command pending
    next(b for b in at.button if b.label == "Retry publishing").click()
    at.run()
    assert any("still unreachable" in w.value for w in at.warning), texts(at)
    with closing(db.connect(twin.twin_db_path)) as con:
        (pending,) = [c for c in list_commands(con, "OVEN-01") if c.state == "pending"]
        assert not pending.published


def test_the_command_form_issues_a_draft_for_the_wallet_to_sign(platform, twin) -> None:
    at = app(platform, "MAINTAINER", "live", machine="OVEN-01")
    form_action = next(s for s in at.selectbox if s.label == "Action")
    form_action.set_value("inspect")
    next(b for b in at.button if b.label == "Sign with browser wallet and send").click()
    at.run()
    assert not at.exception
    request = at.session_state["dt_twin_signing"]
    typed = json.loads(request["typed_data"])
    assert typed["primaryType"] == "Command" and typed["message"]["machineId"] == "OVEN-01"
    assert typed["message"]["action"] == "inspect"
    assert request["address"] == platform.address("MAINTAINER")
    with closing(db.connect(twin.twin_db_path)) as con:
        row = con.execute(
            "SELECT state FROM commands WHERE command_id = ?", (request["command_id"],)
        ).fetchone()
        assert row["state"] == "issued"  # nothing changes until the signature is checked


def test_a_manager_gets_approvals_not_the_command_form(platform, twin) -> None:
    at = app(platform, "MANAGER", "live", machine="CNC-01")
    assert not at.exception
    assert not any(b.label == "Sign with browser wallet and send" for b in at.button)
    assert "Only a MAINTAINER signs commands" in texts(at)
    assert "awaiting_approval" in texts(at)
    approve = [b for b in at.button if b.label == "Approve with wallet"]
    assert approve
    approve[0].click()
    at.run()
    request = at.session_state["dt_twin_signing"]
    typed = json.loads(request["typed_data"])
    assert typed["primaryType"] == "Approval" and typed["message"]["machineId"] == "CNC-01"
    assert typed["message"]["issuer"] == platform.address("MAINTAINER")


def test_the_machine_page_marks_alerts_and_failures_and_opens_by_link(platform) -> None:
    at = app(platform, "MANAGER", "machine", machine="CNC-01")
    assert not at.exception and at.selectbox[0].value == "CNC-01"
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    marks = [layer.get("mark", {}).get("type") for layer in spec.get("layer", [])]
    assert "rule" in marks  # CNC-01 failed once in the demo line (a corrective work order)
    link = next(lk for lk in links(at) if lk["page"].endswith("live"))
    assert link["query"] == "machine=CNC-01"
