"""Which store a configuration means: Kubo when ``DT_IPFS_API`` is set, else the embedded one."""

from __future__ import annotations

from dt_platform.config import Settings
from dt_platform.trust.ipfs.backends.embedded import EmbeddedIpfs
from dt_platform.trust.ipfs.backends.kubo import KuboIpfs


def open_ipfs(settings: Settings) -> EmbeddedIpfs | KuboIpfs:
    """Kubo when ``settings.ipfs_api`` (``DT_IPFS_API``) is set, else the embedded store."""
    if settings.ipfs_api:
        return KuboIpfs(settings.ipfs_api)
    return EmbeddedIpfs(settings.ipfs_dir)
