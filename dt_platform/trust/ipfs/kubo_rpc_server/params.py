"""Query options of an RPC request, read the way Kubo reads them."""

from __future__ import annotations

from dt_platform.trust.ipfs.kubo_rpc_server.errors import ClientError


def flag(params: dict[str, str], name: str, default: bool) -> bool:
    """A boolean option (``1``, ``t``, ``true``, ``yes`` or empty are true); ``default`` if absent."""
    value = params.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in ("", "1", "t", "true", "yes"):
        return True
    if value in ("0", "f", "false", "no"):
        return False
    raise ClientError(f'option "{name}" must be a boolean, got {value!r}')


def arg(multi: dict[str, list[str]]) -> str:
    """The first ``arg`` of the query (Kubo's positional argument)."""
    values = multi.get("arg")
    if not values:
        raise ClientError('argument "arg" is required')
    return values[0]
