"""Twin commands: what each kind changes in a machine's desired state, when one is critical, the
states a command goes through, and the refusals.

Kinds (``action``) and the desired settings they set (see :mod:`dt_platform.twin.state`):

- ``derate``: ``derate_pct`` = the value (percent of rated speed taken off, 0-90, signed as basis
  points: 2000 = 20 %);
- ``maintenance_on`` / ``maintenance_off``: ``maintenance`` = true / false;
- ``inspect``: ``inspection`` = the command's id (an inspection request the machine can echo);
- ``resume``: ``derate_pct`` = 0 and ``maintenance`` = false.

A command is *critical*, and needs a MANAGER's approval besides its MAINTAINER's signature, when
it is ``maintenance_on`` while the machine reports mode ``production``, or a derate above 50 %.
Critical is decided when the draft is issued (and signed as part of it) and again when it is
signed: a command that became critical meanwhile (the machine went into production) still needs
the approval.

States::

    issued ──signed──▶ pending ──ack──▶ delivered ──ack──▶ applied | rejected
       └──signed (critical)──▶ awaiting_approval ──approved──▶ pending
    issued, awaiting_approval, pending, delivered ──expiresAt passed──▶ expired

``applied``, ``rejected`` and ``expired`` are final. A machine may acknowledge ``applied`` or
``rejected`` without ``delivered`` first (that ack can be lost); nothing leaves a final state.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

ACTIONS = ("derate", "maintenance_on", "maintenance_off", "inspect", "resume")
MAX_DERATE_PCT = 90
CRITICAL_DERATE_PCT = 50
DEFAULT_TTL_S = 15 * 60
"""How long a command stays valid when the caller does not say (issue to applied)."""
MAX_TTL_S = 7 * 86_400

ISSUED = "issued"
AWAITING_APPROVAL = "awaiting_approval"
PENDING = "pending"
DELIVERED = "delivered"
APPLIED = "applied"
REJECTED = "rejected"
EXPIRED = "expired"
OPEN_STATES = (ISSUED, AWAITING_APPROVAL, PENDING, DELIVERED)
FINAL_STATES = (APPLIED, REJECTED, EXPIRED)
TRANSITIONS: dict[str, frozenset[str]] = {
    ISSUED: frozenset({AWAITING_APPROVAL, PENDING, EXPIRED}),
    AWAITING_APPROVAL: frozenset({PENDING, EXPIRED}),
    PENDING: frozenset({DELIVERED, APPLIED, REJECTED, EXPIRED}),
    DELIVERED: frozenset({APPLIED, REJECTED, EXPIRED}),
    APPLIED: frozenset(),
    REJECTED: frozenset(),
    EXPIRED: frozenset(),
}
ACK_STATUSES = (DELIVERED, APPLIED, REJECTED)

REJECT_REASONS = ("out_of_range", "interlock", "busy", "unsupported", "expired")
"""Reasons machines are expected to give; any short lower-case token is recorded as given."""
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

ISSUER_ROLE = "MAINTAINER"
APPROVER_ROLE = "MANAGER"

REFUSALS = {
    "unknown_machine": "the machine is not in the registry",
    "bad_action": "not a command kind, or a value out of range",
    "bad_signature": "the signature cannot be read, or is not by the claimed signer",
    "bad_typed_data": "the typed data handed back cannot be read",
    "wrong_domain": "signed for another chain, contract, name or version",
    "not_issued": "no such command was issued, or the signed message is not the issued one",
    "expired": "the command's expiresAt has passed",
    "replayed": "the signature, or the command's nonce, was used already",
    "role_missing": "the signer does not hold the role on chain now",
    "same_signer": "the approval is by the command's own signer",
    "dev_key": "one of anvil's public dev keys, off the local dev chain",
    "not_awaiting_approval": "the command needs no approval (or not any more)",
    "invalid_transition": "the state machine does not allow it (e.g. applied after expired)",
    "wrong_machine": "the acknowledgement names another machine",
    "version_mismatch": "the acknowledgement is for another desired version",
    "bad_ack": "the acknowledgement's status or reason cannot be used",
    "outside_limits": "an autonomous command outside the MANAGER's signed limits",
    "limits_invalid": "no valid MANAGER-signed limits: unsigned, expired, or not by a MANAGER now",
}
"""Every refusal code, and what it means."""


class CommandRefused(Exception):
    """A command, signature or acknowledgement is refused; ``reason_code`` is one of
    :data:`REFUSALS`, ``detail`` says what exactly."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(f"{reason_code}: {detail}")
        self.reason_code = reason_code
        self.detail = detail


class RoleReader(Protocol):
    """Who holds which platform role on chain (``AuditChain.has_role`` is the real one)."""

    def has_role(self, role: str, account: str) -> bool: ...


class DesiredPublisher(Protocol):
    """Publishes a machine's desired-state document retained, QoS 1, on its ``DCMD`` topic."""

    def publish_desired(self, gateway: str, machine_id: str, payload: bytes) -> None: ...


@dataclass(frozen=True)
class Draft:
    """An issued command waiting for its signature; ``typed_data`` is exactly what to sign."""

    command_id: str
    machine_id: str
    action: str
    value: int
    critical: bool
    issued_at: int
    expires_at: int
    typed_data: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class CommandStatus:
    command_id: str
    machine_id: str
    gateway: str
    action: str
    value: int
    """Basis points for ``derate`` (2000 = 20 %), 0 otherwise."""
    changes: dict[str, Any]
    critical: bool
    state: str
    issued_at: int
    expires_at: int
    issuer: str | None
    approver: str | None
    version: int | None
    """The desired-state version the command set (from ``pending`` on)."""
    published_version: int | None
    """The last desired version published for it (``None``: not published yet)."""
    reason: str | None
    updated_at: str

    @property
    def published(self) -> bool:
        return self.version is not None and self.published_version == self.version


@dataclass(frozen=True)
class CommandEvent:
    seq: int
    command_id: str
    machine_id: str
    at: str
    event: str
    state: str
    actor: str | None
    role: str | None
    signature: str | None
    reason: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def action_value(action: str, percent: float | None = None) -> int:
    """The signed ``value`` of a command: the derate in basis points, 0 for the other kinds."""
    if action not in ACTIONS:
        raise CommandRefused("bad_action", f"{action!r} is not one of {', '.join(ACTIONS)}")
    if action != "derate":
        if percent not in (None, 0):
            raise CommandRefused("bad_action", f"{action} takes no value")
        return 0
    if percent is None or isinstance(percent, bool) or not isinstance(percent, int | float):
        raise CommandRefused("bad_action", "derate needs a percent from 0 to 90")
    if not math.isfinite(percent) or not 0 <= percent <= MAX_DERATE_PCT:
        raise CommandRefused(
            "bad_action", f"derate {percent} % is out of range (0 to {MAX_DERATE_PCT} %)"
        )
    bp = round(percent * 100)
    if abs(percent * 100 - bp) > 1e-6:
        raise CommandRefused("bad_action", f"derate {percent} %: at most two decimals")
    return bp


def changes_for(action: str, value: int, command_id: str) -> dict[str, Any]:
    """The desired-setting changes of a command."""
    if action == "derate":
        return {"derate_pct": value / 100}
    if action == "maintenance_on":
        return {"maintenance": True}
    if action == "maintenance_off":
        return {"maintenance": False}
    if action == "inspect":
        return {"inspection": command_id}
    if action == "resume":
        return {"derate_pct": 0.0, "maintenance": False}
    raise CommandRefused("bad_action", f"{action!r} is not one of {', '.join(ACTIONS)}")


def is_critical(action: str, value: int, mode: str | None) -> bool:
    """Maintenance while producing, or a derate above 50 %, needs a second signer."""
    if action == "maintenance_on":
        return mode == "production"
    return action == "derate" and value > CRITICAL_DERATE_PCT * 100


def check_transition(command_id: str, old: str, new: str) -> None:
    if new not in TRANSITIONS.get(old, frozenset()):
        raise CommandRefused(
            "invalid_transition", f"command {command_id} is {old}; it cannot become {new}"
        )


def check_reject_reason(reason: str | None) -> str:
    if reason is None or reason == "":
        return "unspecified"
    if not isinstance(reason, str) or not _REASON.match(reason):
        raise CommandRefused(
            "bad_ack", "a rejection reason is a lower-case token of at most 32 characters"
        )
    return reason
