"""The dashboard's side of the twin store: a connection per use, the machine registry, and the
publisher that sends a desired state to the MQTT broker.

The twin store (SQLite, ``DT_HOME/twin.sqlite``) is the one the bridge, the CLI and the Dagster
sensors share; the dashboard reads it for the live pages and writes to it only through the
library's checked operations (acknowledging an alarm, signed commands), each of which asks the
chain for the actor's role itself.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Iterator

import streamlit as st

from app import session
from dt_platform.config import Settings
from dt_platform.ingest.registry import Machine, RegistryError, load_registry
from dt_platform.live import mqtt
from dt_platform.twin import db
from dt_platform.twin.alarm_store import open_alarm_store
from dt_platform.twin.command_store import open_commands

PUBLISH_TIMEOUT_S = 5.0
"""How long a page waits for the broker before recording the publish as failed."""


@contextlib.contextmanager
def store() -> Iterator[sqlite3.Connection]:
    """A short connection to the twin store (tables created if this process is the first)."""
    con = db.connect(session.settings().twin_db_path)
    try:
        open_commands(con)
        open_alarm_store(con)
        yield con
    finally:
        con.close()


def registry() -> list[Machine]:
    """The machine registry commands are checked against; empty (said on the page) if missing."""
    try:
        return load_registry(session.settings().machine_registry_path)
    except RegistryError as exc:
        st.warning(f"The machine registry cannot be read, so no command can be issued: {exc}")
        return []


class BrokerPublisher:
    """Publishes a desired state through a fresh connection to the broker.

    It connects only when there is something to publish, so a broker that is down or refuses
    the platform's user raises here, inside
    :func:`~dt_platform.twin.command_publish.publish_desired_state`, which records a
    ``publish_failed`` event and leaves the command pending for a retry.
    """

    def __init__(self, settings: Settings, timeout: float = PUBLISH_TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout = timeout

    def publish_desired(self, gateway: str, machine_id: str, payload: bytes) -> None:
        user, password = mqtt.platform_credentials(self.settings)
        client = mqtt.connect(
            self.settings,
            f"dt-dashboard-{secrets.token_hex(4)}",
            user,
            password,
            timeout=self.timeout,
        )
        try:
            mqtt.MqttDesiredPublisher(
                client, self.settings.mqtt_group, self.timeout
            ).publish_desired(gateway, machine_id, payload)
        finally:
            client.loop_stop()
            client.disconnect()


def publisher() -> BrokerPublisher:
    return BrokerPublisher(session.settings())
