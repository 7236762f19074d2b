"""The dashboard in a real browser (Debian's Chromium driven by Playwright), served by the same
command `make demo` runs: sign in with a browser wallet (an EIP-1193 provider injected into the
page whose `personal_sign` and `eth_signTypedData_v4` are real secp256k1 signatures) or with the
CLI wallet, and see the pages of the account's on-chain roles; command a machine through a real
Mosquitto and see it applied on the live page."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
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
from eth_account.messages import encode_defunct, encode_typed_data
from web3 import Web3

from app.access import PAGES
from assets.demo import ui_commands
from dt_platform.config import Settings
from dt_platform.demo import DEMO_SHARED_DATASETS, dashboard_url
from dt_platform.ingest.registry import load_registry
from dt_platform.live.bridge import Bridge
from dt_platform.live.line import LiveLine
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
def running_dashboard(
    platform, port: int, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """The dashboard as `make demo` starts it, on ``port``, until the block ends."""
    url = dashboard_url(port)
    # this checkout's `app` and `dt_platform` first, whichever the environment has installed
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = os.environ | platform.env | {"DT_DASHBOARD_URL": url, "PYTHONPATH": path}
    env |= extra_env or {}
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
    if (method === "eth_signTypedData_v4") return await window.dtSignTyped(params[0], params[1]);
    if (method === "eth_sendTransaction") return await window.dtSendTx(params[0]);
    throw new Error("unsupported " + method);
  },
};
"""


def wallet_page(
    browser, url: str, role: str | None, *, refuse: bool = False, rpc: str | None = None
):
    """A page with a browser wallet holding ``role``'s dev key (no wallet for ``None``); with
    ``rpc``, its ``eth_sendTransaction`` signs the transaction and sends it to that node."""
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

        def sign_typed(address: str, typed_json: str) -> str:
            if refuse:
                raise RuntimeError("User rejected the request.")
            assert address.lower() == account.address.lower()
            typed = json.loads(typed_json)
            signed_typed.append(typed)
            sig = account.sign_message(encode_typed_data(full_message=typed)).signature.hex()
            return "0x" + sig.removeprefix("0x")

        def send_tx(tx: dict) -> str:
            # what a wallet does: fill nonce and fee, sign with its key, send the raw transaction
            if refuse or rpc is None:
                raise RuntimeError("User rejected the request.")
            assert tx["from"].lower() == account.address.lower()
            sent_txs.append(tx)
            w3 = Web3(Web3.HTTPProvider(rpc))
            assert int(tx["chainId"], 16) == w3.eth.chain_id
            raw = account.sign_transaction(
                {
                    "to": tx["to"],
                    "data": tx["data"],
                    "value": int(tx.get("value", "0x0"), 16),
                    "chainId": int(tx["chainId"], 16),
                    "gas": int(tx["gas"], 16),
                    "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                    "gasPrice": w3.eth.gas_price,
                }
            ).raw_transaction
            return w3.eth.send_raw_transaction(raw).to_0x_hex()

        signed_typed: list[dict] = []
        sent_txs: list[dict] = []
        page.expose_function("dtSign", sign)
        page.expose_function("dtSignTyped", sign_typed)
        page.expose_function("dtSendTx", send_tx)
        page.add_init_script(WALLET.replace("ADDRESS", repr(account.address)))
        page.signed = signed
        page.signed_typed = signed_typed
        page.sent_txs = sent_txs
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


def pages_of(role: str) -> list[str]:
    """The navigation a holder of ``role`` (and nothing else) should see, from the access rules."""
    return [p.title for p in PAGES if role in p.roles] + ["My account"]


def nav_links(page) -> list[str]:
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=30_000)
    more = page.locator('[data-testid="stSidebarNavViewButton"]')
    if more.count() and "more" in more.inner_text():
        more.click()  # Streamlit folds a long navigation behind "View N more"
        page.get_by_text("View less").wait_for(timeout=10_000)
    # each link reads "<material icon name>\n\n<title>"
    texts = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    return [t.strip().splitlines()[-1].strip() for t in texts]


def test_manager_signs_in_with_a_browser_wallet_and_verifies_a_day(browser, dashboard) -> None:
    page = wallet_page(browser, dashboard, "MANAGER")
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
    assert len(page.signed) == 1 and "wants you to sign in" in page.signed[0]
    assert nav_links(page) == pages_of("MANAGER")
    assert {"Fleet health", "Live twin", "Audit trail", "Roles & grants"} <= set(nav_links(page))
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
    from playwright.sync_api import expect

    page = wallet_page(browser, dashboard, None)
    page.get_by_text("No browser wallet found").wait_for()
    # the button is disabled once the page has looked for a wallet; expect() waits for it
    expect(page.get_by_role("button", name="Sign in with browser wallet")).to_be_disabled()
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
    assert nav_links(page) == pages_of("AUDITOR")
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
    assert nav_links(page) == pages_of("MAINTAINER")
    assert "dt_session" not in page.evaluate("document.cookie")
    assert "My account" in nav_links(page)
    page.get_by_role("link", name="My account").click()
    page.get_by_role("button", name="Sign out", exact=True).click()
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
        assert nav_links(page) == pages_of("AUDITOR")
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


@contextlib.contextmanager
def live_line(settings: Settings) -> Iterator[LiveLine]:
    """The demo's machines live: the line's gateways and the MQTT bridge on the demo's broker.

    The line starts two days back at 600x, so it never catches up with the wall clock during the
    test and a machine taken offline for a sim hour is back six wall seconds later.
    """
    bridge = Bridge(settings, flush_s=0.1, batch_s=10.0)
    bridge.start()
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    line = LiveLine(
        settings, machines=4, seed=3, speed=600.0, start=start - dt.timedelta(days=2),
        busy_prob=0.0, tick_s=0.05,
    ).start()  # fmt: skip
    try:
        yield line
    finally:
        line.stop()
        bridge.stop()


def test_a_maintainer_derates_a_machine_and_sees_it_applied_live(
    browser, platform, tmp_path
) -> None:
    registry = load_registry(platform.settings.machine_registry_path)
    machine = next(m for m in registry if m.machine_id == "SMT-01")
    with (
        live_line(platform.settings) as line,
        running_dashboard(platform, free_port(), tmp_path / "streamlit.log") as url,
    ):
        page = wallet_page(browser, url, "MAINTAINER")
        page.get_by_role("button", name="Sign in with browser wallet").click()
        page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
        session_cookie(page)
        page.goto(f"{url}/live?machine={machine.machine_id}")
        page.get_by_role("heading", name="Live twin").wait_for(timeout=60_000)
        page.get_by_text("online", exact=True).wait_for(timeout=30_000)
        loads: list[str] = []
        page.on("load", lambda p: loads.append(p.url))
        # Offline for a sim hour (six wall seconds): the command waits as the retained desired
        # state, and the page must show it applied by itself when the machine is back.
        line.take_offline(machine.machine_id, 3600)

        page.locator("input[aria-label='Derate: % of rated speed taken off']").fill("20")
        page.get_by_role("button", name="Sign with browser wallet and send").click()
        page.get_by_text(re.compile(r"Latest command: derate 20 % · (pending|delivered)")).wait_for(
            timeout=60_000
        )
        assert len(page.signed_typed) == 1
        signed = page.signed_typed[0]
        assert signed["primaryType"] == "Command"
        assert signed["message"]["machineId"] == machine.machine_id
        assert signed["message"]["action"] == "derate" and signed["message"]["value"] == 2000
        # the machine applies it seconds later: the live part refreshes by itself
        page.get_by_text(re.compile(r"Latest command: derate 20 % · applied")).wait_for(
            timeout=60_000
        )
        page.get_by_text("No delta: the machine runs with its desired settings.").wait_for(
            timeout=30_000
        )
        assert loads == [], "the page was reloaded"
        ack = line.wait_for_ack(machine.machine_id, 1, timeout=5)
        assert ack is not None and ack.status == "applied"
        page.close()


def test_a_manager_shares_a_dataset_from_the_page_with_the_wallet(
    browser, dashboard, platform, outsider
) -> None:
    rpc = platform.settings.effective_chain_rpc
    manager = platform.client("MANAGER")
    page = wallet_page(browser, dashboard, "MANAGER", rpc=rpc)
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
    assert "Roles & grants" in nav_links(page)  # unfolds the navigation if Streamlit folded it
    page.get_by_role("link", name="Roles & grants").click()
    page.get_by_role("heading", name="Roles & grants").wait_for(timeout=60_000)
    registry = load_registry(platform.settings.machine_registry_path)
    chosen = min(f"production/{m.machine_type}" for m in registry)  # the form's first dataset
    page.get_by_label("Grantee").fill(outsider)
    page.get_by_role("button", name="Share with browser wallet").click()
    mined = page.get_by_text(re.compile(r"Mined in block \d+: share production/"))
    mined.wait_for(timeout=60_000)
    (tx,) = page.sent_txs
    assert tx["to"] == manager.deployment.address("DataGrants")
    assert tx["from"] == platform.address("MANAGER") and tx["chainId"] == hex(31337)
    tx_hash = re.search(r"0x[0-9a-f]{64}", mined.inner_text()).group(0)
    receipt = manager.node.w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    try:
        assert manager.has_access(chosen, outsider)
        # the grants table, read after the receipt, lists the new grant
        cell = page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=outsider)
        cell.first.wait_for(state="attached", timeout=30_000)  # the grid's a11y table
    finally:
        if manager.has_access(chosen, outsider):
            manager.revoke_access(chosen, outsider)
    page.close()


def test_governance_without_the_role_is_refused_before_the_wallet(
    browser, dashboard, platform, outsider
) -> None:
    rpc = platform.settings.effective_chain_rpc
    # an ADMIN opens the page but holds no MANAGER: the grant is refused, the wallet never asked
    page = wallet_page(browser, dashboard, "ADMIN", rpc=rpc)
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_role("heading", name="Roles & grants").wait_for(timeout=60_000)
    page.get_by_label("Grantee").fill(outsider)
    page.get_by_role("button", name="Share with browser wallet").click()
    page.get_by_text(re.compile(r"Refused: .* does not hold MANAGER on chain now")).wait_for(
        timeout=60_000
    )
    assert page.sent_txs == []
    page.close()
    # a MAINTAINER is offered no governance at all, even at the page's address
    page = wallet_page(browser, dashboard, "MAINTAINER", rpc=rpc)
    page.get_by_role("button", name="Sign in with browser wallet").click()
    page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
    assert "Roles & grants" not in nav_links(page)
    session_cookie(page)
    page.goto(f"{dashboard}/roles")
    page.get_by_role("heading", name="Fleet health").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Share with browser wallet").count() == 0
    assert page.sent_txs == []
    page.close()
