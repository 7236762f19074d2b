"""The dashboard's own HTTP routes, served beside Streamlit's by ``st.App`` (``streamlit_app.py``):
they set and clear the session cookie with a ``Set-Cookie`` header, the only way a cookie can be
``HttpOnly`` (a cookie a script sets can be read by every script on the page).

- ``POST /dt-auth/session`` with a session's one-time handoff code as its body (sent by
  :mod:`app.cookie_component` right after a sign-in) answers ``204`` and sets ``dt_session``:
  the token, ``HttpOnly; SameSite=Strict; Path=/``, ``Secure`` when served over https, for as
  long as the session lasts.
- ``POST /dt-auth/sign-out`` ends the session the cookie names and clears the cookie.

Both accept only requests from the dashboard's own pages: the ``Origin`` header must be the
origin of ``DT_DASHBOARD_URL`` (and ``Sec-Fetch-Site``, when sent, ``same-origin``), so another
site can neither plant its own session in a user's browser nor sign a user out.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from app.limits import client_key
from app.sessions import SessionStore, sessions_path
from dt_platform.config import load_settings

__all__ = ["CLOSE_PATH", "COOKIE", "OPEN_PATH", "origin_of", "routes"]

COOKIE = "dt_session"
OPEN_PATH = "/dt-auth/session"
CLOSE_PATH = "/dt-auth/sign-out"
MAX_BODY = 512


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as a browser sends it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@functools.cache
def _dashboard() -> tuple[str, Path]:
    settings = load_settings()
    return settings.dashboard_url, settings.home


@functools.cache
def _store(path: Path) -> SessionStore:
    return SessionStore(path)


def _refusal(request: Request, dashboard_url: str) -> Response | None:
    if request.headers.get("origin", "").lower() != origin_of(dashboard_url):
        return PlainTextResponse("403 - Forbidden: not from the dashboard's own page", 403)
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return PlainTextResponse("403 - Forbidden: not from the dashboard's own page", 403)
    length = request.headers.get("content-length") or "0"
    if not length.isdigit() or int(length) > MAX_BODY:
        return PlainTextResponse("413 - Payload Too Large", 413)
    return None


async def _code(request: Request) -> str:
    """The body (a handoff code), read no further than :data:`MAX_BODY` bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return ""
    return body.decode("ascii", "replace").strip()


def _secure(request: Request, dashboard_url: str) -> bool:
    return urlsplit(dashboard_url).scheme == "https" or request.url.scheme == "https"


async def open_session(request: Request) -> Response:
    dashboard_url, home = _dashboard()
    refused = _refusal(request, dashboard_url)
    if refused is not None:
        return refused
    code = await _code(request)
    client = client_key(request.client.host if request.client else None)
    store = _store(sessions_path(home))
    redeemed = await run_in_threadpool(store.redeem, code, client)
    if redeemed is None:
        return PlainTextResponse("403 - Forbidden: this sign-in code is unknown, used or old", 403)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    max_age = int((redeemed.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    response.set_cookie(
        COOKIE,
        redeemed.token,
        max_age=max(max_age, 0),
        path="/",
        secure=_secure(request, dashboard_url),
        httponly=True,
        samesite="strict",
    )
    return response


async def close_session(request: Request) -> Response:
    dashboard_url, home = _dashboard()
    refused = _refusal(request, dashboard_url)
    if refused is not None:
        return refused
    store = _store(sessions_path(home))
    await run_in_threadpool(store.revoke_token, request.cookies.get(COOKIE))
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    response.delete_cookie(
        COOKIE,
        path="/",
        secure=_secure(request, dashboard_url),
        httponly=True,
        samesite="strict",
    )
    return response


def routes() -> list[BaseRoute]:
    """The routes ``st.App`` serves beside Streamlit's."""
    return [
        Route(OPEN_PATH, open_session, methods=["POST"]),
        Route(CLOSE_PATH, close_session, methods=["POST"]),
    ]
