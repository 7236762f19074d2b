"""``dt-platform decisions …`` and ``dt-platform limits …``: the twin's decisions, their approval
by a MAINTAINER, and a MANAGER's autonomy limits. Wire into the main CLI with
``main.add_command(decisions)`` and ``main.add_command(limits)``.

Signing uses ``DT_WALLET_KEY`` or, on the local demo, ``--dev-account ROLE`` (as ``twin
command``); the signer's role is read from the chain at that moment.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from dt_platform.config import load_settings
from dt_platform.ingest.registry import load_registry
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.cli_errors import service_errors
from dt_platform.twin import db
from dt_platform.twin.command_cli import (
    CLI_REFUSALS,
    DEV_ACCOUNT_OPTION,
    desired_publisher,
    echo_status,
    signing_account,
)
from dt_platform.twin.command_flow import submit_signature
from dt_platform.twin.decision_store import approve_decision, list_decisions, open_decisions
from dt_platform.twin.limits import Limits
from dt_platform.twin.limits_store import (
    LIMITS_ROLE,
    current_limits,
    list_limits,
    revoke_limits,
    sign_limits,
)
from dt_platform.twin.typed_data import command_domain, sign_typed_data

__all__ = ["decisions", "limits"]


@click.group()
def decisions() -> None:
    """The intelligent twin's decisions (advisory ones wait for a MAINTAINER)."""


@decisions.command(name="list")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Only this UTC day.")
@click.option("--machine", default=None, help="Only this machine.")
@click.option("--status", default=None, help="Only this status (e.g. advised).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--reasons", is_flag=True, help="Print each decision's reason.")
def list_cmd(day, machine, status, limit, reasons) -> None:
    """Decisions, newest first: action, mode, status and the prediction behind them."""
    con = open_decisions(db.connect(load_settings().twin_db_path))
    rows = list_decisions(
        con, day=day.date() if day else None, machine_id=machine, status=status, limit=limit
    )
    for r in rows:
        what = f"derate {r.derate_pct:g} %" if r.action == "derate" else r.action
        click.echo(
            f"{r.decision_id}  {r.ts[:16]}Z  {r.machine_id:<12} {what:<22} {r.mode:<10} "
            f"{r.status:<11} RUL {r.rul_fused_h:.0f} h [{r.rul_fused_lo_h or 0:.0f}, "
            f"{r.rul_fused_hi_h or 0:.0f}]" + (f"  {r.command_id[:12]}…" if r.command_id else "")
        )
        if reasons:
            click.echo(f"    {r.reason}")
    if not rows:
        click.echo("no decisions")


@decisions.command(name="approve")
@click.argument("decision_id")
@DEV_ACCOUNT_OPTION
def approve_cmd(decision_id: str, dev_account: str | None) -> None:
    """Approve an advisory decision as a MAINTAINER: its command is issued, signed and sent."""
    settings = load_settings()
    with service_errors(*CLI_REFUSALS):
        account = signing_account(settings, dev_account)
        chain = AuditChain.connect(settings, read_only=True)
        domain = command_domain(chain)
        con = open_decisions(db.connect(settings.twin_db_path))
        registry = load_registry(settings.machine_registry_path)
        now = dt.datetime.now(dt.UTC)
        draft = approve_decision(
            con, decision_id, registry, domain=domain, now=now, actor=account.address
        )
        click.echo(f"signing as {account.address}: {json.dumps(draft.typed_data['message'])}",
                   err=True)  # fmt: skip
        with desired_publisher(settings) as publisher:
            status = submit_signature(
                con, draft.command_id, sign_typed_data(draft.typed_data, account), roles=chain,
                publisher=publisher, domain=domain, now=dt.datetime.now(dt.UTC),
                signer=account.address,
            )  # fmt: skip
    echo_status(status)


@click.group()
def limits() -> None:
    """A MANAGER's limits for the twin's autonomous decisions (signed, EIP-712)."""


@limits.command(name="set")
@click.option(
    "--max-derate",
    type=click.FloatRange(0, 50),
    default=20.0,
    show_default=True,
    help="Largest derate (%) the platform may command by itself.",
)
@click.option(
    "--stop/--no-stop",
    default=False,
    show_default=True,
    help="Whether the platform may stop production for maintenance.",
)
@click.option(
    "--stop-in-orders/--no-stop-in-orders",
    default=False,
    show_default=True,
    help="Whether a stop is allowed during a customer order.",
)
@click.option("--machines", default="", help="Comma-separated machine ids (default: all).")
@click.option(
    "--days",
    type=click.FloatRange(0.01, 90),
    default=7.0,
    show_default=True,
    help="How long the limits hold.",
)
@DEV_ACCOUNT_OPTION
def set_cmd(max_derate, stop, stop_in_orders, machines, days, dev_account) -> None:  # fmt: skip
    """Sign new autonomy limits as a MANAGER; they replace the current ones."""
    settings = load_settings()
    scope = tuple(m.strip() for m in machines.split(",") if m.strip())
    with service_errors(*CLI_REFUSALS, ValueError):
        account = signing_account(settings, dev_account)
        chain = AuditChain.connect(settings, read_only=True)
        domain = command_domain(chain)
        con = db.connect(settings.twin_db_path)
        now = dt.datetime.now(dt.UTC)
        wanted = Limits(max_derate, stop, not stop_in_orders, now + dt.timedelta(days=days), scope)
        signed = sign_limits(con, wanted, account, roles=chain, domain=domain, now=now)
        click.echo(f"signed as {account.address}: {json.dumps(signed.typed_data['message'])}",
                   err=True)  # fmt: skip
    click.echo(f"limits {signed.limits_id} signed by {signed.signer}: {_describe(signed.limits)}")


def _describe(lim: Limits) -> str:
    return (
        f"derate ≤ {lim.max_derate_pct:g} %, "
        + ("may stop production" if lim.may_stop_production else "no production stop")
        + (", no stop during customer orders" if lim.no_stop_during_customer_order else "")
        + f", machines {', '.join(lim.scope) if lim.scope else 'all'}"
        + (f", until {lim.expires_at:%Y-%m-%d %H:%M} UTC" if lim.expires_at else "")
    )


@limits.command(name="show")
def show_cmd() -> None:
    """The current limits (if any) and the latest ones issued."""
    con = db.connect(load_settings().twin_db_path)
    now = dt.datetime.now(dt.UTC)
    current = current_limits(con, now)
    click.echo(
        f"current: {current.limits_id} by {current.signer}: {_describe(current.limits)}"
        if current
        else "current: none (every decision is advisory)"
    )
    for s in list_limits(con, 10):
        click.echo(f"  {s.limits_id[:12]}…  {s.state:<8} {s.signer or '-'}  {_describe(s.limits)}")


@limits.command(name="revoke")
@click.argument("limits_id")
@DEV_ACCOUNT_OPTION
def revoke_cmd(limits_id: str, dev_account: str | None) -> None:
    """End limits now (with a MANAGER's key): decisions go back to advisory."""
    settings = load_settings()
    with service_errors(*CLI_REFUSALS):
        account = signing_account(settings, dev_account)
        chain = AuditChain.connect(settings, read_only=True)
        if not chain.has_role(LIMITS_ROLE, account.address):
            raise click.ClickException(f"{account.address} does not hold {LIMITS_ROLE} on chain")
        con = db.connect(settings.twin_db_path)
        done = revoke_limits(con, limits_id, by=account.address, now=dt.datetime.now(dt.UTC))
    click.echo(f"limits {done.limits_id} revoked")
