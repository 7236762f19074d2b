"""``dt-platform bridge run``: the MQTT bridge in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading

import click

from dt_platform.config import load_settings
from dt_platform.live.bridge import MAX_BATCH_S, Bridge
from dt_platform.live.mqtt import MqttError

__all__ = ["bridge"]


@click.group()
def bridge() -> None:
    """The MQTT bridge: live telemetry into landing/stream/ and the twin store."""


@bridge.command()
@click.option(
    "--flush-s",
    type=click.FloatRange(0.01, 10.0),
    default=0.5,
    show_default=True,
    help="fsync the journal and acknowledge the messages at most this often (seconds)",
)
@click.option(
    "--batch-s",
    type=click.FloatRange(0.1, MAX_BATCH_S),
    default=MAX_BATCH_S,
    show_default=True,
    help="land the journal as a JSON Lines dump at least this often (seconds)",
)
def run(flush_s: float, batch_s: float) -> None:
    """Run the bridge until SIGTERM or Ctrl-C, then flush, acknowledge, land and disconnect."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings()
    if flush_s > batch_s:
        raise click.BadParameter("--flush-s must not exceed --batch-s")
    engine = Bridge(settings, flush_s=flush_s, batch_s=batch_s)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        engine.start()
    except MqttError as exc:
        engine.stop()
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"bridge running: {settings.effective_mqtt_url}, group {settings.mqtt_group!r}; "
        f"dumps land in {engine.spool.target_dir}"
    )
    while not stop.wait(1.0) and engine.running:
        pass
    engine.stop()
    s = engine.stats
    click.echo(
        f"bridge stopped: {s.received} messages received, {s.messages_stored} stored, "
        f"{s.duplicates} duplicates, {s.lines_spooled} lines, {s.files_landed} files landed"
    )
    if engine.error is not None:
        raise click.ClickException(f"the bridge failed: {engine.error}")
