"""Fixtures for the contract tests: one real anvil and one deployment shared by the session.

Tests that need a chain of their own (other chain id, restarts) start it themselves; the number of
anvil starts stays small.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dt_platform.config import Settings
from dt_platform.trust.anvil import Anvil, throwaway_anvil
from dt_platform.trust.chain import AuditChain, Deployment, deploy, dev_key
from dt_platform.trust.dev_accounts import dev_accounts


@dataclass(frozen=True)
class DevChain:
    node: Anvil
    settings: Settings
    deployment: Deployment

    def client(self, role: str) -> AuditChain:
        """A client signing with the dev account that holds ``role`` (see DEMO_ROLE_ACCOUNTS)."""
        return AuditChain.connect(self.settings, key=dev_key(role))

    def block_time(self) -> int:
        return int(self.node.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


@pytest.fixture(scope="session")
def dev_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevChain]:
    home: Path = tmp_path_factory.mktemp("dt_home")
    with throwaway_anvil(log_path=home / "anvil.log") as node:
        settings = Settings(home=home, chain_port=node.port)
        yield DevChain(node, settings, deploy(settings))


@pytest.fixture(scope="session")
def operator(dev_chain: DevChain) -> AuditChain:
    return dev_chain.client("OPERATOR")


@pytest.fixture(scope="session")
def admin(dev_chain: DevChain) -> AuditChain:
    return dev_chain.client("ADMIN")


@pytest.fixture(scope="session")
def manager(dev_chain: DevChain) -> AuditChain:
    return dev_chain.client("MANAGER")


@pytest.fixture(scope="session")
def outsider_address() -> str:
    """A dev account that holds no demo role."""
    return dev_accounts()[9].address
