"""``dt-platform alarms …``: list alarms, show one's history, acknowledge one as a maintainer,
and run one webhook delivery pass.

``ack`` acts as the account of ``DT_WALLET_KEY`` (the key only gives the address; nothing is
signed) and asks the chain, read-only, whether that account holds MAINTAINER right now.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from dt_platform.config import load_settings
from dt_platform.trust.chain import AuditChain, ChainError
from dt_platform.trust.wallet import WalletError, load_key
from dt_platform.twin import db
from dt_platform.twin.alarm_store import (
    STATES,
    Alarm,
    alarm_history,
    alarms,
    get_alarm,
    iso,
    open_alarm_store,
)
from dt_platform.twin.alarms import AlarmError, acknowledge, open_alarms
from dt_platform.twin.webhooks import WebhookError, deliver_due, webhook_targets

__all__ = ["alarms_group"]


def _store():
    return db.connect(load_settings().twin_db_path)


def _short(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _line(a: Alarm) -> str:
    who = f" by {a.acked_by[:10]}…" if a.acked_by else ""
    return (
        f"{a.alarm_id:>6}  {a.severity:<8}  {a.state + who:<26}  {a.machine_id:<12}  "
        f"{a.kind:<9}  {_short(a.opened_at):<16}  {_short(a.last_seen_at)}"
    )


@click.group(name="alarms")
def alarms_group() -> None:
    """Alarms of the twin: one per condition, acknowledged by maintainers, notified by webhook."""


@alarms_group.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Every alarm, not only the active ones.")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only alarms in this state.")
@click.option("--machine", default=None, help="Only this machine's alarms.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_alarms(show_all: bool, state: str | None, machine: str | None, as_json: bool) -> None:
    """Active alarms (critical first), or all of them with --all / --state."""
    con = _store()
    if show_all or state:
        rows = alarms(con, state=state, machine_id=machine)
    else:
        rows = [a for a in open_alarms(con) if machine is None or a.machine_id == machine]
    if as_json:
        for a in rows:
            click.echo(json.dumps(a.to_dict(), sort_keys=True))
        return
    if not rows:
        click.echo("no alarms" if show_all or state else "no active alarms")
        return
    click.echo(
        f"{'id':>6}  {'severity':<8}  {'state':<26}  {'machine':<12}  {'kind':<9}  "
        f"{'opened':<16}  last seen"
    )
    for a in rows:
        click.echo(_line(a))


@alarms_group.command()
@click.argument("alarm_id", type=int)
def show(alarm_id: int) -> None:
    """One alarm and every event of it."""
    con = open_alarm_store(_store())
    alarm = get_alarm(con, alarm_id)
    if alarm is None:
        raise click.ClickException(f"no alarm {alarm_id}")
    click.echo(json.dumps(alarm.to_dict(), indent=2, sort_keys=True))
    for e in alarm_history(con, alarm_id):
        extra = " ".join(x for x in (e.actor, json.dumps(e.note) if e.note else None) if x)
        click.echo(f"{iso(e.at)}  {e.type:<12}  {e.severity:<8}  {extra}")


@alarms_group.command()
@click.argument("alarm_id", type=int)
@click.option("--note", required=True, help="What was seen and what will be done.")
def ack(alarm_id: int, note: str) -> None:
    """Acknowledge ALARM_ID as the account of DT_WALLET_KEY (must hold MAINTAINER on chain)."""
    settings = load_settings()
    if not settings.wallet_key:
        raise click.UsageError("set DT_WALLET_KEY to your private key: it names who acknowledges")
    try:
        address = load_key(settings.wallet_key).address
        chain = AuditChain.connect(settings, read_only=True)
        urls = webhook_targets(settings.webhook_urls)
        alarm = acknowledge(
            _store(), alarm_id, address, note, chain, dt.datetime.now(dt.UTC), webhook_urls=urls
        )
    except (WalletError, ChainError, AlarmError, WebhookError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"alarm {alarm.alarm_id} ({alarm.machine_id} {alarm.kind}) acknowledged by "
        f"{address} at {iso(alarm.acked_at) if alarm.acked_at else '?'}"
    )


@alarms_group.command()
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def deliver(limit: int) -> None:
    """One webhook delivery pass: send every notification that is due."""
    settings = load_settings()
    try:
        report = deliver_due(
            _store(), dt.datetime.now(dt.UTC), secret=settings.webhook_secret, limit=limit
        )
    except WebhookError as exc:
        raise click.ClickException(str(exc)) from exc
    for a in report.attempts:
        when = f", next at {iso(a.next_attempt_at)}" if a.next_attempt_at else ""
        click.echo(
            f"outbox {a.outbox_id} attempt {a.attempt}: {a.outcome}"
            f"{f' ({a.error})' if a.error else ''}{when}"
        )
    click.echo(
        f"{report.count('delivered')} delivered, {report.count('retry')} to retry, "
        f"{report.count('dead')} given up"
        + (f"; {report.pruned} delivered long ago removed" if report.pruned else "")
    )
