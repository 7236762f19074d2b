"""Sets or clears the dashboard's session cookie in the browser (a Streamlit v2 component).

The cookie holds only the opaque token of :class:`app.auth.SessionStore`; the server reads it
back from ``st.context.cookies`` when a reloaded page opens a new Streamlit session.
"""

from __future__ import annotations

import streamlit as st

_JS = """
export default function (component) {
  const { data } = component;
  if (!data) return;
  const parts = [data.name + "=" + encodeURIComponent(data.value), "Path=/", "SameSite=Strict",
                 "Max-Age=" + data.max_age];
  if (window.location.protocol === "https:") parts.push("Secure");
  document.cookie = parts.join("; ");
}
"""

_cookie = st.components.v2.component("dt_session_cookie", html="<span></span>", js=_JS)


def set_cookie(name: str, value: str, max_age_s: int, *, key: str = "dt_session_cookie") -> None:
    """Set cookie ``name`` for ``max_age_s`` seconds (0 clears it)."""
    _cookie(key=key, data={"name": name, "value": value, "max_age": max(0, max_age_s)}, height=0)
