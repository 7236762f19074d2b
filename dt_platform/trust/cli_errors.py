"""How the trust-layer commands report failures: one line on stderr and an exit code a script
can act on — 1 when a service refused or the data does not match, 3 when a service (chain,
warehouse) is unreachable or busy and the command may simply be retried later."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click

from dt_platform.config import load_settings
from dt_platform.trust.anvil import AnvilError
from dt_platform.trust.chain import ChainError, ChainUnavailable
from dt_platform.warehouse import WarehouseBusy, WarehouseUnreadable

EXIT_MISMATCH = 1
EXIT_UNAVAILABLE = 3


class ServiceUnavailable(click.ClickException):
    exit_code = EXIT_UNAVAILABLE


@contextmanager
def service_errors(*refusals: type[Exception]) -> Iterator[None]:
    """Turn chain, anvil and warehouse errors (and any ``refusals``) into one-line messages."""
    try:
        yield
    except ChainUnavailable as exc:
        hint = ""
        if load_settings().chain_rpc is None:
            hint = " (is the local chain running? start it with `dt-platform chain up`)"
        raise ServiceUnavailable(f"{exc}{hint}") from exc
    except WarehouseBusy as exc:
        raise ServiceUnavailable(str(exc)) from exc
    except (ChainError, AnvilError, WarehouseUnreadable, *refusals) as exc:
        raise click.ClickException(str(exc)) from exc


def with_service_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of :func:`service_errors` for click commands."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with service_errors():
            return fn(*args, **kwargs)

    return wrapper
