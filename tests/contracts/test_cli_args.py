"""Issue 11: every `dt-platform chain|roles|grants|wallet|verify|prove` error is one readable line
with a non-zero exit (2 bad argument, 1 refused, 3 chain unreachable), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dt_platform.cli import main
from dt_platform.config import Settings
from dt_platform.trust.chain import deploy
from dt_platform.trust.dev_accounts import dev_accounts

pytestmark = pytest.mark.integration

QC = dev_accounts()[3].address
SUCCESSOR = dev_accounts()[7]
BAD_CHECKSUM = QC[:-1] + (QC[-1].lower() if QC[-1].isupper() else "F")
BAD_ADDRESSES = [
    "0xbad",
    "hello",
    "",
    BAD_CHECKSUM,
    "0x" + "g" * 40,
    QC[2:],  # no 0x
    QC + "00",
]
ZERO = "0x" + "0" * 40
BAD_DAYS = ["-1", "0", "367", "1e12", "inf", "nan", "1_0", "١٢", "", "thirty", "0x10"]
DAY = "2026-11-20"


def _run(args: list[str], env: dict[str, str], code: int, says: str = "") -> Result:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), args
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    if code:
        assert len(errors) == 1, f"{args}: {result.output}"
        assert says in errors[0], f"{args}: {errors[0]}"
    assert "Traceback" not in result.output
    return result


def _env(home: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "DT_HOME": str(home),
        "DT_CHAIN_PORT": str(port),
        "DT_CHAIN_RPC": "",
        "DT_CHAIN_KEY": "",
        "DT_WALLET_KEY": "",
        **extra,
    }


@pytest.fixture()
def down(tmp_path: Path) -> dict[str, str]:
    """No chain answers: a command that got past its arguments would exit 3, not 2."""
    from dt_platform.trust.anvil import free_port

    return _env(tmp_path, free_port())


BAD_ARGUMENTS = [
    *(["roles", "grant", "QC", bad] for bad in [*BAD_ADDRESSES, ZERO]),
    *(["roles", "revoke", "MANAGER", bad] for bad in BAD_ADDRESSES),
    *(["roles", "list", bad] for bad in BAD_ADDRESSES),
    *(["roles", "admin", "handover", bad] for bad in [*BAD_ADDRESSES, ZERO]),
    ["roles", "grant", "BOSS", QC],
    ["roles", "revoke", "", QC],
    *(["grants", "grant", "production/smt_placer", bad] for bad in [*BAD_ADDRESSES, ZERO]),
    *(["grants", "grant", "production/smt_placer", QC, "--days", d] for d in BAD_DAYS),
    *(["grants", "grant", dataset, QC] for dataset in ["", "   ", "\udcff"]),
    *(["grants", "revoke", "production/smt_placer", bad] for bad in BAD_ADDRESSES),
    *(["grants", "list", "--address", bad] for bad in BAD_ADDRESSES),
    ["grants", "list"],
    ["grants", "list", "production/smt_placer", "--address", QC],
    *(["chain", "deploy", "--admin-delay", h] for h in ["-1", "721", "1.5", "1e3", "x"]),
    *(["verify", "--partition", p] for p in ["2026-13-01", "yesterday", ""]),
    *(["verify", "--partition", DAY, "--version", v] for v in ["0", "-1", "x"]),
    ["verify", "--partition", DAY, "--limit", "0"],
    ["prove", "--partition", DAY, "--record", "not a spec"],
    ["prove", "--partition", DAY],
]


@pytest.mark.parametrize("args", BAD_ARGUMENTS, ids=lambda a: " ".join(a)[:60])
def test_bad_arguments_are_usage_errors(args: list[str], down: dict[str, str]) -> None:
    _run(args, down, 2)


CONNECTING = [
    ["chain", "status"],
    ["chain", "deploy"],
    ["roles", "list"],
    ["roles", "list", QC],
    ["roles", "grant", "QC", QC],
    ["roles", "revoke", "QC", QC],
    ["roles", "admin", "show"],
    ["roles", "admin", "handover", QC],
    ["roles", "admin", "accept"],
    ["roles", "admin", "cancel"],
    ["grants", "grant", "production/smt_placer", QC, "--days", "366"],
    ["grants", "revoke", "production/smt_placer", QC],
    ["grants", "list", "production/smt_placer"],
    ["grants", "list", "--address", QC],
    ["verify", "--partition", DAY],
    ["prove", "--partition", DAY, "--record", "telemetry_digest:machine_id=SMT-01"],
]


def test_a_chain_that_is_down_is_one_line_and_exit_3(down: dict[str, str]) -> None:
    for args in CONNECTING:
        _run(args, down, 3, says="unreachable")


def test_a_missing_deployment_is_one_line_and_exit_1(dev_chain, tmp_path: Path) -> None:
    env = _env(tmp_path, dev_chain.settings.chain_port)
    for args in CONNECTING:
        if args[:2] in (["chain", "status"], ["chain", "deploy"]):
            continue  # status reports "not deployed"; deploy deploys
        _run(args, env, 1, says="run `dt-platform chain deploy`")
    assert "contracts: not deployed" in _run(["chain", "status"], env, 0).output


def test_a_node_that_is_not_ethereum_is_one_line(tmp_path: Path) -> None:
    import http.server
    import threading

    class Html(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b"<html>not a node</html>"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = _env(tmp_path, 1, DT_CHAIN_RPC=f"http://127.0.0.1:{server.server_address[1]}")
        for args in (["roles", "list"], ["chain", "deploy"], ["verify", "--partition", DAY]):
            _run(args, env, 1, says="does not answer as an Ethereum JSON-RPC node")
    finally:
        server.shutdown()


def test_wallet_errors_are_one_line(tmp_path: Path) -> None:
    env = {"DT_HOME": str(tmp_path), "DT_WALLET_KEY": ""}
    _run(["wallet", "address"], env, 2, says="set DT_WALLET_KEY")
    _run(["wallet", "address"], env | {"DT_WALLET_KEY": "0x1234"}, 1, says="not a valid private")
    _run(["wallet", "address", "--dev-account", "BOSS"], env, 2)
    latin1 = tmp_path / "message.txt"
    latin1.write_bytes("caf\xe9 wants you to sign in".encode("latin-1"))
    _run(
        ["wallet", "sign-in", str(latin1), "--dev-account", "QC"], env, 1, says="is not UTF-8 text"
    )
    _run(["wallet", "sign-in", str(tmp_path / "missing.txt"), "--dev-account", "QC"], env, 2)
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("sign this please")
    _run(["wallet", "sign-in", str(garbage), "--dev-account", "QC"], env, 1, says="EIP-4361")


# --- on a live deployment of its own -------------------------------------------------------------


@pytest.fixture()
def live(dev_chain, tmp_path: Path) -> dict[str, str]:
    """A deployment of its own on the session chain (its own RoleHub), handover delay 0."""
    deploy(Settings(home=tmp_path, chain_port=dev_chain.settings.chain_port), admin_delay=0)
    return _env(tmp_path, dev_chain.settings.chain_port)


def test_refusals_on_a_live_chain_are_one_line(live: dict[str, str]) -> None:
    admin = dev_accounts()[0].address
    refused = {
        ("roles", "grant", "ADMIN", QC): "ADMIN is never granted or revoked directly",
        ("roles", "revoke", "ADMIN", admin): "dt-platform roles admin handover",
        ("roles", "admin", "cancel"): "no ADMIN handover is pending",
        ("roles", "admin", "accept"): "is not the pending ADMIN",
        ("grants", "revoke", "production/smt_placer", QC): "holds no grant",
    }
    for args, says in refused.items():
        _run(list(args), live, 1, says=says)
    # A version beyond any uint256 is reported like any version that is not anchored.
    report = CliRunner().invoke(
        main, ["verify", "--partition", DAY, "--version", str(2**300)], env=live
    )
    assert report.exit_code == 1 and isinstance(report.exception, SystemExit)
    assert "NOT ANCHORED" in report.output and "Traceback" not in report.output
    operator = "0x" + bytes(dev_accounts()[1].key).hex()
    _run(["roles", "grant", "QC", QC], live | {"DT_CHAIN_KEY": operator}, 1, says="lacks ADMIN")
    _run(["roles", "list"], live | {"DT_CHAIN_KEY": "0x12"}, 0)  # read-only: no key needed
    _run(["roles", "grant", "QC", QC], live | {"DT_CHAIN_KEY": "0x12"}, 1, says="valid private")


def test_admin_handover_and_grants_through_the_cli(dev_chain, live: dict[str, str]) -> None:
    admin = dev_accounts()[0].address
    assert f"ADMIN        {admin}" in _run(["roles", "admin", "show"], live, 0).output
    out = _run(["roles", "admin", "handover", SUCCESSOR.address.lower()], live, 0).output
    assert f"ADMIN handover to {SUCCESSOR.address} started" in out
    shown = _run(["roles", "admin", "show"], live, 0).output
    assert f"handover to  {SUCCESSOR.address}, who may accept after" in shown
    successor = live | {"DT_CHAIN_KEY": "0x" + bytes(SUCCESSOR.key).hex()}
    dev_chain.node.rpc("evm_increaseTime", 1)  # even a zero delay is one block later
    dev_chain.node.rpc("evm_mine")
    out = _run(["roles", "admin", "accept"], successor, 0).output
    assert f"{SUCCESSOR.address} is now the ADMIN" in out
    listing = _run(["roles", "list"], live, 0).output
    assert f"ADMIN       {SUCCESSOR.address}\n" in listing
    _run(["roles", "grant", "QC", QC], live, 1, says="lacks ADMIN")  # the old ADMIN no longer is

    out = _run(["grants", "grant", "production/smt_placer", QC, "--days", "366"], live, 0).output
    assert f"shared production/smt_placer with {QC} until" in out
    manager = dev_accounts()[2].address
    listing = _run(["grants", "list", "production/smt_placer"], live, 0).output
    assert f"active  (granted by {manager})" in listing
    _run(["roles", "revoke", "MANAGER", manager], successor, 0)
    listing = _run(["grants", "list", "production/smt_placer"], live, 0).output
    assert "expired or ended" in listing
    assert "expired or ended" in _run(["grants", "list", "--address", QC], live, 0).output
