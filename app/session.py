"""The dashboard's server-side glue: settings, the read-only chain client and warehouse, the
signed-in session and the per-page access guard.

Every page starts with :func:`guard`, which re-reads the signed-in account's roles and grants
from the chain on that run, so what a page shows always follows the chain, not the session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import polars as pl
import streamlit as st

from app import data
from app.access import Access, AccessDenied, read_access, require
from app.auth import NonceStore, SignedIn, SignIn
from app.cookie_component import post_to_dashboard
from app.limits import client_key
from app.sessions import SessionStore, sessions_path
from app.web import CLOSE_PATH, COOKIE, OPEN_PATH
from dt_platform.config import Settings, load_settings
from dt_platform.trust.chain import AuditChain, ChainError, ChainUnavailable
from dt_platform.warehouse import Warehouse, WarehouseBusy, WarehouseUnreadable

SIGNED_IN = "dt_signed_in"
SESSION_ID = "dt_session_id"
HANDOFF = "dt_session_handoff"
CLEAR_COOKIE = "dt_clear_cookie"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dashboard_url() -> str:
    """The URL users reach the dashboard at; sign-in messages are bound to its host and port."""
    return settings().dashboard_url


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource(ttl=300)
def chain() -> AuditChain:
    """A read-only client: the dashboard holds no key and sends no transactions."""
    return AuditChain.connect(settings(), read_only=True)


@st.cache_resource
def _nonces() -> NonceStore:
    return NonceStore()


@st.cache_resource
def sign_in_service(uri: str, chain_id: int, allow_dev_accounts: bool) -> SignIn:
    return SignIn(uri, chain_id, _nonces(), allow_dev_accounts=allow_dev_accounts)


def chain_or_error() -> AuditChain | None:
    """The chain client, or ``None`` after telling the user why it is unavailable."""
    try:
        return chain()
    except ChainUnavailable as exc:
        st.error(f"The chain cannot be reached, so roles cannot be checked: {exc}")
    except ChainError as exc:
        st.error(f"The chain does not run the platform's contracts: {exc}")
    return None


def sign_in() -> SignIn | None:
    client = chain_or_error()
    if client is None:
        return None
    return sign_in_service(dashboard_url(), client.chain_id, client.node.is_dev_chain)


def client() -> str:
    """Who this Streamlit session's requests come from, for the sign-in limits."""
    return client_key(st.context.ip_address)


@st.cache_resource
def _session_store(path: str) -> SessionStore:
    return SessionStore(Path(path))


def sessions() -> SessionStore:
    """The server-side sessions under ``$DT_HOME/dashboard/``."""
    return _session_store(str(sessions_path(settings().home)))


def remember(signed: SignedIn) -> None:
    """Open a server-side session for a verified sign-in and keep it for this Streamlit session;
    the browser gets its cookie on this run (:func:`sync_session_cookie`). Raises
    :class:`app.sessions.SessionLimit` when the client or the store is at its bound."""
    opened = sessions().open(signed, client())
    st.session_state[SIGNED_IN] = signed
    st.session_state[SESSION_ID] = opened.session_id
    st.session_state[HANDOFF] = {"id": secrets.token_hex(8), "code": opened.handoff}


def signed_in() -> SignedIn | None:
    """The session's verified sign-in (restored from the session cookie after a reload),
    dropped once it has expired or was ended (signed out here or in another tab)."""
    session = st.session_state.get(SIGNED_IN)
    if session is None:
        restored = sessions().restore(st.context.cookies.get(COOKIE))
        if restored is not None:
            st.session_state[SESSION_ID], session = restored
            st.session_state[SIGNED_IN] = session
    if session is not None and not session.is_valid(now()):
        sign_out()
        st.warning("Your session has expired: sign in again.")
        return None
    if session is not None and SESSION_ID in st.session_state:
        if sessions().live(st.session_state[SESSION_ID]) is None:
            sign_out()
            st.warning("This session was ended (signed out elsewhere): sign in again.")
            return None
    return session


def sign_out() -> None:
    """End the session on the server (its cookie restores nothing from now on) and have the
    browser drop the cookie."""
    sessions().revoke(st.session_state.pop(SESSION_ID, None))
    st.session_state.pop(SIGNED_IN, None)
    st.session_state.pop(HANDOFF, None)
    st.session_state[CLEAR_COOKIE] = secrets.token_hex(8)


def sign_out_everywhere(address: str) -> int:
    """End every session of ``address`` on the server (other browsers and tabs see "signed out
    elsewhere" at their next click), then this one; returns how many other sessions ended."""
    own_live = sessions().live(st.session_state.get(SESSION_ID)) is not None
    ended = sessions().revoke_address(address)
    sign_out()
    return max(ended - own_live, 0)


def _route(path: str) -> str:
    """A route of :mod:`app.web`, as the browser reaches it (under the dashboard URL's path)."""
    return urlsplit(dashboard_url()).path.rstrip("/") + path


def sync_session_cookie() -> None:
    """Have the browser fetch its HttpOnly session cookie after a sign-in (by redeeming the
    session's one-time code), or drop it after a sign-out."""
    handoff = st.session_state.get(HANDOFF)
    if handoff and st.session_state.get(SIGNED_IN):
        done = post_to_dashboard(_route(OPEN_PATH), handoff["code"], handoff["id"]).done
        if done and done.get("id") == handoff["id"]:
            st.session_state.pop(HANDOFF, None)
            if not done.get("ok"):
                st.warning("This browser did not keep the sign-in: a reload will sign you out.")
        return
    clear = st.session_state.get(CLEAR_COOKIE)
    if clear:
        done = post_to_dashboard(_route(CLOSE_PATH), "", clear).done
        if done and done.get("id") == clear:
            st.session_state.pop(CLEAR_COOKIE, None)


def current_access() -> Access | None:
    """The signed-in account's roles and grants, read from the chain on this run."""
    session = signed_in()
    if session is None:
        return None
    client = chain_or_error()
    if client is None:
        return None
    if client.chain_id != session.chain_id:
        st.error(f"You signed in on chain {session.chain_id}; the dashboard now reads another.")
        sign_out()
        return None
    try:
        return read_access(client, session.address, now())
    except ChainUnavailable as exc:
        st.error(f"The chain cannot be reached, so roles cannot be checked: {exc}")
        chain.clear()
    except ChainError as exc:
        st.error(f"Roles could not be read: {exc}")
    return None


def guard(page_key: str) -> Access:
    """First line of every page: the fresh access if it may open the page, else stop here."""
    try:
        return require(current_access(), page_key)
    except AccessDenied as exc:
        st.error(f"Access denied: {exc}.")
        st.stop()
        raise  # st.stop() raises; this line is for type checkers


@st.cache_data(ttl=30, show_spinner=False)
def _cached_query(name: str, args: tuple[Any, ...]) -> pl.DataFrame | list | Any:
    query: Callable[..., Any] = getattr(data, name)
    path = settings().warehouse_path
    with Warehouse(path).read(timeout_s=10) as con:
        return query(con, *args)


def query(name: str, *args: Any) -> Any:
    """Run ``app.data.<name>(con, *args)`` on the warehouse, read-only, cached for 30 s.

    Call it only after :func:`guard`: the cache is shared by every session, so what a page asks
    for must already be limited to what the account may see.
    """
    if not settings().warehouse_path.exists():
        st.info("The warehouse is empty: nothing has been ingested yet (run `make demo`).")
        st.stop()
    try:
        return _cached_query(name, args)
    except WarehouseBusy:
        st.warning("The warehouse is busy with a long write; reload in a moment.")
        st.stop()
    except WarehouseUnreadable as exc:
        st.error(f"The warehouse cannot be read: {exc}")
        st.stop()


def pick_prediction_day(none_yet: str) -> dt.date:
    """A select box of the days with predictions, newest first; stops with ``none_yet`` if none."""
    days = query("prediction_days")
    if not days:
        st.info(none_yet)
        st.stop()
    return st.selectbox("Day (UTC)", days, format_func=lambda d: d.isoformat())


@contextlib.contextmanager
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection for live checks (verification, proofs): not cached."""
    if not settings().warehouse_path.exists():
        st.info("The warehouse is empty: nothing has been ingested yet (run `make demo`).")
        st.stop()
    try:
        with Warehouse(settings().warehouse_path).read(timeout_s=10) as con:
            yield con
    except WarehouseBusy:
        st.warning("The warehouse is busy with a long write; try again in a moment.")
        st.stop()
    except WarehouseUnreadable as exc:
        st.error(f"The warehouse cannot be read: {exc}")
        st.stop()
