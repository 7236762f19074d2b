"""Connecting to the broker: the local Mosquitto by default, any broker by ``DT_MQTT_URL``.

:func:`platform_credentials` and :func:`gateway_credentials` say who connects; :func:`connect`
returns a started paho-mqtt client (network loop in its own thread) once the broker has accepted
the connection, or raises :class:`MqttError` with the broker's reason.
"""

from __future__ import annotations

import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from dt_platform.config import Settings
from dt_platform.live import topics
from dt_platform.live.broker import PLATFORM_USER, read_credentials


class MqttError(RuntimeError):
    """The broker could not be reached or refused the connection."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: bool


def endpoint(settings: Settings) -> Endpoint:
    url = urllib.parse.urlsplit(settings.effective_mqtt_url)
    tls = url.scheme == "mqtts"
    return Endpoint(url.hostname or "127.0.0.1", url.port or (8883 if tls else 1883), tls)


def platform_credentials(settings: Settings) -> tuple[str, str | None]:
    """The platform's user and password: ``DT_MQTT_USER`` / ``DT_MQTT_PASSWORD`` for a broker of
    ``DT_MQTT_URL``, else those generated for the local broker."""
    if settings.mqtt_url:
        return settings.mqtt_user or PLATFORM_USER, settings.mqtt_password
    password = read_credentials(settings).get(PLATFORM_USER)
    if password is None:
        raise MqttError("no local broker credentials yet: run `dt-platform broker up`")
    return PLATFORM_USER, password


def gateway_credentials(settings: Settings, gateway: str) -> tuple[str, str]:
    """A gateway's user (its name) and password on the local broker."""
    password = read_credentials(settings).get(gateway)
    if password is None:
        raise MqttError(
            f"gateway {gateway!r} has no credentials on the local broker: `dt-platform broker up` "
            "issues them for every gateway of the registry"
        )
    return gateway, password


def connect(
    settings: Settings,
    client_id: str,
    user: str,
    password: str | None,
    *,
    persistent: bool = False,
    will: tuple[str, bytes] | None = None,
    manual_ack: bool = False,
    timeout: float = 10.0,
    keepalive: int = 30,
    on_message: Callable[[paho.Client, Any, paho.MQTTMessage], None] | None = None,
) -> paho.Client:
    """A connected client with its network loop running.

    ``persistent`` keeps the session (subscriptions and unacknowledged QoS 1 messages) on the
    broker while the client is away (MQTT 3.1.1 ``clean_session=0``); ``will`` is the
    (topic, payload) the broker publishes if the connection drops; ``manual_ack`` leaves the
    PUBACK of each received message to the caller (``client.ack(mid, qos)``), so a message is
    acknowledged only once it is stored. ``on_message`` is set before connecting: a persistent
    session's queued messages arrive right after the broker accepts the connection, and paho
    drops (without acknowledging) any message that arrives before there is a callback.
    """
    ep = endpoint(settings)
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=not persistent,
        protocol=paho.MQTTv311,
        manual_ack=manual_ack,
    )
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    if ep.tls:
        client.tls_set_context(ssl.create_default_context())
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=False)
    connected = threading.Event()
    outcome: dict[str, object] = {}

    def on_connect(_c, _u, _flags, reason_code, _props):
        outcome["rc"] = reason_code
        connected.set()

    client.on_connect = on_connect
    if on_message is not None:
        client.on_message = on_message
    try:
        client.connect(ep.host, ep.port, keepalive=keepalive)
    except OSError as exc:
        raise MqttError(f"cannot reach the MQTT broker at {ep.host}:{ep.port}: {exc}") from exc
    client.loop_start()
    if not connected.wait(timeout):
        client.loop_stop()
        raise MqttError(f"the MQTT broker at {ep.host}:{ep.port} did not answer in {timeout} s")
    rc = outcome["rc"]
    if getattr(rc, "is_failure", False):
        client.loop_stop()
        client.disconnect()
        raise MqttError(f"the MQTT broker refused {user!r}: {rc}")
    client.on_connect = None
    return client


class MqttDesiredPublisher:
    """Publishes a machine's desired state, retained, QoS 1, on its ``DCMD`` topic."""

    def __init__(self, client: paho.Client, group: str, timeout: float = 10.0) -> None:
        self.client = client
        self.group = group
        self.timeout = timeout

    def publish_desired(self, gateway: str, machine_id: str, payload: bytes) -> None:
        topic = topics.device_topic(self.group, "DCMD", gateway, machine_id)
        info = self.client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(self.timeout)
        if not info.is_published():
            raise MqttError(f"the broker did not confirm the desired state of {machine_id}")
