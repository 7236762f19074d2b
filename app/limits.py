"""Who a sign-in request comes from, and how often each client may ask.

A *client* is the network address a request arrives from (``st.context.ip_address`` on the
websocket, ``request.client.host`` on the dashboard's own HTTP routes): an IPv4 address, or
the /64 network of an IPv6 address (one subscriber usually holds a whole /64, so counting
single IPv6 addresses would let one machine pose as billions of clients). Loopback is one
client, ``local``. Behind a reverse proxy on the same host, uvicorn takes the address from
``X-Forwarded-For`` (it trusts that header from loopback only, see ``FORWARDED_ALLOW_IPS``).

Limits are kept per client so that a flood from one client costs that client only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from collections.abc import Callable

__all__ = ["LOCAL", "RateLimit", "client_key"]

LOCAL = "local"

Clock = Callable[[], dt.datetime]


def client_key(ip: str | None) -> str:
    """The key a client's limits are counted under (see the module docstring)."""
    if not ip:
        return LOCAL
    try:
        addr = ipaddress.ip_address(ip.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return f"other:{ip[:64]}"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return LOCAL
    if isinstance(addr, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{addr}/64", strict=False))
    return str(addr)


class RateLimit:
    """A token bucket per key: ``burst`` requests at once, then one every ``every`` (thread-safe).

    Keys whose bucket is full again are forgotten, so memory follows the keys active within
    about ``burst * every``.
    """

    def __init__(self, burst: int, every: dt.timedelta, clock: Clock) -> None:
        if burst < 1 or every <= dt.timedelta(0):
            raise ValueError("a rate limit needs a burst of at least 1 and a positive interval")
        self.burst = burst
        self.every = every
        self._clock = clock
        self._buckets: dict[str, tuple[float, dt.datetime]] = {}
        self._lock = threading.Lock()
        self._purge_at = 10_000

    def _level(self, key: str, now: dt.datetime) -> float:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        refill = max((now - at) / self.every, 0.0)
        return min(float(self.burst), tokens + refill)

    def allow(self, key: str) -> bool:
        """Take one token for ``key``; ``False`` (and nothing taken) when its bucket is empty."""
        now = self._clock()
        with self._lock:
            if len(self._buckets) > self._purge_at:  # amortised: the sweep is O(keys)
                self._forget_full(now)
                self._purge_at = max(10_000, 2 * len(self._buckets))
            tokens = self._level(key, now)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True

    def _forget_full(self, now: dt.datetime) -> None:
        for key in [k for k in self._buckets if self._level(k, now) >= self.burst]:
            del self._buckets[key]
