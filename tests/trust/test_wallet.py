"""The local-key wallet: it signs only its own, unexpired sign-in messages, and the dashboard's
verifier accepts what it signs; `dt-platform wallet` as a user runs it."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from eth_account import Account

from app.auth import NonceStore, SignIn
from dt_platform.cli import main
from dt_platform.trust.chain import dev_key
from dt_platform.trust.dev_accounts import dev_accounts
from dt_platform.trust.wallet import WalletError, load_key, sign_in_message

URI = "http://localhost:8501"


def test_what_the_wallet_signs_the_dashboard_accepts() -> None:
    user = Account.create()
    svc = SignIn(URI, 1, NonceStore())
    challenge = svc.challenge(user.address)
    signed = sign_in_message(challenge.message, user)
    assert (signed.address, signed.domain, signed.chain_id) == (user.address, "localhost:8501", 1)
    assert svc.verify(challenge.message, signed.signature).address == user.address


def test_the_wallet_refuses_what_it_should_not_sign() -> None:
    user, other = Account.create(), Account.create()
    svc = SignIn(URI, 1, NonceStore())
    with pytest.raises(WalletError, match="signs in 0x"):
        sign_in_message(svc.challenge(other.address).message, user)
    with pytest.raises(WalletError, match="not an EIP-4361"):
        sign_in_message("Transfer all my tokens", user)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with pytest.raises(WalletError, match="expired"):
        sign_in_message(svc.challenge(user.address).message, user, now=later)
    dev = dev_accounts()[2]
    mainnet = SignIn(URI, 1, NonceStore(), allow_dev_accounts=True)  # a careless server
    with pytest.raises(WalletError, match="public dev keys"):
        sign_in_message(mainnet.challenge(dev.address).message, dev)
    with pytest.raises(WalletError, match="not a valid private key"):
        load_key("0x1234")


def test_wallet_cli_signs_a_message_file(tmp_path) -> None:
    svc = SignIn(URI, 31337, NonceStore(), allow_dev_accounts=True)
    address = Account.from_key(dev_key("MANAGER")).address
    runner = CliRunner()
    result = runner.invoke(main, ["wallet", "address", "--dev-account", "manager"])
    assert result.exit_code == 0 and result.output.strip() == address

    challenge = svc.challenge(address)
    message_file = tmp_path / "dt-sign-in.txt"
    message_file.write_text(challenge.message)
    result = runner.invoke(
        main, ["wallet", "sign-in", str(message_file), "--dev-account", "MANAGER"]
    )
    assert result.exit_code == 0, result.output
    signature = result.stdout.strip().splitlines()[-1]
    assert "signing in " + address in result.stderr
    assert svc.verify(challenge.message, signature).address == address


def test_wallet_cli_reads_the_key_from_the_environment_and_stdin() -> None:
    user = Account.create()
    svc = SignIn(URI, 1, NonceStore())
    challenge = svc.challenge(user.address)
    runner = CliRunner()
    result = runner.invoke(
        main, ["wallet", "sign-in"], input=challenge.message, env={"DT_WALLET_KEY": user.key.hex()}
    )
    assert result.exit_code == 0, result.output
    assert svc.verify(challenge.message, result.stdout.strip()).address == user.address
    missing = runner.invoke(
        main, ["wallet", "sign-in"], input=challenge.message, env={"DT_WALLET_KEY": ""}
    )
    assert missing.exit_code == 2 and "DT_WALLET_KEY" in missing.output
    refused = runner.invoke(
        main,
        ["wallet", "sign-in"],
        input=challenge.message,
        env={"DT_WALLET_KEY": Account.create().key.hex()},
    )
    assert refused.exit_code == 1 and "signs in" in refused.output
