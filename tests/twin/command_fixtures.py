"""Shared pieces of the command tests: a role table standing in for the chain, a publisher that
keeps what it was given, a registry and a domain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from eth_account import Account

from dt_platform.ingest.registry import Machine
from dt_platform.twin import db
from dt_platform.twin.command_store import open_commands
from dt_platform.twin.typed_data import Domain, sign_typed_data

DOMAIN = Domain(31337, "0x" + "11" * 20)
REGISTRY = [
    Machine("CNC-01", "cnc_spindle", line="L1", gateway="gw-opcua"),
    Machine("OVEN-01", "reflow_oven", line="L1", gateway="gw-mqtt"),
]
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@dataclass
class Roles:
    """Who holds which role: what the chain would answer."""

    held: dict[str, set[str]] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def grant(self, role: str, address: str) -> None:
        self.held.setdefault(role, set()).add(address.lower())

    def revoke(self, role: str, address: str) -> None:
        self.held.get(role, set()).discard(address.lower())

    def has_role(self, role: str, account: str) -> bool:
        self.asked.append((role, account))
        return account.lower() in self.held.get(role, set())


@dataclass
class Published:
    messages: list[tuple[str, str, bytes]] = field(default_factory=list)
    fail: bool = False

    def publish_desired(self, gateway: str, machine_id: str, payload: bytes) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.messages.append((gateway, machine_id, payload))


@dataclass
class Team:
    maintainer: object
    maintainer2: object
    manager: object
    roles: Roles


def team() -> Team:
    roles = Roles()
    m1, m2, boss = Account.create(), Account.create(), Account.create()
    roles.grant("MAINTAINER", m1.address)
    roles.grant("MAINTAINER", m2.address)
    roles.grant("MANAGER", boss.address)
    return Team(m1, m2, boss, roles)


def store(tmp_path):
    return open_commands(db.connect(tmp_path / "twin.sqlite"))


def sign(typed: dict, account) -> str:
    return sign_typed_data(typed, account)
