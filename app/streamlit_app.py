"""The dt-platform dashboard server: `streamlit run app/streamlit_app.py`.

Streamlit finds the ``st.App`` below and serves it with uvicorn: the dashboard itself
(:mod:`app.dashboard`, navigation by on-chain role) plus the dashboard's own HTTP routes
(:mod:`app.web`), which set and clear the ``HttpOnly`` session cookie.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.web import routes

app = st.App(Path(__file__).with_name("dashboard.py"), routes=routes())
