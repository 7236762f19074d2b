"""``dt-platform broker up|down|status``: the local Mosquitto of the live line."""

from __future__ import annotations

import click

from dt_platform.config import Settings, load_settings
from dt_platform.ingest.registry import RegistryError, load_registry
from dt_platform.live.broker import BrokerError, broker_down, broker_status, broker_up
from dt_platform.sim.gateways import GATEWAYS

__all__ = ["broker", "known_gateways"]


def known_gateways(settings: Settings) -> list[str]:
    """The gateways of the machine registry, or the simulated line's before there is one."""
    try:
        machines = load_registry(settings.machine_registry_path)
    except (OSError, RegistryError):
        machines = []
    names = sorted({m.gateway for m in machines if m.gateway})
    return names or [g.name for g in GATEWAYS]


@click.group()
def broker() -> None:
    """The live line's MQTT broker (Mosquitto on 127.0.0.1, state in DT_HOME/broker)."""


@broker.command()
def up() -> None:
    """Start the broker, or reload its users and ACLs if it runs (one user per gateway)."""
    settings = load_settings()
    try:
        status = broker_up(settings, known_gateways(settings))
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "started" if status.started else "already running; users and ACLs reloaded"
    click.echo(f"broker {verb}: {status.url} (pid {status.pid})")
    click.echo(f"users: {', '.join(status.users)}; credentials in {status.folder}/credentials.json")


@broker.command()
def down() -> None:
    """Stop the broker (persistent sessions are saved)."""
    settings = load_settings()
    click.echo("broker stopped" if broker_down(settings) else "broker was not running")


@broker.command()
def status() -> None:
    """Whether the local broker runs, where, and for whom."""
    settings = load_settings()
    s = broker_status(settings)
    if settings.mqtt_url:
        click.echo(f"DT_MQTT_URL={settings.mqtt_url}: the platform uses that broker")
    state = f"running (pid {s.pid})" if s.running else "stopped"
    click.echo(f"local broker: {state} at {s.url}; log {s.log_path}")
    click.echo(f"users: {', '.join(s.users) or '(none yet: run `dt-platform broker up`)'}")
    if not s.running:
        raise SystemExit(1)
