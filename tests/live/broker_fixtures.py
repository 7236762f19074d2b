"""A real Mosquitto for tests: started by the project's own code on a free port in a temp home."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho

from dt_platform.config import Settings
from dt_platform.live.broker import broker_down, broker_up
from dt_platform.live.mqtt import connect, gateway_credentials, platform_credentials
from dt_platform.processes import free_port

GATEWAYS = ("gw-a", "gw-b")


@contextlib.contextmanager
def running_broker(home: Path, gateways=GATEWAYS) -> Iterator[Settings]:
    settings = Settings(home=home, mqtt_port=free_port())
    broker_up(settings, gateways)
    try:
        yield settings
    finally:
        broker_down(settings)


def platform_client(settings: Settings, client_id: str = "platform-test", **kw) -> paho.Client:
    user, password = platform_credentials(settings)
    return connect(settings, client_id, user, password, **kw)


def gateway_client(settings: Settings, gateway: str, client_id: str | None = None, **kw):
    user, password = gateway_credentials(settings, gateway)
    return connect(settings, client_id or f"{gateway}-test", user, password, **kw)


class Inbox:
    """Messages a client receives, for assertions (topic, payload, retain)."""

    def __init__(self, client: paho.Client) -> None:
        self.q: queue.Queue = queue.Queue()
        self._subscribed = threading.Event()
        client.on_message = lambda _c, _u, m: self.q.put((m.topic, m.payload, m.retain))
        client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client = client

    def subscribe(self, topic: str, qos: int = 1) -> Inbox:
        self._subscribed.clear()
        self.client.subscribe(topic, qos)
        assert self._subscribed.wait(5), f"no SUBACK for {topic}"
        return self

    def get(self, timeout: float = 5.0):
        return self.q.get(timeout=timeout)

    def nothing_within(self, timeout: float) -> bool:
        try:
            self.q.get(timeout=timeout)
        except queue.Empty:
            return True
        return False
