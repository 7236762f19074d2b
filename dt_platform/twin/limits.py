"""A MANAGER's autonomy limits: what the platform may command by itself.

:class:`Limits` is the rule (pure): the largest derate, whether production may be stopped, whether
a stop is allowed during a customer order, which machines, until when. Signed, stored and checked
limits are in :mod:`dt_platform.twin.limits_store`.

A derate above :data:`~dt_platform.twin.commands.CRITICAL_DERATE_PCT` is never autonomous (a
person and a second signer decide it); an inspection and a derate within the limit do not stop
production; a maintenance while the machine produces stops it.

Signed, the limits are EIP-712 typed data ``Limits(bytes32 limitsId, string scope, uint256
maxDerateBp, bool mayStopProduction, bool noStopDuringCustomerOrder, uint64 issuedAt, uint64
expiresAt)`` in the commands' domain (:mod:`dt_platform.twin.typed_data`), signed by a MANAGER;
:mod:`dt_platform.twin.limits_store` issues, accepts, stores and re-checks them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dt_platform.twin import typed_data as td
from dt_platform.twin.commands import CRITICAL_DERATE_PCT, CommandRefused

__all__ = ["LIMITS_TYPE", "Limits", "limits_from_message", "limits_message", "limits_typed_data"]

MAX_SCOPE = 200


@dataclass(frozen=True)
class Limits:
    """What the platform may do without a person (see the module docstring)."""

    max_derate_pct: float = 20.0
    may_stop_production: bool = False
    no_stop_during_customer_order: bool = True
    expires_at: dt.datetime | None = None
    """None: never (only for tests and the pure policy; signed limits always expire)."""
    scope: tuple[str, ...] = ()
    """Machine ids covered; empty = every machine."""

    def __post_init__(self) -> None:
        pct = self.max_derate_pct
        if isinstance(pct, bool) or not isinstance(pct, int | float):
            raise ValueError("max_derate_pct must be a number")
        if not 0 <= pct <= CRITICAL_DERATE_PCT:
            raise ValueError(
                f"max_derate_pct must be 0-{CRITICAL_DERATE_PCT} % (a larger derate is critical "
                f"and always needs a person), not {pct}"
            )
        if len(self.scope) > MAX_SCOPE:
            raise ValueError(f"limits name at most {MAX_SCOPE} machines")

    def covers(self, machine_id: str) -> bool:
        return not self.scope or machine_id in self.scope

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def refusal(
        self,
        machine_id: str,
        now: dt.datetime,
        *,
        derate_pct: float = 0.0,
        stops_production: bool = False,
        in_customer_order: bool = False,
    ) -> str | None:
        """Why an action is outside the limits, or ``None`` if it is within them."""
        if self.expired(now):
            return f"the MANAGER's limits expired at {self.expires_at:%Y-%m-%d %H:%M} UTC"
        if not self.covers(machine_id):
            return f"the MANAGER's limits do not cover {machine_id}"
        if derate_pct > self.max_derate_pct + 1e-9:
            return f"a derate of {derate_pct:g} % is above the limit of {self.max_derate_pct:g} %"
        if stops_production and not self.may_stop_production:
            return "the limits do not allow stopping production"
        if stops_production and in_customer_order and self.no_stop_during_customer_order:
            return "the limits allow no production stop during a customer order"
        return None


# --- signed limits ------------------------------------------------------------------------------

LIMITS_TYPE = [
    {"name": "limitsId", "type": "bytes32"},
    {"name": "scope", "type": "string"},
    {"name": "maxDerateBp", "type": "uint256"},
    {"name": "mayStopProduction", "type": "bool"},
    {"name": "noStopDuringCustomerOrder", "type": "bool"},
    {"name": "issuedAt", "type": "uint64"},
    {"name": "expiresAt", "type": "uint64"},
]
"""``Limits``: a struct of its own (never mistaken for a command or an approval); ``scope`` is
``*`` or machine ids joined by commas; ``maxDerateBp`` in basis points (2000 = 20 %)."""
MAX_VALIDITY_S = 90 * 86_400
ALL_MACHINES = "*"


def limits_message(limits_id: str, limits: Limits, issued_at: int) -> dict[str, Any]:
    if limits.expires_at is None:
        raise CommandRefused("bad_action", "signed limits need an expiry")
    expires = int(limits.expires_at.timestamp())
    if not issued_at < expires <= issued_at + MAX_VALIDITY_S:
        raise CommandRefused(
            "bad_action",
            f"limits expire after they are issued and within {MAX_VALIDITY_S // 86400} days",
        )
    return {
        "limitsId": limits_id,
        "scope": ",".join(limits.scope) if limits.scope else ALL_MACHINES,
        "maxDerateBp": round(limits.max_derate_pct * 100),
        "mayStopProduction": bool(limits.may_stop_production),
        "noStopDuringCustomerOrder": bool(limits.no_stop_during_customer_order),
        "issuedAt": int(issued_at),
        "expiresAt": expires,
    }


def limits_typed_data(domain: td.Domain, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": td.DOMAIN_TYPE, "Limits": LIMITS_TYPE},
        "primaryType": "Limits",
        "domain": domain.to_json(),
        "message": message,
    }


def limits_from_message(message: dict[str, Any]) -> Limits:
    scope = str(message["scope"])
    return Limits(
        max_derate_pct=int(message["maxDerateBp"]) / 100,
        may_stop_production=bool(message["mayStopProduction"]),
        no_stop_during_customer_order=bool(message["noStopDuringCustomerOrder"]),
        expires_at=dt.datetime.fromtimestamp(int(message["expiresAt"]), dt.UTC),
        scope=() if scope == ALL_MACHINES else tuple(s for s in scope.split(",") if s),
    )
