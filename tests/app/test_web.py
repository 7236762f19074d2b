"""The dashboard's cookie routes (app.web) over real HTTP (uvicorn on a loopback port): the
cookie's attributes, Secure behind https, one-time codes, and what they refuse."""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from app import web
from app.auth import SignedIn
from app.sessions import SessionStore, sessions_path
from dt_platform.trust.anvil import free_port

DASHBOARD = "https://dashboard.example"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, SessionStore]]:
    monkeypatch.setattr(web, "_dashboard", lambda: (DASHBOARD, tmp_path))
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=web.routes()), port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}", SessionStore(sessions_path(tmp_path))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def post(url: str, body: bytes = b"", **headers: str) -> tuple[int, str]:
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Set-Cookie") or ""
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Set-Cookie") or ""


def open_session(store: SessionStore, client: str = "local") -> str:
    now = dt.datetime.now(dt.UTC)
    signed = SignedIn("0x" + "a1" * 20, 1, now, now + dt.timedelta(hours=8))
    return store.open(signed, client).handoff


def test_a_handoff_code_becomes_an_httponly_strict_secure_cookie_once(served) -> None:
    url, store = served
    code = open_session(store)
    status, cookie = post(url + web.OPEN_PATH, code.encode(), Origin=DASHBOARD)
    assert status == 204
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith("dt_session=") and len(attributes[0]) > 50
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= set(attributes)
    max_age = next(int(a.split("=")[1]) for a in attributes if a.startswith("max-age="))
    assert 8 * 3600 - 60 < max_age <= 8 * 3600
    token = cookie.split(";")[0].split("=", 1)[1]
    assert store.restore(token) is not None
    assert post(url + web.OPEN_PATH, code.encode(), Origin=DASHBOARD) == (403, "")  # once


def test_a_code_from_another_client_or_site_is_refused(served) -> None:
    url, store = served
    theirs = open_session(store, client="192.0.2.10")  # signed in from another network
    assert post(url + web.OPEN_PATH, theirs.encode(), Origin=DASHBOARD) == (403, "")
    ours = open_session(store)
    for headers in (
        {},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": DASHBOARD, "Sec-Fetch-Site": "same-site"},
    ):
        assert post(url + web.OPEN_PATH, ours.encode(), **headers) == (403, "")
    assert post(url + web.OPEN_PATH, b"x" * 10_000, Origin=DASHBOARD)[0] == 413
    assert post(url + web.OPEN_PATH, ours.encode(), Origin=DASHBOARD)[0] == 204  # still good


def test_sign_out_ends_the_session_and_clears_the_cookie(served) -> None:
    url, store = served
    _, cookie = post(url + web.OPEN_PATH, open_session(store).encode(), Origin=DASHBOARD)
    token = cookie.split(";")[0].split("=", 1)[1]
    assert post(url + web.CLOSE_PATH, Cookie=f"dt_session={token}")[0] == 403  # no Origin
    assert store.restore(token) is not None
    status, cleared = post(url + web.CLOSE_PATH, Origin=DASHBOARD, Cookie=f"dt_session={token}")
    assert status == 204 and "max-age=0" in cleared.lower() and "httponly" in cleared.lower()
    assert store.restore(token) is None
