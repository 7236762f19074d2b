"""One small platform for the dashboard tests: a real anvil with the contracts and demo roles,
a warehouse, IPFS store and anchors built by the platform's own demo path, and the demo's
data-sharing grants to the QC account (``DEMO_SHARED_DATASETS``)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from rich.console import Console

from app.auth import SignedIn
from assets.demo import run_demo
from dt_platform.config import Settings
from dt_platform.live.broker import broker_down
from dt_platform.trust.anvil import chain_down, free_port
from dt_platform.trust.chain import AuditChain, dev_key
from dt_platform.trust.dev_accounts import dev_accounts

SESSION = "dt_signed_in"


@dataclass(frozen=True)
class Platform:
    settings: Settings
    env: dict[str, str]

    def address(self, role: str) -> str:
        return Account.from_key(dev_key(role)).address

    def client(self, role: str) -> AuditChain:
        return AuditChain.connect(self.settings, key=dev_key(role))

    def signed_in(self, address: str, *, hours: float = 1.0) -> SignedIn:
        now = dt.datetime.now(dt.UTC)
        return SignedIn(address, 31337, now, now + dt.timedelta(hours=hours))


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home: Path = tmp_path_factory.mktemp("dashboard_home")
    settings = Settings(home=home, chain_port=free_port(), mqtt_port=free_port())
    env = {
        "DT_HOME": str(home),
        "DT_CHAIN_PORT": str(settings.chain_port),
        "DT_MQTT_PORT": str(settings.mqtt_port),
        "DAGSTER_HOME": str(home / "dagster"),
        "DT_DASHBOARD_URL": "http://localhost:8501",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        run_demo(settings, machines=4, days=3, seed=3, ui=False, console=Console(quiet=True))
        yield Platform(settings, env)
    finally:
        broker_down(settings)
        chain_down(settings)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def outsider() -> str:
    """A dev account that holds no role and no grant."""
    return dev_accounts()[9].address
