"""The dashboard as each role meets it (Streamlit AppTest against a real chain and warehouse):
navigation by on-chain role, the page guard, sign-in through the CLI wallet, revocation, expiry
and a chain that cannot be reached."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st
from eth_account import Account
from streamlit.testing.v1 import AppTest

from dt_platform.demo import DEMO_SHARED_DATASETS
from dt_platform.trust.chain import dev_key
from dt_platform.trust.wallet import sign_in_message

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "app"
ENTRY = str(APP / "dashboard.py")
SESSION = "dt_signed_in"
ALL_PAGES = (
    "fleet",
    "machine",
    "alarms",
    "live",
    "decisions",
    "maintenance_plan",
    "production",
    "roi",
    "reports",
    "audit",
    "track_record",
    "roles",
)
VISIBLE = {
    "MANAGER": {
        "fleet",
        "machine",
        "alarms",
        "live",
        "decisions",
        "maintenance_plan",
        "production",
        "roi",
        "reports",
        "audit",
        "track_record",
        "roles",
    },
    "MAINTAINER": {"fleet", "machine", "alarms", "live", "decisions", "maintenance_plan"},
    "QC": {"production"},  # by the demo's production grants, not by the role
    "AUDITOR": {"audit", "track_record"},
    "SUPPLIER": {"audit", "track_record"},
    "ADMIN": {"roles"},
    "OPERATOR": set(),
}
TITLES = {
    "fleet": "Fleet health",
    "machine": "Machine detail",
    "alarms": "Alarms",
    "live": "Live twin",
    "decisions": "Decisions",
    "maintenance_plan": "Maintenance plan",
    "production": "Production",
    "roi": "Return on investment",
    "reports": "Daily reports",
    "audit": "Audit trail",
    "track_record": "Track record",
    "roles": "Roles & grants",
}


def app(platform, address: str | None = None) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    if address is not None:
        at.session_state[SESSION] = platform.signed_in(address)
    return at.run()


def can_switch(at: AppTest, page: str) -> bool:
    try:
        at.switch_page(f"app_pages/{page}.py")
    except ValueError:
        return False
    return True


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "error", "info", "success", "warning")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_signed_out_only_the_sign_in_page_exists(platform) -> None:
    at = app(platform)
    assert not at.exception
    assert [t.value for t in at.title] == ["dt-platform"]
    assert all(not can_switch(at, page) for page in ALL_PAGES)


@pytest.mark.parametrize("role", sorted(VISIBLE))
def test_each_role_sees_its_pages_and_each_page_renders(platform, role: str) -> None:
    at = app(platform, platform.address(role))
    assert not at.exception
    visible = {
        page for page in ALL_PAGES if can_switch(app(platform, platform.address(role)), page)
    }
    assert visible == VISIBLE[role]
    for page in sorted(visible):
        at = app(platform, platform.address(role))
        at.switch_page(f"app_pages/{page}.py")
        at.run()
        assert not at.exception, (page, at.exception)
        assert [t.value for t in at.title] == [TITLES[page]], page
        assert not at.error, (page, [e.value for e in at.error])
    at = app(platform, platform.address(role))
    at.switch_page("app_pages/account.py")
    at.run()
    assert not at.exception and platform.address(role) in texts(at)


@pytest.mark.parametrize(
    ("role", "page"),
    [("MAINTAINER", "production"), ("QC", "fleet"), ("AUDITOR", "roles"), ("OPERATOR", "audit")],
)
def test_a_page_opened_directly_checks_the_role_itself(platform, role: str, page: str) -> None:
    at = AppTest.from_file(str(APP / "app_pages" / f"{page}.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] and "Access denied" in at.error[0].value
    assert not at.dataframe and not at.title  # stopped before anything was read


def test_a_page_opened_directly_without_sign_in_is_refused(platform) -> None:
    at = AppTest.from_file(str(APP / "app_pages" / "fleet.py"), default_timeout=60).run()
    assert "sign in first" in at.error[0].value and not at.dataframe


def test_qc_sees_only_the_machine_types_shared_with_it(platform) -> None:
    at = app(platform, platform.address("QC"))
    at.switch_page("app_pages/production.py")
    at.run()
    assert not at.exception
    shared = sorted(d.removeprefix("production/") for d in DEMO_SHARED_DATASETS)
    assert set(at.dataframe[0].value["machine_type"]) == set(shared)
    assert at.multiselect[0].options == shared


def test_manager_sees_every_machine_type_in_production(platform) -> None:
    at = app(platform, platform.address("MANAGER"))
    at.switch_page("app_pages/production.py")
    at.run()
    assert len(set(at.dataframe[0].value["machine_type"])) > 1


def test_sign_in_with_the_cli_wallet(platform) -> None:
    manager = Account.from_key(dev_key("MANAGER"))
    at = app(platform)
    at.text_input(key="cli_address").input(manager.address)
    at.button[0].click()  # "Get a sign-in message" (the form's submit button)
    at.run()
    message = at.code[0].value
    assert f"{manager.address}" in message and "Chain ID: 31337" in message

    at.text_input(key="cli_signature").input("0x" + "11" * 65)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert any("Sign-in refused" in e.value for e in at.error)

    signature = sign_in_message(message, manager).signature
    at.text_input(key="cli_signature").input(signature)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Fleet health"]
    assert at.session_state[SESSION].address == manager.address

    # the same signed message cannot sign anyone in again
    replay = app(platform)
    replay.text_input(key="cli_address").input(manager.address)
    replay.button[0].click()
    replay.run()
    replay.text_input(key="cli_signature").input(signature)
    next(b for b in replay.button if b.label == "Sign in").click()
    replay.run()
    assert any("Sign-in refused" in e.value for e in replay.error)
    assert SESSION not in replay.session_state


def test_a_revoked_role_closes_its_pages_at_the_next_run(platform, outsider) -> None:
    admin = platform.client("ADMIN")
    admin.grant_role("MAINTAINER", outsider)
    try:
        at = app(platform, outsider)
        assert [t.value for t in at.title] == ["Fleet health"]
        admin.revoke_role("MAINTAINER", outsider)
        at.run()  # the same session, the next click
        assert [t.value for t in at.title] == ["My account"]
        assert "holds no role" in texts(at)
        assert not can_switch(at, "fleet")
    finally:
        if admin.has_role("MAINTAINER", outsider):
            admin.revoke_role("MAINTAINER", outsider)


def test_an_expired_session_signs_out(platform) -> None:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    signed = platform.signed_in(platform.address("MANAGER"))
    at.session_state[SESSION] = type(signed)(
        signed.address, signed.chain_id, signed.signed_in_at, dt.datetime.now(dt.UTC)
    )
    at.run()
    assert [t.value for t in at.title] == ["dt-platform"]
    assert any("expired" in w.value for w in at.warning)


def test_sign_out(platform) -> None:
    at = app(platform, platform.address("AUDITOR"))
    at.switch_page("app_pages/account.py")
    at.run()
    next(b for b in at.button if b.label == "Sign out").click()
    at.run()
    assert [t.value for t in at.title] == ["dt-platform"] and SESSION not in at.session_state


def test_verify_a_day_from_the_audit_page(platform) -> None:
    at = app(platform, platform.address("AUDITOR"))
    at.switch_page("app_pages/audit.py")
    at.run()
    next(b for b in at.button if b.label.startswith("Verify")).click()
    at.run()
    assert not at.exception
    assert any("verified" in s.value for s in at.success), texts(at)


def test_an_unreachable_chain_fails_closed(platform, monkeypatch: pytest.MonkeyPatch) -> None:
    st.cache_resource.clear()
    monkeypatch.setenv("DT_CHAIN_RPC", "http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        at = app(platform, platform.address("MANAGER"))
        assert not at.exception
        assert any("cannot be reached" in e.value for e in at.error)
        assert all(not can_switch(at, page) for page in ALL_PAGES)
    finally:
        monkeypatch.delenv("DT_CHAIN_RPC")
        st.cache_resource.clear()


def test_a_session_ended_elsewhere_closes_at_the_next_run(platform) -> None:
    from app.sessions import SessionStore, sessions_path

    auditor = Account.from_key(dev_key("AUDITOR"))
    at = app(platform)
    at.text_input(key="cli_address").input(auditor.address)
    at.button[0].click()
    at.run()
    message = at.code[0].value
    at.text_input(key="cli_signature").input(sign_in_message(message, auditor).signature)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert [t.value for t in at.title] == ["Audit trail"]
    store = SessionStore(sessions_path(platform.settings.home))
    assert store.live(at.session_state["dt_session_id"]).address == auditor.address
    store.revoke(at.session_state["dt_session_id"])  # signed out in another tab
    at.run()
    assert [t.value for t in at.title] == ["dt-platform"] and SESSION not in at.session_state
    assert any("ended" in w.value for w in at.warning)


def test_a_damaged_warehouse_is_a_clear_error_not_a_traceback(
    platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import session
    from dt_platform.warehouse import WarehouseUnreadable

    def unreadable(name, args):
        raise WarehouseUnreadable("warehouse.duckdb cannot be opened: Corrupt database file")

    monkeypatch.setattr(session, "_cached_query", unreadable)
    at = app(platform, platform.address("MANAGER"))
    at.switch_page("app_pages/fleet.py")
    at.run()
    assert not at.exception
    assert any("cannot be read" in e.value for e in at.error), texts(at)
