"""Chain errors a user can act on, and the decoding of contract reverts into sentences.

Two exception types matter to callers:

* :class:`ChainUnavailable`: the RPC endpoint could not be reached (connection refused, timeout,
  5xx, or a sent transaction not mined in time). Nothing was decided on-chain: keep the work
  pending and retry later.
* :class:`ChainError` (its base): the chain answered and said no (a revert, a wrong chain, a
  code-hash mismatch, a refused key). Retrying the same call will not help.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    ProviderConnectionError,
    TimeExhausted,
    TooManyRequests,
    Web3RPCError,
)

__all__ = [
    "MAX_GRANT_DAYS",
    "ROLE_IDS",
    "ROLE_WHO",
    "ChainError",
    "ChainUnavailable",
    "ErrorDecoder",
    "role_id",
    "role_name",
]

ADMIN_ROLE_ID = b"\x00" * 32
ROLE_IDS: dict[str, bytes] = {"ADMIN": ADMIN_ROLE_ID} | {
    name: keccak(text=f"{name}_ROLE")
    for name in ("OPERATOR", "MANAGER", "QC", "MAINTAINER", "AUDITOR", "SUPPLIER")
}
"""Platform roles by short name; ADMIN is OpenZeppelin's DEFAULT_ADMIN_ROLE (0x00)."""

MAX_GRANT_DAYS = 366
"""DataGrants.MAX_GRANT_DURATION in days: the longest a data-sharing grant may run."""

ROLE_WHO: dict[str, str] = {
    "ADMIN": "an administrator",
    "OPERATOR": "the pipeline publisher",
    "MANAGER": "a manager",
    "QC": "quality-control staff",
    "MAINTAINER": "a maintainer",
    "AUDITOR": "an auditor",
    "SUPPLIER": "a supplier",
}


def role_id(name: str) -> bytes:
    """The bytes32 id of a role given as ``OPERATOR``, ``operator`` or ``OPERATOR_ROLE``."""
    key = name.strip().upper().removesuffix("_ROLE")
    if key == "DEFAULT_ADMIN":
        key = "ADMIN"
    if key not in ROLE_IDS:
        raise ChainError(f"unknown role {name!r}: use one of {', '.join(ROLE_IDS)}")
    return ROLE_IDS[key]


def role_name(role: bytes) -> str:
    """``OPERATOR_ROLE`` for the OPERATOR id, ``ADMIN (DEFAULT_ADMIN_ROLE)`` for 0x00."""
    for name, rid in ROLE_IDS.items():
        if rid == bytes(role):
            return "ADMIN (DEFAULT_ADMIN_ROLE)" if name == "ADMIN" else f"{name}_ROLE"
    return "0x" + bytes(role).hex()


def _short_role(role: bytes) -> str | None:
    return next((n for n, rid in ROLE_IDS.items() if rid == bytes(role)), None)


class ChainError(Exception):
    """The chain answered but the operation cannot succeed as asked; the message says why.

    ``error_name`` / ``error_args`` hold the decoded custom error when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        error_name: str | None = None,
        error_args: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_name = error_name
        self.error_args = dict(error_args or {})


class ChainUnavailable(ChainError):
    """The RPC endpoint could not be reached (or did not mine in time): retry later.

    ``tx_hash`` is set when a transaction was sent but its receipt did not arrive in time; it may
    still be mined, so look it up before sending the same change again.
    """

    def __init__(self, message: str, *, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return repr(value) if isinstance(value, str) else str(value)


def _utc(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"unix time {seconds}"


HANDOVER_HOW = (
    "there is exactly one ADMIN, handed over in two steps: the ADMIN runs `dt-platform roles "
    "admin handover ADDRESS`, and after the delay the new ADMIN runs `dt-platform roles admin "
    "accept`"
)


def _governance_sentence(name: str, a: Mapping[str, Any], action: str) -> str | None:
    """Sentences for RoleHub's errors (OpenZeppelin's access control and default-admin rules)."""
    match name:
        case "AccessControlUnauthorizedAccount":
            role = a["neededRole"]
            who = ROLE_WHO.get(_short_role(role) or "", "holders of that role")
            account = to_checksum_address(a["account"])
            return f"{account} lacks {role_name(role)}: only {who} may {action}"
        case "AccessControlBadConfirmation":
            return "an account can only renounce its own roles"
        case "AccessControlEnforcedDefaultAdminRules":
            return f"cannot {action}: ADMIN is never granted or revoked directly; {HANDOVER_HOW}"
        case "AccessControlEnforcedDefaultAdminDelay":
            if a["schedule"] == 0:
                return f"cannot {action}: no ADMIN handover is pending"
            return (
                f"cannot {action}: the ADMIN handover may be accepted only after "
                f"{_utc(a['schedule'])} (the handover delay has not passed)"
            )
        case "AccessControlInvalidDefaultAdmin":
            account = to_checksum_address(a["defaultAdmin"])
            if int(account, 16) == 0:
                return "the zero address cannot be the ADMIN"
            return (
                f"cannot {action}: {account} is not the pending ADMIN; only the account the "
                "handover names may accept it"
            )
        case "LastAdmin":
            return (
                f"cannot {action}: the platform must always have an ADMIN, so ADMIN cannot be "
                "renounced or handed to the zero address; hand it over to another account"
            )
        case "NotARoleHub":
            return f"{to_checksum_address(a['hub'])} is not a role hub (IAccessControl)"
    return None


def _anchor_sentence(name: str, a: Mapping[str, Any]) -> str | None:
    """Sentences for AuditAnchors' errors."""
    match name:
        case "ReasonRequired":
            return (
                f"partition {a['partition']!r} is already anchored (version "
                f"{a['latestVersion']}): a new version needs a non-empty reason"
            )
        case "BlankReason":
            return (
                f"partition {a['partition']!r} is already anchored (version "
                f"{a['latestVersion']}): a new version needs a reason, and the one given is "
                "blank (only spaces or invisible characters)"
            )
        case "DuplicateAnchor":
            return (
                f"partition {a['partition']!r} version {a['latestVersion']} already anchors this "
                "root and CID: nothing to correct"
            )
        case "UnknownAnchor":
            if a["version"] == 0:
                return f"partition {a['partition']!r} has never been anchored"
            return f"partition {a['partition']!r} has no anchored version {a['version']}"
        case "EmptyPartition":
            return "the partition key is empty"
        case "EmptyRoot":
            return "the Merkle root is zero"
        case "EmptyCid":
            return "the snapshot CID is empty"
        case "ZeroRecords":
            return "a partition without records has no Merkle root to anchor"
        case "TooLong":
            return (
                f"the {a['field']} is {a['length']} bytes long; the contract accepts at most "
                f"{a['maxLength']}"
            )
    return None


def _registry_sentence(name: str, a: Mapping[str, Any]) -> str | None:
    """Sentences for TwinRegistry's and DataGrants' errors."""
    match name:
        case "TwinAlreadyRegistered":
            return f"twin {a['twinId']!r} is already registered: update it instead"
        case "UnknownTwin":
            return f"no twin {a['twinId']!r} is registered"
        case "InvalidMaturity":
            return (
                f"maturity {a['maturity']} is invalid: use 1 (digital model), 2 (digital shadow), "
                "3 (digital twin) or 4 (intelligent twin)"
            )
        case "EmptyField":
            return f"{a['field']} must not be empty"
        case "EmptyDataset":
            return "the dataset id is empty"
        case "ZeroGrantee":
            return "the grantee is the zero address"
        case "ExpiryNotInFuture":
            return (
                f"expiry {_utc(a['expiresAt'])} is not after the current block time "
                f"{_utc(a['blockTime'])}: "
                "choose a future expiry"
            )
        case "ExpiryTooLate":
            return (
                f"expiry {_utc(a['expiresAt'])} is too far ahead: a grant runs at most "
                f"{MAX_GRANT_DAYS} days, so its expiry may be {_utc(a['latestAllowed'])} at the "
                "latest; renew the grant before it ends instead"
            )
        case "NoSuchGrant":
            grantee = to_checksum_address(a["grantee"])
            return f"{grantee} holds no grant on dataset {a['dataset']!r}"
    return None


def _sentence(name: str, args: Mapping[str, Any], action: str) -> str:
    """A readable sentence for each of our custom errors and OpenZeppelin's."""
    sentence = (
        _governance_sentence(name, args, action)
        or _anchor_sentence(name, args)
        or _registry_sentence(name, args)
    )
    if sentence is not None:
        return sentence
    rendered = ", ".join(f"{k}={_fmt(v)}" for k, v in args.items())
    return f"{name}({rendered})"


class ErrorDecoder:
    """Maps revert data (selector + ABI-encoded args) to the custom error it encodes."""

    def __init__(self, abis: Sequence[Sequence[Mapping[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [i["type"] for i in item["inputs"]]
                names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self._errors[selector] = (item["name"], types, names)

    def decode(self, data: str | bytes) -> tuple[str, dict[str, Any]] | None:
        raw = (
            bytes.fromhex(data[2:] if data.startswith("0x") else data)
            if isinstance(data, str)
            else data
        )
        entry = self._errors.get(raw[:4])
        if entry is None:
            return None
        name, types, names = entry
        try:
            values = abi_decode(types, raw[4:])
        except Exception:  # malformed revert data: report it raw below
            return None
        return name, dict(zip(names, values, strict=True))

    def error(self, data: str | bytes, action: str) -> ChainError:
        """A :class:`ChainError` for revert ``data`` raised while trying to ``action``."""
        decoded = self.decode(data)
        if decoded is None:
            shown = data if isinstance(data, str) else "0x" + data.hex()
            return ChainError(f"cannot {action}: the contract reverted with unknown error {shown}")
        name, args = decoded
        return ChainError(_sentence(name, args, action), error_name=name, error_args=args)

    @contextlib.contextmanager
    def guard(self, action: str, rpc_url: str) -> Iterator[None]:
        """Translate web3 / transport exceptions raised inside the block into Chain* errors."""
        try:
            yield
        except ContractCustomError as exc:
            data = exc.data if isinstance(exc.data, str) else None
            if data is None:
                raise ChainError(f"cannot {action}: the contract reverted ({exc})") from exc
            raise self.error(data, action) from exc
        except ContractPanicError as exc:
            raise ChainError(f"cannot {action}: the contract panicked ({exc.message})") from exc
        except ContractLogicError as exc:
            raise ChainError(f"cannot {action}: {exc.message or 'execution reverted'}") from exc
        except TimeExhausted as exc:
            raise ChainUnavailable(
                f"cannot {action}: the transaction was sent to {rpc_url} but not mined in time; "
                f"it may still be mined ({exc})"
            ) from exc
        except (
            requests.ConnectionError,
            requests.Timeout,
            ConnectionError,
            TimeoutError,
            ProviderConnectionError,
            TooManyRequests,
        ) as exc:
            raise ChainUnavailable(
                f"cannot {action}: the chain RPC at {rpc_url} is unreachable "
                f"({type(exc).__name__}); keep the work pending and retry later"
            ) from exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status is None or status >= 500 or status == 429:
                raise ChainUnavailable(
                    f"cannot {action}: the chain RPC at {rpc_url} answered HTTP {status}; "
                    "retry later"
                ) from exc
            raise ChainError(
                f"cannot {action}: the chain RPC at {rpc_url} refused the request (HTTP "
                f"{status}): check DT_CHAIN_RPC"
            ) from exc
        except Web3RPCError as exc:
            raise ChainError(f"cannot {action}: the node answered: {exc.message}") from exc
