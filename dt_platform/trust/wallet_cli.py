"""``dt-platform wallet …``: sign in to the dashboard with a local key instead of a browser wallet.

The key comes from ``DT_WALLET_KEY`` (never from the command line, where shells keep history),
or, for the local demo, ``--dev-account ROLE`` picks the anvil dev account that holds that demo
role. Wire into the main CLI with ``main.add_command(wallet)``.
"""

from __future__ import annotations

import click

from dt_platform.config import load_settings
from dt_platform.trust.chain.deployment import DEMO_ROLE_ACCOUNTS, dev_key
from dt_platform.trust.wallet import WalletError, load_key, sign_in_message

__all__ = ["wallet"]

_DEV_ACCOUNT = click.option(
    "--dev-account",
    type=click.Choice(sorted(DEMO_ROLE_ACCOUNTS), case_sensitive=False),
    default=None,
    help="Use the local demo's dev account holding this role (local dev chain only).",
)


def _account(dev_account: str | None):
    if dev_account:
        return load_key(dev_key(dev_account.upper()))
    key = load_settings().wallet_key
    if not key:
        raise click.UsageError("set DT_WALLET_KEY to your private key, or pass --dev-account ROLE")
    return load_key(key)


@click.group()
def wallet() -> None:
    """A local-key wallet for signing in to the dashboard (EIP-4361)."""


@wallet.command()
@_DEV_ACCOUNT
def address(dev_account: str | None) -> None:
    """Print the address of the key, to ask the dashboard for a sign-in message."""
    try:
        click.echo(_account(dev_account).address)
    except WalletError as exc:
        raise click.ClickException(str(exc)) from exc


@wallet.command(name="sign-in")
@click.argument("message_file", type=click.File("r"), default="-")
@_DEV_ACCOUNT
def sign_in(message_file, dev_account: str | None) -> None:
    """Sign the dashboard's sign-in message (from MESSAGE_FILE, or stdin) and print the signature.

    Paste the printed signature into the dashboard. What is signed is shown on stderr first.
    """
    try:
        text = message_file.read()
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"{message_file.name} is not UTF-8 text ({exc.reason} at byte {exc.start}): pass the "
            "sign-in message exactly as the dashboard shows it"
        ) from exc
    try:
        signed = sign_in_message(text, _account(dev_account))
    except WalletError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"signing in {signed.address} to {signed.domain} ({signed.uri}) on chain "
        f"{signed.chain_id}, valid until {signed.expires_at or 'no expiry'}",
        err=True,
    )
    click.echo(signed.signature)
