"""A MANAGER's signed autonomy limits in the twin store, and the check that lets the platform
command a machine by itself within them.

Flow, like a command's: the server issues the typed data of the limits (random ``limitsId``
nonce, stored); a MANAGER signs exactly it; :func:`submit_limits` accepts the signature only for
that message, in the current domain, before it expires, once, by an address holding MANAGER on
chain at that moment. The newest accepted limits that have not expired are the current ones
(:func:`current_limits`); :func:`revoke_limits` ends them early (a MANAGER's word, recorded).

Autonomous commands (:func:`check_autonomous`, called by
:func:`~dt_platform.twin.command_flow.submit_signature` when it is given limits): the command is
signed by the platform's own key, which must hold OPERATOR on chain, and the limits are checked
again at that moment — the signature recovers to their signer, who still holds MANAGER, they have
not expired or been revoked, and they cover the machine and the action. Otherwise nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from dt_platform.twin import typed_data as td
from dt_platform.twin.commands import CommandRefused, RoleReader
from dt_platform.twin.db import ensure, transaction
from dt_platform.twin.limits import (
    Limits,
    limits_from_message,
    limits_message,
    limits_typed_data,
)

__all__ = [
    "AUTONOMOUS_ROLE",
    "LIMITS_ROLE",
    "SignedLimits",
    "check_autonomous",
    "current_limits",
    "issue_limits",
    "list_limits",
    "revoke_limits",
    "submit_limits",
    "verify_limits",
]

LIMITS_ROLE = "MANAGER"
AUTONOMOUS_ROLE = "OPERATOR"
"""The role the platform's own key (``DT_CHAIN_KEY``) holds to sign autonomous commands."""
AUTONOMOUS_ACTIONS = ("derate", "inspect", "maintenance_on")

DDL = """
CREATE TABLE IF NOT EXISTS autonomy_limits (
    limits_id   TEXT PRIMARY KEY,           -- 0x + 64 hex: the signed nonce
    typed_data  TEXT NOT NULL,              -- JSON: the EIP-712 typed data issued
    digest      TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    state       TEXT NOT NULL,              -- issued, signed, revoked
    signer      TEXT,
    signature   TEXT UNIQUE,
    signed_at   TEXT,
    revoked_at  TEXT,
    revoked_by  TEXT
);
CREATE INDEX IF NOT EXISTS autonomy_limits_by_state ON autonomy_limits (state, issued_at);
"""


@dataclass(frozen=True)
class SignedLimits:
    limits_id: str
    limits: Limits
    state: str
    typed_data: dict[str, Any]
    digest: str
    issued_at: int
    signer: str | None
    signature: str | None
    signed_at: str | None


def open_limits(con: sqlite3.Connection) -> sqlite3.Connection:
    ensure(con, DDL)
    return con


def _from_row(row: sqlite3.Row) -> SignedLimits:
    typed = json.loads(row["typed_data"])
    return SignedLimits(
        row["limits_id"], limits_from_message(typed["message"]), row["state"], typed,
        row["digest"], int(row["issued_at"]), row["signer"], row["signature"], row["signed_at"],
    )  # fmt: skip


def _row(con: sqlite3.Connection, limits_id: str) -> sqlite3.Row:
    row = con.execute(
        "SELECT * FROM autonomy_limits WHERE limits_id = ?", (str(limits_id).strip().lower(),)
    ).fetchone()
    if row is None:
        raise CommandRefused("not_issued", f"no limits {limits_id} were issued")
    return row


def _unix(now: dt.datetime) -> int:
    if now.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return int(now.timestamp())


def issue_limits(
    con: sqlite3.Connection, limits: Limits, *, domain: td.Domain, now: dt.datetime
) -> SignedLimits:
    """Store the typed data of new limits for a MANAGER to sign."""
    open_limits(con)
    limits_id = "0x" + secrets.token_bytes(32).hex()
    message = limits_message(limits_id, limits, _unix(now))
    typed = limits_typed_data(domain, message)
    with transaction(con):
        con.execute(
            "INSERT INTO autonomy_limits (limits_id, typed_data, digest, issued_at, expires_at, "
            "state) VALUES (?, ?, ?, ?, ?, 'issued')",
            (limits_id, json.dumps(typed, sort_keys=True), td.digest(typed), message["issuedAt"],
             message["expiresAt"]),
        )  # fmt: skip
    return _from_row(_row(con, limits_id))


def _recover(typed: dict[str, Any], signature: str | bytes, domain: td.Domain) -> tuple[str, str]:
    try:
        raw = td.parse_signature(signature)
        if typed["domain"] != domain.to_json():
            raise CommandRefused("wrong_domain", "the limits were issued for another domain")
        who = td.recover_signer(typed, raw)
        td.refuse_dev_key(who, domain.chain_id)
    except td.TypedDataError as exc:
        raise CommandRefused(exc.reason, exc.detail) from None
    return "0x" + raw.hex(), who


def submit_limits(
    con: sqlite3.Connection,
    limits_id: str,
    signature: str | bytes,
    *,
    roles: RoleReader,
    domain: td.Domain,
    now: dt.datetime,
    signer: str | None = None,
) -> SignedLimits:
    """Accept a MANAGER's signature of issued limits; they become the current limits."""
    open_limits(con)
    row = _row(con, limits_id)
    if row["state"] != "issued":
        raise CommandRefused("replayed", f"limits {row['limits_id']} are {row['state']} already")
    if _unix(now) >= int(row["expires_at"]):
        raise CommandRefused("expired", f"limits {row['limits_id']} expired before being signed")
    sig, who = _recover(json.loads(row["typed_data"]), signature, domain)
    if signer is not None and who.lower() != signer.strip().lower():
        raise CommandRefused("bad_signature", f"the signature is not by {signer} (it is {who})")
    if not roles.has_role(LIMITS_ROLE, who):
        raise CommandRefused("role_missing", f"{who} does not hold {LIMITS_ROLE} on chain")
    with transaction(con):
        done = con.execute(
            "UPDATE autonomy_limits SET state = 'signed', signer = ?, signature = ?, signed_at = ? "
            "WHERE limits_id = ? AND state = 'issued'",
            (who, sig, now.astimezone(dt.UTC).isoformat(), row["limits_id"]),
        ).rowcount
    if not done:
        raise CommandRefused("replayed", f"limits {row['limits_id']} were signed meanwhile")
    return _from_row(_row(con, limits_id))


def sign_limits(
    con: sqlite3.Connection,
    limits: Limits,
    account: Any,
    *,
    roles: RoleReader,
    domain: td.Domain,
    now: dt.datetime,
) -> SignedLimits:
    """Issue ``limits``, sign them with a local ``account`` (an eth-account key holding MANAGER)
    and submit the signature: the whole round trip for the CLI and the demo."""
    draft = issue_limits(con, limits, domain=domain, now=now)
    signature = td.sign_typed_data(draft.typed_data, account)
    return submit_limits(
        con, draft.limits_id, signature, roles=roles, domain=domain, now=now,
        signer=account.address,
    )  # fmt: skip


def revoke_limits(
    con: sqlite3.Connection, limits_id: str, *, by: str, now: dt.datetime
) -> SignedLimits:
    """End signed limits now (the caller has checked that ``by`` holds MANAGER)."""
    open_limits(con)
    row = _row(con, limits_id)
    with transaction(con):
        con.execute(
            "UPDATE autonomy_limits SET state = 'revoked', revoked_at = ?, revoked_by = ? "
            "WHERE limits_id = ?",
            (now.astimezone(dt.UTC).isoformat(), by, row["limits_id"]),
        )
    return _from_row(_row(con, limits_id))


def list_limits(con: sqlite3.Connection, limit: int = 50) -> list[SignedLimits]:
    open_limits(con)
    rows = con.execute(
        "SELECT * FROM autonomy_limits ORDER BY issued_at DESC, rowid DESC LIMIT ?",
        (max(1, min(int(limit), 500)),),
    )
    return [_from_row(r) for r in rows]


def current_limits(con: sqlite3.Connection, now: dt.datetime) -> SignedLimits | None:
    """The newest signed, unrevoked limits that have not expired (not re-verified: see
    :func:`verify_limits`)."""
    open_limits(con)
    row = con.execute(
        "SELECT * FROM autonomy_limits WHERE state = 'signed' AND expires_at > ? "
        "ORDER BY issued_at DESC, rowid DESC LIMIT 1",
        (_unix(now),),
    ).fetchone()
    return _from_row(row) if row else None


def verify_limits(
    con: sqlite3.Connection,
    signed: SignedLimits,
    *,
    roles: RoleReader,
    domain: td.Domain,
    now: dt.datetime,
) -> Limits:
    """The limits, if they still stand now: stored signed and unrevoked, unexpired, in this
    domain, the signature recovering to their signer, who holds MANAGER on chain now."""
    open_limits(con)
    row = _row(con, signed.limits_id)
    if row["state"] != "signed" or not row["signature"]:
        raise CommandRefused("limits_invalid", f"limits {row['limits_id']} are {row['state']}")
    typed = json.loads(row["typed_data"])
    limits = limits_from_message(typed["message"])
    if limits.expired(now):
        raise CommandRefused("limits_invalid", f"limits {row['limits_id']} expired")
    try:
        _, who = _recover(typed, row["signature"], domain)
    except CommandRefused as exc:
        raise CommandRefused("limits_invalid", f"limits signature: {exc.detail}") from None
    if who.lower() != str(row["signer"]).lower():
        raise CommandRefused("limits_invalid", "the limits' signature is not their signer's")
    if not roles.has_role(LIMITS_ROLE, who):
        raise CommandRefused(
            "limits_invalid", f"the limits' signer {who} does not hold {LIMITS_ROLE} on chain now"
        )
    return limits


def check_autonomous(
    con: sqlite3.Connection,
    signed: SignedLimits,
    command: sqlite3.Row,
    who: str,
    *,
    roles: RoleReader,
    domain: td.Domain,
    now: dt.datetime,
    mode: str | None,
    in_customer_order: bool,
) -> str:
    """Refuse (``CommandRefused``) an autonomous command that is not signed by an OPERATOR or
    not covered by valid limits; returns the limits' signer (the standing approval)."""
    if not roles.has_role(AUTONOMOUS_ROLE, who):
        raise CommandRefused("role_missing", f"{who} does not hold {AUTONOMOUS_ROLE} on chain")
    limits = verify_limits(con, signed, roles=roles, domain=domain, now=now)
    action, value = command["action"], int(command["value"])
    if action not in AUTONOMOUS_ACTIONS:
        raise CommandRefused("outside_limits", f"{action} is never sent autonomously")
    why = limits.refusal(
        command["machine_id"], now,
        derate_pct=value / 100 if action == "derate" else 0.0,
        stops_production=action == "maintenance_on" and mode in (None, "production"),
        in_customer_order=in_customer_order,
    )  # fmt: skip
    if why:
        raise CommandRefused("outside_limits", why)
    return str(signed.signer)
