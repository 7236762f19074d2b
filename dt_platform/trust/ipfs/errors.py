"""Exceptions shared by both IPFS backends, so callers catch one family whatever the store."""

from __future__ import annotations

__all__ = ["IpfsError", "IpfsNotFound", "IpfsUnavailable"]


class IpfsError(Exception):
    """An IPFS operation failed; the message says what to do about it."""


class IpfsUnavailable(IpfsError):
    """The Kubo RPC endpoint cannot be reached (refused, timed out, dropped).

    Transient by nature: the platform queues the publication and retries later.
    """


class IpfsNotFound(IpfsError, KeyError):
    """A CID, block or path is not available."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""
