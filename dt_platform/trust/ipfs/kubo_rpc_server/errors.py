"""The error for a request the client must fix."""

from __future__ import annotations

from dt_platform.trust.ipfs.errors import IpfsError


class ClientError(IpfsError):
    """The request itself is wrong (Kubo answers these with HTTP 400, Code 1)."""
