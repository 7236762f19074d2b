"""The dt-platform dashboard's script (served by ``st.App`` in ``streamlit_app.py``).

Signed out, the only page is the sign-in (EIP-4361). Signed in, the navigation holds the pages
the account's on-chain roles and grants allow, read from the chain on every run; each page
checks again before it reads anything (:func:`app.session.guard`).
"""

from __future__ import annotations

import streamlit as st

from app import session
from app.access import allowed_pages

PAGES_DIR = "app_pages"  # relative to this script, as st.Page resolves it

st.set_page_config(page_title="dt-platform", page_icon=":material/factory:", layout="wide")

access = session.current_access()
if access is None:
    pages = [st.Page(f"{PAGES_DIR}/sign_in.py", title="Sign in", icon=":material/login:")]
else:
    pages = [
        st.Page(f"{PAGES_DIR}/{rule.key}.py", title=rule.title, icon=rule.icon, url_path=rule.key)
        for rule in allowed_pages(access)
    ]
    pages.append(
        st.Page(
            f"{PAGES_DIR}/account.py",
            title="My account",
            icon=":material/account_circle:",
            url_path="account",
            default=not pages,
        )
    )
    with st.sidebar:
        st.caption(f"Signed in as `{access.address}`")
        st.caption("Roles: " + (", ".join(sorted(access.roles)) or "none"))

session.sync_session_cookie()
st.navigation(pages).run()
