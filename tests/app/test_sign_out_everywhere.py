"""Sign-out everywhere from the account page (AppTest on the real chain and session store): every
session of the signed-in address ends, in other browsers too; other addresses keep theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.sessions import SessionStore, sessions_path

pytestmark = pytest.mark.integration

ENTRY = str(Path(__file__).resolve().parents[2] / "app" / "dashboard.py")
SESSION, SESSION_ID = "dt_signed_in", "dt_session_id"


def test_sign_out_everywhere_ends_the_addresss_other_sessions(platform) -> None:
    store = SessionStore(sessions_path(platform.settings.home))
    auditor, manager = platform.address("AUDITOR"), platform.address("MANAGER")
    here = store.open(platform.signed_in(auditor), "10.1.0.1")
    elsewhere = store.open(platform.signed_in(auditor), "10.1.0.2")  # another browser
    token = store.redeem(elsewhere.handoff, "10.1.0.2").token
    someone_else = store.open(platform.signed_in(manager), "10.1.0.3")

    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(auditor)
    at.session_state[SESSION_ID] = here.session_id
    at.run()
    at.switch_page("app_pages/account.py")
    at.run()
    assert not at.exception
    assert any("open session(s) of this address" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Sign out everywhere").click()
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["dt-platform"] and SESSION not in at.session_state
    assert store.live(here.session_id) is None
    assert store.live(elsewhere.session_id) is None and store.restore(token) is None
    assert store.count(address=auditor) == 0
    assert store.live(someone_else.session_id) is not None
    store.revoke(someone_else.session_id)
