"""One-shot messages across a rerun: a form's callback (it runs on the submit's rerun, before the
page) leaves ``(level, text)`` under its key with :func:`say`; the page shows it once, where it
calls :func:`show`."""

import streamlit as st


def say(key: str, level: str, text: str) -> None:
    """Leave a message for the page: ``level`` is a Streamlit call (``success``, ``error``…)."""
    st.session_state[key] = (level, text)


def show(key: str) -> None:
    """Show the message left under ``key``, if any, and forget it."""
    outcome = st.session_state.pop(key, None)
    if outcome is not None:
        getattr(st, outcome[0])(outcome[1])
