"""Resources shared by the asset domains: where the platform's state lives and how to reach it."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from dt_platform.config import Settings, load_settings
from dt_platform.warehouse import Warehouse


class PlatformResource(dg.ConfigurableResource):
    """The platform's settings (``DT_HOME`` and the service endpoints) and the warehouse.

    Fields mirror the ``DT_*`` environment variables; an empty string means "the default"
    (local anvil, embedded IPFS store), as in :func:`dt_platform.config.load_settings`.
    """

    home: str
    chain_rpc: str = ""
    chain_port: int = 0
    ipfs_api: str = ""
    registry: str = ""

    @property
    def settings(self) -> Settings:
        base = load_settings(self.home)
        return Settings(
            home=base.home,
            chain_rpc=self.chain_rpc or None,
            chain_key=base.chain_key,
            chain_port=self.chain_port or base.chain_port,
            ipfs_api=self.ipfs_api or None,
            registry_path=Path(self.registry).resolve() if self.registry else base.registry_path,
        )

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings.warehouse_path)


def _env_or_default(name: str, default: str) -> str | dg.EnvVar:
    # EnvVar shows the binding in the Dagster UI; it cannot express "unset means default".
    return dg.EnvVar(name) if os.environ.get(name) else default


def platform_resource() -> PlatformResource:
    return PlatformResource(
        home=_env_or_default("DT_HOME", str(load_settings().home)),
        chain_rpc=_env_or_default("DT_CHAIN_RPC", ""),
        chain_port=int(os.environ.get("DT_CHAIN_PORT") or 0),
        ipfs_api=_env_or_default("DT_IPFS_API", ""),
        registry=_env_or_default("DT_REGISTRY", ""),
    )
