"""The dashboard in a real browser (Debian's Chromium driven by Playwright), served by the same
command `make demo` runs: sign in with a browser wallet (an EIP-1193 provider injected into the
page whose `personal_sign` is a real secp256k1 signature) or with the CLI wallet, and see the
pages of the account's on-chain roles."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from assets.demo import ui_commands
from dt_platform.demo import DEMO_SHARED_DATASETS, dashboard_url
from dt_platform.trust.anvil import free_port
from dt_platform.trust.chain import dev_key

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_dashboard(platform, port: int, log: Path) -> Iterator[str]:
    """The dashboard as `make demo` starts it, on ``port``, until the block ends."""
    url = dashboard_url(port)
    env = os.environ | platform.env | {"DT_DASHBOARD_URL": url}
    with open(log, "a") as out:
        proc = subprocess.Popen(
            ui_commands(platform.settings, 0, port)["dashboard"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            assert proc.poll() is None, f"streamlit exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"streamlit did not come up: {log.read_text()}"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def dashboard(platform, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with running_dashboard(platform, free_port(), log) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


WALLET = """
window.ethereum = {
  request: async ({ method, params }) => {
    if (method === "eth_requestAccounts") return [ADDRESS];
    if (method === "personal_sign") return await window.dtSign(params[0], params[1]);
    throw new Error("unsupported " + method);
  },
};
"""


def wallet_page(browser, url: str, role: str | None, *, refuse: bool = False):
    """A page with a browser wallet holding ``role``'s dev key (no wallet for ``None``)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    if role is not None:
        account = Account.from_key(dev_key(role))
        signed: list[str] = []

        def sign(hex_message: str, address: str) -> str:
            if refuse:
                raise RuntimeError("User rejected the request.")
            assert address.lower() == account.address.lower()
            message = bytes.fromhex(hex_message.removeprefix("0x")).decode()
            signed.append(message)
            sig = account.sign_message(encode_defunct(text=message)).signature.hex()
            return "0x" + sig.removeprefix("0x")

        page.expose_function("dtSign", sign)
        page.add_init_script(WALLET.replace("ADDRESS", repr(account.address)))
        page.signed = signed
    page.goto(url)
    page.get_by_role("heading", name="Browser wallet").wait_for(timeout=60_000)
    return page


def session_cookie(page, timeout_s: float = 30.0) -> dict:
    """The ``dt_session`` cookie, once the page's cookie component has set it (after the rerun
    that follows sign-in, so a moment after the first page shows)."""
    deadline = time.monotonic() + timeout_s
    while True:
        cookies = {c["name"]: c for c in page.context.cookies()}
        if "dt_session" in cookies or time.monotonic() > deadline:
            assert "dt_session" in cookies, f"no session cookie after sign-in: {sorted(cookies)}"
            return cookies["dt_session"]
        page.wait_for_timeout(200)


def nav_links(page) -> list[str]:
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=30_000)
    # each link reads "<material icon name>\n\n<title>"
    texts = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    return [t.strip().splitlines()[-1].strip() for t in texts]


def test_manager_signs_in_with_a_browser_wallet_and_verifies_a_day(browser, dashboard) -> None:
    page = wallet_page(browser, dashboard, "MANAGER")
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
    assert len(page.signed) == 1 and "wants you to sign in" in page.signed[0]
    assert nav_links(page) == [
        "Fleet health",
        "Machine detail",
        "Maintenance alerts",
        "Production",
        "Audit trail",
        "Roles & grants",
        "My account",
    ]
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_role("button", name="Verify against chain and IPFS").click()
    page.get_by_text("verified: the warehouse's").wait_for(timeout=60_000)
    page.close()


def test_qc_sees_only_its_shared_production_figures(browser, dashboard) -> None:
    page = wallet_page(browser, dashboard, "QC")
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_role("heading", name="Production").wait_for(timeout=60_000)
    assert nav_links(page) == ["Production", "My account"]
    shared = page.get_by_text("Shared with you by grant:")
    shared.wait_for()
    assert shared.inner_text().endswith(", ".join(sorted(DEMO_SHARED_DATASETS)))
    # the machine-type filter offers only the shared types (rows: see test_pages)
    tags = page.locator('[data-testid="stMultiSelect"] [data-tag-index]')
    tags.first.wait_for()
    chips = tags.all_inner_texts()
    assert sorted(c.strip() for c in chips) == sorted(
        d.removeprefix("production/") for d in DEMO_SHARED_DATASETS
    )
    page.close()


def test_a_refused_signature_does_not_sign_in(browser, dashboard) -> None:
    page = wallet_page(browser, dashboard, "MANAGER", refuse=True)
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_text("Signing was refused").wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Fleet health").count() == 0
    page.close()


def test_without_a_browser_wallet_the_cli_wallet_signs_in(browser, dashboard) -> None:
    page = wallet_page(browser, dashboard, None)
    assert page.get_by_role("button", name="Sign in with browser wallet").is_disabled()
    page.get_by_text("No browser wallet found").wait_for()
    auditor = Account.from_key(dev_key("AUDITOR")).address
    page.get_by_label("Your address").fill(auditor)
    page.get_by_role("button", name="Get a sign-in message").click()
    code = page.locator('[data-testid="stCode"] code').first
    code.wait_for(timeout=30_000)
    message = code.inner_text()
    cli = Path(sys.executable).parent / "dt-platform"
    signed = subprocess.run(
        [str(cli), "wallet", "sign-in", "--dev-account", "AUDITOR"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    )
    page.get_by_label("Signature").fill(signed.stdout.strip())
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Audit trail").wait_for(timeout=60_000)
    assert nav_links(page) == ["Audit trail", "My account"]
    page.close()


def test_a_reload_keeps_the_sign_in_until_sign_out(browser, dashboard) -> None:
    page = wallet_page(browser, dashboard, "MAINTAINER")
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
    cookie = session_cookie(page)
    assert cookie["sameSite"] == "Strict" and len(cookie["value"]) >= 40
    # set by the server's answer, HttpOnly: no page script can read the token
    assert cookie["httpOnly"] is True and cookie["path"] == "/"
    assert "dt_session" not in page.evaluate("document.cookie")
    page.reload()
    page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
    assert nav_links(page) == ["Fleet health", "Machine detail", "Maintenance alerts", "My account"]
    assert "dt_session" not in page.evaluate("document.cookie")
    page.get_by_role("link", name="My account").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Browser wallet").wait_for(timeout=60_000)
    gone_by = time.monotonic() + 30
    while any(c["name"] == "dt_session" for c in page.context.cookies()):
        assert time.monotonic() < gone_by, "the server did not clear the session cookie"
        page.wait_for_timeout(200)
    page.reload()
    page.get_by_role("heading", name="Browser wallet").wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Fleet health").count() == 0
    page.close()
    # the token of the ended session, replayed from another browser, restores nothing
    other = browser.new_context()
    other.add_cookies([{"name": "dt_session", "value": cookie["value"], "url": dashboard}])
    replay = other.new_page()
    replay.goto(dashboard)
    replay.get_by_role("heading", name="Browser wallet").wait_for(timeout=60_000)
    assert replay.get_by_role("heading", name="Fleet health").count() == 0
    other.close()


def test_a_session_survives_a_dashboard_restart(browser, platform, tmp_path) -> None:
    port, log = free_port(), tmp_path / "streamlit.log"
    context = browser.new_context()
    with running_dashboard(platform, port, log) as url:
        page = context.new_page()
        account = Account.from_key(dev_key("AUDITOR"))
        page.expose_function(
            "dtSign",
            lambda hex_message, _address: (
                "0x"
                + account.sign_message(encode_defunct(hexstr=hex_message))
                .signature.hex()
                .removeprefix("0x")
            ),
        )
        page.add_init_script(WALLET.replace("ADDRESS", repr(account.address)))
        page.goto(url)
        page.get_by_role("button", name="Sign in with browser wallet").click()
        page.get_by_role("heading", name="Audit trail").wait_for(timeout=60_000)
        session_cookie(page)
        page.close()
    with running_dashboard(platform, port, log) as url:  # a new process, the same DT_HOME
        page = context.new_page()
        page.goto(url)
        page.get_by_role("heading", name="Audit trail").wait_for(timeout=60_000)
        assert nav_links(page) == ["Audit trail", "My account"]
    context.close()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Set-Cookie") or ""
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Set-Cookie") or ""


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Origin: not a request from the dashboard's page
        {"Origin": "http://evil.example"},
        {"Origin": "http://localhost:1"},  # another port is another origin
        {"Origin": "{dashboard}", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "{dashboard}"},  # the dashboard's own origin, but a code never issued
    ],
)
def test_the_cookie_routes_answer_only_the_dashboards_page(dashboard, headers) -> None:
    headers = {k: v.replace("{dashboard}", dashboard) for k, v in headers.items()}
    status, set_cookie = _post(f"{dashboard}/dt-auth/session", b"forged-code", headers)
    assert status == 403 and not set_cookie
    if headers.get("Origin") != dashboard:
        assert _post(f"{dashboard}/dt-auth/sign-out", b"", headers)[0] == 403


def test_a_stolen_cookie_of_a_closed_session_opens_nothing(browser, dashboard) -> None:
    page = wallet_page(browser, dashboard, None)
    page.context.add_cookies([{"name": "dt_session", "value": "forged-token", "url": dashboard}])
    page.reload()
    page.get_by_role("heading", name="Browser wallet").wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Fleet health").count() == 0
    page.close()
