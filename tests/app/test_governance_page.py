"""Governance on the Roles & grants page (AppTest on the real chain): a change is handed to the
browser wallet as an unsigned transaction only when the signed-in account holds the role on
chain; otherwise it is refused before the wallet is asked. (The wallet's signing and the mined
transaction: tests/app/test_browser.py and tests/contracts/test_wallet_tx.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import governance

pytestmark = pytest.mark.integration

ENTRY = str(Path(__file__).resolve().parents[2] / "app" / "dashboard.py")
SESSION = "dt_signed_in"


def roles_page(platform, role: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    at.switch_page("app_pages/roles.py")
    return at.run()


def submit(at: AppTest, label: str) -> AppTest:
    next(b for b in at.get("form_submit_button") if b.label == label).click()
    return at.run()


def test_a_manager_s_grant_goes_to_the_wallet_as_an_unsigned_transaction(
    platform, outsider
) -> None:
    at = roles_page(platform, "MANAGER")
    assert not at.exception
    at.text_input(key="gov_grantee").input(outsider)
    at.number_input(key="gov_days").set_value(7)
    submit(at, "Share with browser wallet")
    assert not at.exception and not at.error, [e.value for e in at.error]
    request = at.session_state[governance.SENDING]
    tx = request["unsigned"]
    manager = platform.address("MANAGER")
    assert request["address"] == manager and tx.sender == manager and tx.op == "grant_access"
    assert tx.to == platform.client("MANAGER").deployment.address("DataGrants")
    assert tx.to_rpc()["chainId"] == hex(31337) and outsider in tx.summary
    assert not platform.client("MANAGER").has_access(
        at.selectbox(key="gov_dataset").value, outsider
    )


def test_an_admin_without_manager_is_refused_before_the_wallet(platform, outsider) -> None:
    at = roles_page(platform, "ADMIN")
    at.text_input(key="gov_grantee").input(outsider)
    submit(at, "Share with browser wallet")
    assert not at.exception
    assert any("Refused" in e.value and "does not hold MANAGER" in e.value for e in at.error)
    assert governance.SENDING not in at.session_state


def test_a_manager_without_admin_cannot_grant_roles(platform, outsider) -> None:
    at = roles_page(platform, "MANAGER")
    at.text_input(key="gov_role_account").input(outsider)
    submit(at, "Send with browser wallet")
    assert any("does not hold ADMIN" in e.value for e in at.error)
    assert governance.SENDING not in at.session_state


def test_a_mistyped_address_is_refused_with_the_reason(platform) -> None:
    at = roles_page(platform, "ADMIN")
    at.text_input(key="gov_role_account").input("0x1234")
    submit(at, "Send with browser wallet")
    assert any("not an Ethereum address" in e.value for e in at.error)
    assert governance.SENDING not in at.session_state
