"""Asks the dashboard's own HTTP routes (:mod:`app.web`) to set or clear the session cookie
(a Streamlit v2 component).

The cookie itself never passes through here: after a sign-in the component posts the session's
one-time handoff code to ``/dt-auth/session``, whose answer sets the ``HttpOnly`` cookie; after a
sign-out it posts to ``/dt-auth/sign-out``, whose answer clears it. The browser keeps the cookie
out of every page script's reach; the server reads it back from ``st.context.cookies`` when a
reloaded page opens a new Streamlit session.
"""

from __future__ import annotations

import streamlit as st

_JS = """
const sent = new Set();

export default function (component) {
  const { data, setTriggerValue } = component;
  if (!data || sent.has(data.id)) return;
  sent.add(data.id);
  fetch(data.url, {
    method: "POST",
    body: data.body,
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "text/plain" },
  })
    .then((r) => setTriggerValue("done", { id: data.id, ok: r.ok, status: r.status }))
    .catch(() => setTriggerValue("done", { id: data.id, ok: false, status: 0 }));
}
"""

_cookie = st.components.v2.component("dt_session_cookie", html="<span></span>", js=_JS)


def post_to_dashboard(url: str, body: str, request_id: str, *, key: str = "dt_session_cookie"):
    """POST ``body`` to the dashboard's ``url`` once per ``request_id``, from the browser.

    Returns the component result: ``.done`` (``{"id", "ok", "status"}``) is set on the run
    right after the browser got the answer, ``None`` otherwise.
    """
    return _cookie(
        key=key,
        data={"url": url, "body": body, "id": request_id},
        height=0,
        on_done_change=lambda: None,
    )
