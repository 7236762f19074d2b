"""Issuing, signing and approving commands, and publishing the desired state they set.

The server issues a draft (random nonce, exact EIP-712 typed data, stored); a signature is
accepted only for exactly that message, in the platform's current domain, before ``expiresAt``,
once (the nonce and the signature are then used), by an address that holds MAINTAINER on chain
at that moment. A critical command then waits for a MANAGER (another address) to sign the
``Approval`` of it. Reaching ``pending`` sets the machine's desired state to a new version and
publishes it retained on the machine's ``DCMD`` topic.

Refusals raise :class:`~dt_platform.twin.commands.CommandRefused`; a refusal about an issued
command is also an event of that command. Chain errors (``ChainUnavailable``) pass through
unrecorded: nothing was decided.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dt_platform.ingest.registry import Machine
from dt_platform.live import topics
from dt_platform.twin import typed_data as td
from dt_platform.twin.command_publish import publish_desired_state
from dt_platform.twin.command_store import (
    add_event,
    add_signature,
    iso,
    open_commands,
    require_row,
    signature_use,
    status_from_row,
    update_command,
)
from dt_platform.twin.commands import (
    APPROVER_ROLE,
    AWAITING_APPROVAL,
    DEFAULT_TTL_S,
    EXPIRED,
    ISSUED,
    ISSUER_ROLE,
    MAX_TTL_S,
    PENDING,
    CommandRefused,
    CommandStatus,
    DesiredPublisher,
    Draft,
    RoleReader,
    action_value,
    changes_for,
    check_transition,
    is_critical,
)
from dt_platform.twin.db import transaction
from dt_platform.twin.limits_store import AUTONOMOUS_ROLE, SignedLimits, check_autonomous
from dt_platform.twin.state import desired, reported, set_desired

__all__ = [
    "approval_request",
    "approve",
    "issue_draft",
    "submit_signature",
]


def _unix(now: datetime) -> int:
    iso(now)  # refuses naive times
    return int(now.timestamp())


def issue_draft(
    con: sqlite3.Connection,
    registry: Sequence[Machine],
    machine_id: str,
    action: str,
    *,
    domain: td.Domain,
    now: datetime,
    percent: float | None = None,
    ttl_s: int = DEFAULT_TTL_S,
) -> Draft:
    """Issue (and store) the typed data of a new command for ``machine_id``.

    ``registry`` is the machine registry (``load_registry``): the machine must be in it, and its
    gateway (else the one it last reported through) is where the desired state goes.
    """
    open_commands(con)
    machine = next((m for m in registry if m.machine_id == machine_id), None)
    if machine is None:
        raise CommandRefused("unknown_machine", f"{machine_id!r} is not in the machine registry")
    rep = reported(con, machine_id)
    gateway = machine.gateway or (rep.gateway if rep else None)
    if not gateway or not topics.valid_id(gateway):
        raise CommandRefused(
            "unknown_machine",
            f"{machine_id} has no usable gateway: set `gateway:` in machines.yaml",
        )
    value = action_value(action, percent)
    if not 60 <= int(ttl_s) <= MAX_TTL_S:
        raise CommandRefused("bad_action", f"a command lives 60 s to {MAX_TTL_S} s, not {ttl_s}")
    command_id = "0x" + secrets.token_bytes(32).hex()
    issued_at = _unix(now)
    critical = is_critical(action, value, rep.mode if rep else None)
    message = {
        "commandId": command_id,
        "machineId": machine_id,
        "action": action,
        "value": value,
        "issuedAt": issued_at,
        "expiresAt": issued_at + int(ttl_s),
        "critical": critical,
    }
    typed = td.command_typed_data(domain, message)
    draft = Draft(
        command_id, machine_id, action, value, critical, issued_at, issued_at + int(ttl_s),
        typed, td.digest(typed),
    )  # fmt: skip
    at = iso(now)
    with transaction(con):
        con.execute(
            """INSERT INTO commands (command_id, machine_id, gateway, action, value, changes,
                   critical, issued_at, expires_at, typed_data, digest, state, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                command_id, machine_id, gateway, action, value,
                json.dumps(changes_for(action, value, command_id), sort_keys=True),
                int(critical), issued_at, draft.expires_at, json.dumps(typed, sort_keys=True),
                draft.digest, ISSUED, at,
            ),
        )  # fmt: skip
        row = require_row(con, command_id)
        add_event(con, row, at, "issued", ISSUED, detail={"digest": draft.digest, **message})
    return draft


def _issued_typed_data(row: sqlite3.Row) -> dict[str, Any]:
    return json.loads(row["typed_data"])


def approval_request(con: sqlite3.Connection, command_id: str) -> dict[str, Any]:
    """The ``Approval`` typed data a MANAGER signs for a command awaiting approval."""
    row = require_row(con, command_id)
    if row["state"] != AWAITING_APPROVAL:
        raise CommandRefused(
            "not_awaiting_approval", f"command {row['command_id']} is {row['state']}"
        )
    return _approval_typed_data(row)


def _approval_typed_data(row: sqlite3.Row) -> dict[str, Any]:
    issued = _issued_typed_data(row)
    domain = issued["domain"]
    return td.approval_typed_data(
        td.Domain(int(domain["chainId"]), domain["verifyingContract"]),
        {
            "commandId": row["command_id"],
            "commandDigest": row["digest"],
            "issuer": row["issuer"],
            "machineId": row["machine_id"],
            "action": row["action"],
            "value": int(row["value"]),
            "expiresAt": int(row["expires_at"]),
        },
    )


def _check_signed(
    expected: dict[str, Any],
    domain: td.Domain,
    signature: str | bytes,
    signer: str | None,
    typed_data: Any,
) -> tuple[str, str]:
    """Check a signature over ``expected``: parsed, the right domain, the same message as the
    one handed back (if it is), and by ``signer`` if given. Returns (signature hex, signer)."""
    try:
        raw = td.parse_signature(signature)
        if expected["domain"] != domain.to_json():
            raise CommandRefused(
                "wrong_domain",
                f"issued for {expected['domain']}, but the platform now signs in "
                f"{domain.to_json()}: issue the command again",
            )
        if typed_data is not None:
            given = td.signable(td.parse_typed_data(typed_data))
            wanted = td.signable(expected)
            if given.header != wanted.header:
                raise CommandRefused(
                    "wrong_domain",
                    "the typed data was signed for another chain id, contract, name or version",
                )
            if given.body != wanted.body:
                raise CommandRefused("not_issued", "the signed message is not the one issued")
        recovered = td.recover_signer(expected, raw)
        if signer is not None and recovered.lower() != signer.strip().lower():
            raise CommandRefused(
                "bad_signature",
                f"the signature is not by {signer} over this message (it recovers {recovered})",
            )
        td.refuse_dev_key(recovered, domain.chain_id)
    except td.TypedDataError as exc:
        raise CommandRefused(exc.reason, exc.detail) from None
    return "0x" + raw.hex(), recovered


def _refused(con: sqlite3.Connection, row: sqlite3.Row, at: str, exc: CommandRefused) -> None:
    state = row["state"]
    with transaction(con):
        if exc.reason_code == "expired" and state in (ISSUED, AWAITING_APPROVAL):
            update_command(con, row["command_id"], at, state=EXPIRED, reason="expired")
            state = EXPIRED
        add_event(
            con, row, at, "refused", state, reason=exc.reason_code,
            detail={"detail": exc.detail}, capped=True,
        )  # fmt: skip


def _guarded(con: sqlite3.Connection, row: sqlite3.Row, at: str, check: Callable[[], Any]) -> Any:
    try:
        return check()
    except CommandRefused as exc:
        _refused(con, row, at, exc)
        raise


def _check_fresh(row: sqlite3.Row, signature: str, con: sqlite3.Connection, now: datetime) -> None:
    used = signature_use(con, signature)
    if used is not None:
        raise CommandRefused(
            "replayed",
            f"this signature was already used ({used['purpose']} of {used['command_id']})",
        )
    if _unix(now) >= int(row["expires_at"]):
        raise CommandRefused("expired", f"command {row['command_id']} expired")


def _make_pending(con: sqlite3.Connection, row: sqlite3.Row, at: str) -> None:
    """Inside a transaction: the machine's desired state gets the command's changes."""
    check_transition(row["command_id"], row["state"], PENDING)
    before = desired(con, row["machine_id"])
    new = set_desired(con, row["machine_id"], json.loads(row["changes"]), row["command_id"], at)
    update_command(
        con, row["command_id"], at, state=PENDING, version=new.version,
        prev_settings=json.dumps(before.settings if before else None, sort_keys=True),
    )  # fmt: skip
    add_event(
        con, row, at, "pending", PENDING, detail={"version": new.version, "desired": new.settings}
    )


def submit_signature(
    con: sqlite3.Connection,
    command_id: str,
    signature: str | bytes,
    *,
    roles: RoleReader,
    publisher: DesiredPublisher | None,
    domain: td.Domain,
    now: datetime,
    signer: str | None = None,
    typed_data: Any = None,
    limits: SignedLimits | None = None,
    in_customer_order: bool = False,
) -> CommandStatus:
    """Accept a MAINTAINER's signature of an issued draft; see the module docstring.

    ``domain`` is the platform's current one (``command_domain(chain)``); ``signer`` the address
    the client claims (refused if the signature is not its); ``typed_data`` what the wallet was
    given, if the client hands it back (a different domain or message is named as such).

    Autonomous commands pass ``limits``: the signer must then hold OPERATOR (the platform's own
    key) and the MANAGER's signed limits must cover the command now
    (:func:`~dt_platform.twin.limits_store.check_autonomous`); their signer stands as the approval
    of a critical one.
    """
    open_commands(con)
    at = iso(now)
    row = require_row(con, command_id)
    standing: list[str] = []

    def check() -> tuple[str, str]:
        if row["state"] == EXPIRED:
            raise CommandRefused("expired", f"command {row['command_id']} expired")
        if row["state"] != ISSUED:
            raise CommandRefused(
                "replayed", f"command {row['command_id']} was signed already (its nonce is used)"
            )
        sig, who = _check_signed(_issued_typed_data(row), domain, signature, signer, typed_data)
        _check_fresh(row, sig, con, now)
        if limits is not None:
            rep = reported(con, row["machine_id"])
            standing.append(check_autonomous(
                con, limits, row, who, roles=roles, domain=domain, now=now,
                mode=rep.mode if rep else None, in_customer_order=in_customer_order,
            ))  # fmt: skip
        elif not roles.has_role(ISSUER_ROLE, who):
            raise CommandRefused("role_missing", f"{who} does not hold {ISSUER_ROLE} on chain")
        return sig, who

    sig, who = _guarded(con, row, at, check)
    rep = reported(con, row["machine_id"])
    critical = not standing and (
        bool(row["critical"])
        or is_critical(row["action"], int(row["value"]), rep.mode if rep else None)
    )
    with transaction(con):
        row = require_row(con, command_id)
        if row["state"] != ISSUED or signature_use(con, sig) is not None:
            raise CommandRefused("replayed", f"command {row['command_id']} was signed meanwhile")
        add_signature(con, sig, row["command_id"], "command", who, at)
        next_state = AWAITING_APPROVAL if critical else PENDING
        update_command(con, row["command_id"], at, issuer=who, critical=int(critical))
        add_event(
            con, row, at, "signed", AWAITING_APPROVAL if critical else ISSUED, actor=who,
            role=AUTONOMOUS_ROLE if standing else ISSUER_ROLE, signature=sig,
            detail={"critical": critical}
            | ({"limits_id": limits.limits_id, "limits_signer": standing[0]} if standing else {}),
        )  # fmt: skip
        if standing:
            update_command(con, row["command_id"], at, approver=standing[0])
        if critical:
            check_transition(row["command_id"], ISSUED, AWAITING_APPROVAL)
            update_command(con, row["command_id"], at, state=AWAITING_APPROVAL)
        else:
            _make_pending(con, require_row(con, command_id), at)
    if next_state == PENDING and publisher is not None:
        publish_desired_state(con, row["machine_id"], publisher, now)
    return status_from_row(require_row(con, command_id))


def approve(
    con: sqlite3.Connection,
    command_id: str,
    signature: str | bytes,
    *,
    roles: RoleReader,
    publisher: DesiredPublisher | None,
    domain: td.Domain,
    now: datetime,
    signer: str | None = None,
    typed_data: Any = None,
) -> CommandStatus:
    """Accept a MANAGER's signature of the ``Approval`` (see :func:`approval_request`) of a
    critical command: by another address than the issuer's, and while the issuer still holds
    MAINTAINER. The command then becomes ``pending`` and is published."""
    open_commands(con)
    at = iso(now)
    row = require_row(con, command_id)

    def check() -> tuple[str, str]:
        if row["state"] == EXPIRED:
            raise CommandRefused("expired", f"command {row['command_id']} expired")
        if row["state"] != AWAITING_APPROVAL:
            code = "replayed" if row["approver"] else "not_awaiting_approval"
            raise CommandRefused(code, f"command {row['command_id']} is {row['state']}")
        expected = _approval_typed_data(row)
        sig, who = _check_signed(expected, domain, signature, signer, typed_data)
        _check_fresh(row, sig, con, now)
        if who.lower() == str(row["issuer"]).lower():
            raise CommandRefused("same_signer", f"{who} signed the command; another must approve")
        if not roles.has_role(APPROVER_ROLE, who):
            raise CommandRefused("role_missing", f"{who} does not hold {APPROVER_ROLE} on chain")
        if not roles.has_role(ISSUER_ROLE, row["issuer"]):
            raise CommandRefused(
                "role_missing", f"the issuer {row['issuer']} no longer holds {ISSUER_ROLE}"
            )
        return sig, who

    sig, who = _guarded(con, row, at, check)
    with transaction(con):
        row = require_row(con, command_id)
        if row["state"] != AWAITING_APPROVAL or signature_use(con, sig) is not None:
            raise CommandRefused("replayed", f"command {row['command_id']} was approved meanwhile")
        add_signature(con, sig, row["command_id"], "approval", who, at)
        update_command(con, row["command_id"], at, approver=who)
        add_event(
            con, row, at, "approved", AWAITING_APPROVAL, actor=who, role=APPROVER_ROLE,
            signature=sig,
        )  # fmt: skip
        _make_pending(con, require_row(con, command_id), at)
    if publisher is not None:
        publish_desired_state(con, row["machine_id"], publisher, now)
    return status_from_row(require_row(con, command_id))
