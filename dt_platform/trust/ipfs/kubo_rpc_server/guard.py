"""Who may talk to the RPC API: the ``Host`` and ``Origin`` checks, and the warning when it is
bound beyond loopback.

The RPC API is an admin interface (it pins, adds and reads content), so like Kubo it refuses
browser requests from pages it does not trust: a request whose ``Origin`` (or ``Referer``) is
present and not an allowed origin gets ``403 - Forbidden``. By default the allowed origins are
the API's own (``http(s)://127.0.0.1:PORT``, ``localhost``, ``[::1]``), as Kubo's are. It also
refuses a ``Host`` that is not one of the API's own addresses: a page on ``evil.example`` whose
name an attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin with the API in the
browser's eyes, but its requests still say ``Host: evil.example:PORT``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["FORBIDDEN", "AccessGuard", "exposure_warning", "is_loopback"]

FORBIDDEN = b"403 - Forbidden"
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the API on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The warning to print when the API is bound beyond loopback (``None`` when it is not)."""
    if is_loopback(host):
        return None
    where = "every network interface" if host in _WILDCARDS else f"{host}"
    return (
        f"WARNING: the Kubo RPC API is listening on {where} (port {port}). It is an admin "
        "interface with no authentication: anyone who can reach this port can add, pin and "
        "read content. Bind 127.0.0.1 (the default) and reach it through an SSH tunnel or an "
        "authenticating reverse proxy; allow browser pages with --allow-origin only if you "
        "trust them."
    )


def _name(host: str) -> str:
    """A host as it appears in a ``Host`` header (IPv6 in brackets), lower case."""
    host = host.strip().lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _own_names(host: str) -> set[str]:
    names = {_name(n) for n in _LOOPBACK_NAMES}
    if host in _WILDCARDS:  # every interface: the names this machine answers to
        names |= {_name(socket.gethostname()), _name(socket.getfqdn())}
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None)
        except OSError:
            infos = []
        names |= {_name(str(info[4][0])) for info in infos}
    else:
        names.add(_name(host))
    return names


@dataclass(frozen=True)
class AccessGuard:
    """The ``Host`` values and browser origins the API answers."""

    hosts: frozenset[str]
    origins: frozenset[str]

    @classmethod
    def for_address(
        cls,
        host: str,
        port: int,
        *,
        allow_hosts: Iterable[str] = (),
        allow_origins: Iterable[str] = (),
    ) -> AccessGuard:
        names = _own_names(host) | {_name(h) for h in allow_hosts}
        hosts = {f"{n}:{port}" for n in names} | ({n for n in names} if port == 80 else set())
        origins = {
            f"{scheme}://{n}:{port}" for n in _own_names(host) for scheme in ("http", "https")
        }
        origins |= {o.strip().rstrip("/").lower() for o in allow_origins}
        return cls(frozenset(hosts), frozenset(origins))

    def _origin_allowed(self, origin: str) -> bool:
        return "*" in self.origins or origin.rstrip("/").lower() in self.origins

    def refusal(self, headers: Mapping[str, str]) -> str | None:
        """Why a request with these headers is refused, or ``None`` if it may go on."""
        host = (headers.get("Host") or "").strip().lower()
        if host not in self.hosts:
            return f"Host {host[:100]!r} is not this API's address (possible DNS rebinding)"
        origin = headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin):
            return f"origin {origin[:100]!r} is not allowed (possible CSRF)"
        referer = headers.get("Referer")
        if referer:
            parts = urlsplit(referer)
            if not self._origin_allowed(f"{parts.scheme}://{parts.netloc}"):
                return f"referer {referer[:100]!r} is not an allowed origin (possible CSRF)"
        return None
