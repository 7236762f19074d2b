"""``dt-platform line run``: the simulated line, live, over MQTT."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import click

from dt_platform.config import load_settings
from dt_platform.live.line import LiveLine
from dt_platform.live.mqtt import MqttError

MAX_CREDENTIALS_BYTES = 64 * 1024


def _credentials(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    if path.stat().st_size > MAX_CREDENTIALS_BYTES:
        raise click.ClickException(f"{path}: larger than {MAX_CREDENTIALS_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise click.ClickException(f'{path}: expected {{"<gateway>": "<password>", ...}}')
    return data


@click.group()
def line() -> None:
    """The simulated phone line, live: machines publish over MQTT and obey desired states."""


@line.command()
@click.option("--machines", type=click.IntRange(1, 1000), default=12, show_default=True)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.001, max=1e6),
    default=60.0,
    show_default=True,
    help="Sim seconds per wall second (until sim time catches up).",
)
@click.option("--seed", type=click.IntRange(min=0), default=7, show_default=True)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    default=None,
    help="Sim start (UTC unless an offset is given). Default: today 00:00 UTC, where "
    "`dt-platform simulate`'s history ends.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many wall seconds (default: until Ctrl-C / SIGTERM).",
)
@click.option(
    "--offline-rate",
    type=click.FloatRange(0, 60),
    default=0.02,
    show_default=True,
    help="Machine offline episodes per machine-hour of sim time (5-60 sim minutes).",
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 60),
    default=0.0,
    show_default=True,
    help="Abrupt gateway disconnects (last will NDEATH) per gateway-hour of sim time.",
)
@click.option(
    "--busy-prob",
    type=click.FloatRange(0, 1),
    default=0.02,
    show_default=True,
    help="Chance that a machine rejects a command as busy (changeover in progress).",
)
@click.option(
    "--fault-scale",
    type=click.FloatRange(0, 1000),
    default=1.0,
    show_default=True,
    help="Multiplies the batch simulator's sensor-fault rates (stuck values, dropouts, comm "
    "loss, spikes, half of them implausible); 0: noise only. Each fault is appended to "
    "$DT_HOME/ground_truth/live_faults.jsonl.",
)
@click.option(
    "--credentials",
    "credentials_path",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSON {gateway: password} for an external broker (DT_MQTT_URL).",
)
@click.option(
    "--every",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between summary lines.",
)
def run(
    machines,
    speed,
    seed,
    start,
    duration,
    offline_rate,
    drop_rate,
    busy_prob,
    fault_scale,
    credentials_path,
    every,
) -> None:
    """Run the line: readings up (QoS 1), DCMD desired states down, acks and reported state up.

    The sensors fail as in `dt-platform simulate` (see --fault-scale); the faults are ground
    truth for evaluation, never read by the platform."""
    settings = load_settings()
    try:
        live = LiveLine(
            settings,
            machines,
            seed,
            speed,
            start,
            offline_rate=offline_rate,
            drop_rate=drop_rate,
            busy_prob=busy_prob,
            fault_scale=fault_scale,
            credentials=_credentials(credentials_path),
        )
    except (ValueError, MqttError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"line of {machines} machines, seed {seed}, speed {speed:g}x: {live.origin}")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        live.start()
    except MqttError as exc:
        signal.signal(signal.SIGTERM, previous)
        raise click.ClickException(str(exc)) from exc
    began = time.monotonic()
    try:
        while not stop.is_set() and live.running:
            left = None if duration is None else duration - (time.monotonic() - began)
            if left is not None and left <= 0:
                break
            stop.wait(every if left is None else min(every, left))
            click.echo(live.stats().line())
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
        signal.signal(signal.SIGTERM, previous)
    click.echo("stopped: " + live.stats().line())
    if live.error is not None:
        raise click.ClickException(f"the line stopped on an error: {live.error}")
