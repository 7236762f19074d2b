"""``dt-platform twin …``: command machines with signed commands, approve critical ones, and read
the twin's state. Wire into the main CLI with ``main.add_command(twin)``.

Signing uses the key in ``DT_WALLET_KEY`` (never one on the command line, where shells keep
history), or on the local demo ``--dev-account ROLE``. The signer's role is read from the chain.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
from collections.abc import Iterator

import click

from dt_platform.config import Settings, load_settings
from dt_platform.ingest.registry import RegistryError, load_registry
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.chain.deployment import DEMO_ROLE_ACCOUNTS, dev_key
from dt_platform.trust.cli_errors import ServiceUnavailable, service_errors
from dt_platform.trust.wallet import WalletError, load_key
from dt_platform.twin import db
from dt_platform.twin.command_flow import (
    approval_request,
    approve,
    issue_draft,
    submit_signature,
)
from dt_platform.twin.command_publish import publish_unpublished
from dt_platform.twin.command_store import command_history, list_commands, open_commands
from dt_platform.twin.commands import DEFAULT_TTL_S, CommandRefused, CommandStatus, DesiredPublisher
from dt_platform.twin.state import all_states, twin_state
from dt_platform.twin.typed_data import TypedDataError, command_domain, sign_typed_data

__all__ = ["twin"]

CLI_REFUSALS = (CommandRefused, TypedDataError, WalletError, RegistryError)
DEV_ACCOUNT_OPTION = click.option(
    "--dev-account",
    type=click.Choice(sorted(DEMO_ROLE_ACCOUNTS), case_sensitive=False),
    default=None,
    help="Sign with the local demo's dev account holding this role (local dev chain only).",
)


def signing_account(settings: Settings, dev_account: str | None):
    if dev_account:
        return load_key(dev_key(dev_account.upper()))
    if not settings.wallet_key:
        raise click.UsageError("set DT_WALLET_KEY to your private key, or pass --dev-account ROLE")
    return load_key(settings.wallet_key)


@contextlib.contextmanager
def desired_publisher(settings: Settings) -> Iterator[DesiredPublisher | None]:
    """The platform's MQTT publisher of desired states, or ``None`` (said on stderr) when the
    broker cannot be reached: the command is then recorded and `twin publish` sends it later."""
    from dt_platform.live import mqtt

    try:
        user, password = mqtt.platform_credentials(settings)
        client = mqtt.connect(settings, f"dt-twin-cli-{secrets.token_hex(4)}", user, password)
    except mqtt.MqttError as exc:
        click.echo(f"not publishing now: {exc}", err=True)
        yield None
        return
    try:
        yield mqtt.MqttDesiredPublisher(client, settings.mqtt_group)
    finally:
        client.loop_stop()
        client.disconnect()


def echo_status(status: CommandStatus) -> None:
    value = f" {status.value / 100:g} %" if status.action == "derate" else ""
    click.echo(f"{status.command_id} {status.machine_id} {status.action}{value}: {status.state}")
    if status.state == "awaiting_approval":
        click.echo(
            f"critical: a MANAGER approves it with `dt-platform twin approve {status.command_id}`"
        )
    elif status.version is not None and not status.published:
        click.echo(
            f"desired version {status.version} is recorded but not published yet (the MQTT "
            "broker is not reachable); `dt-platform twin publish` sends it",
            err=True,
        )
    elif status.version is not None:
        click.echo(f"desired version {status.version} published to gateway {status.gateway}")


@click.group()
def twin() -> None:
    """The two-way twin: signed commands, desired and reported state."""


@twin.command(name="command")
@click.argument("machine")
@click.argument(
    "action",
    type=click.Choice(["derate", "maintenance-on", "maintenance-off", "inspect", "resume"]),
)
@click.option(
    "--percent", type=float, default=None, help="derate: percent of rated speed taken off (0-90)."
)
@click.option("--ttl", type=click.IntRange(60, 7 * 86_400), default=DEFAULT_TTL_S, show_default=True,
              help="Seconds the command stays valid (until applied).")  # fmt: skip
@DEV_ACCOUNT_OPTION
def command(machine: str, action: str, percent: float | None, ttl: int, dev_account: str | None):
    """Sign a command for MACHINE as a MAINTAINER, record it and publish the desired state."""
    settings = load_settings()
    with service_errors(*CLI_REFUSALS):
        account = signing_account(settings, dev_account)
        chain = AuditChain.connect(settings, read_only=True)
        domain = command_domain(chain)
        con = open_commands(db.connect(settings.twin_db_path))
        registry = load_registry(settings.machine_registry_path)
        now = dt.datetime.now(dt.UTC)
        draft = issue_draft(
            con, registry, machine, action.replace("-", "_"), percent=percent, domain=domain,
            now=now, ttl_s=ttl,
        )  # fmt: skip
        click.echo(
            f"signing as {account.address}: {json.dumps(draft.typed_data['message'])}", err=True
        )
        signature = sign_typed_data(draft.typed_data, account)
        with desired_publisher(settings) as publisher:
            status = submit_signature(
                con, draft.command_id, signature, roles=chain, publisher=publisher,
                domain=domain, now=dt.datetime.now(dt.UTC), signer=account.address,
            )  # fmt: skip
    echo_status(status)


@twin.command(name="approve")
@click.argument("command_id")
@DEV_ACCOUNT_OPTION
def approve_cmd(command_id: str, dev_account: str | None) -> None:
    """Approve a critical command as a MANAGER (another person than its signer)."""
    settings = load_settings()
    with service_errors(*CLI_REFUSALS):
        account = signing_account(settings, dev_account)
        chain = AuditChain.connect(settings, read_only=True)
        con = open_commands(db.connect(settings.twin_db_path))
        typed = approval_request(con, command_id)
        click.echo(f"approving as {account.address}: {json.dumps(typed['message'])}", err=True)
        signature = sign_typed_data(typed, account)
        with desired_publisher(settings) as publisher:
            status = approve(
                con, command_id, signature, roles=chain, publisher=publisher,
                domain=command_domain(chain), now=dt.datetime.now(dt.UTC),
                signer=account.address,
            )  # fmt: skip
    echo_status(status)


@twin.command(name="commands")
@click.option("--machine", default=None, help="Only this machine's commands.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def commands_cmd(machine: str | None, limit: int) -> None:
    """List commands, newest first, with their states."""
    con = open_commands(db.connect(load_settings().twin_db_path))
    for s in list_commands(con, machine, limit=limit):
        issued = dt.datetime.fromtimestamp(s.issued_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        value = f"{s.value / 100:g}%" if s.action == "derate" else "-"
        flags = ("critical " if s.critical else "") + (f"reason={s.reason}" if s.reason else "")
        click.echo(
            f"{issued}Z  {s.command_id[:12]}…  {s.machine_id:<12} {s.action:<16} {value:>6}  "
            f"{s.state:<17} {s.issuer or '-'}  {flags}".rstrip()
        )


@twin.command(name="history")
@click.argument("command_id")
def history_cmd(command_id: str) -> None:
    """Every event of one command: signatures, transitions, acknowledgements, refusals."""
    con = open_commands(db.connect(load_settings().twin_db_path))
    with service_errors(*CLI_REFUSALS):
        events = command_history(con, command_id)
    if not events:
        raise click.ClickException(f"no command {command_id}")
    for e in events:
        who = f" by {e.actor} ({e.role})" if e.actor else ""
        why = f" reason={e.reason}" if e.reason else ""
        click.echo(f"{e.at}  {e.event:<14} -> {e.state:<17}{who}{why}")


@twin.command(name="state")
@click.argument("machine", required=False)
def state_cmd(machine: str | None) -> None:
    """Reported and desired state, and the delta between them (of MACHINE, or all)."""
    con = open_commands(db.connect(load_settings().twin_db_path))
    states = [twin_state(con, machine)] if machine else all_states(con)
    for s in states:
        rep, des = s.reported, s.desired
        click.echo(f"{s.machine_id}")
        if rep is None:
            click.echo("  reported: nothing heard yet")
        else:
            click.echo(
                f"  reported: {'online' if rep.online else 'offline'}, mode {rep.mode or '-'}, "
                f"applied v{rep.applied_version} {json.dumps(rep.settings, sort_keys=True)}, "
                f"last seen {rep.last_seen or '-'}"
            )
        if des is None:
            click.echo("  desired:  nothing commanded")
        else:
            click.echo(f"  desired:  v{des.version} {json.dumps(des.settings, sort_keys=True)}")
        click.echo(f"  delta:    {json.dumps(s.delta, sort_keys=True) if s.delta else 'none'}")


@twin.command(name="publish")
def publish_cmd() -> None:
    """Publish every desired state recorded but not yet published (after a broker outage)."""
    settings = load_settings()
    with desired_publisher(settings) as publisher:
        if publisher is None:
            raise ServiceUnavailable("the MQTT broker is not reachable: nothing was published")
        con = open_commands(db.connect(settings.twin_db_path))
        done = publish_unpublished(con, publisher, dt.datetime.now(dt.UTC))
    click.echo(f"published: {', '.join(done) if done else 'nothing to publish'}")
