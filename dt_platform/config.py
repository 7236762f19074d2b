"""Where the platform keeps its state and which services it talks to, read from the environment.

Every setting has a default that works on a fresh clone (a local anvil chain and the embedded
IPFS store under ``DT_HOME``); the environment points the platform at real infrastructure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LOCAL_CHAIN_ID = 31337
DEFAULT_CHAIN_PORT = 8545
DEFAULT_IPFS_PORT = 5001


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with :func:`load_settings`; tests build it directly."""

    home: Path
    chain_rpc: str | None = None
    """JSON-RPC URL of the chain. ``None`` means the local anvil started by ``dt-platform chain up``."""
    chain_key: str | None = None
    """Private key of the pipeline publisher (OPERATOR). ``None`` on the local chain means anvil's dev key."""
    chain_port: int = DEFAULT_CHAIN_PORT
    ipfs_api: str | None = None
    """Kubo RPC endpoint (multiaddr or URL). ``None`` means the embedded store under ``home/ipfs``."""
    registry_path: Path | None = None
    """The machine registry (the digital model). ``None`` means ``home/machines.yaml``."""

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def ground_truth_dir(self) -> Path:
        """Simulator ground truth, for evaluation only: the platform never reads it."""
        return self.home / "ground_truth"

    @property
    def machine_registry_path(self) -> Path:
        return self.registry_path or self.home / "machines.yaml"

    @property
    def ipfs_dir(self) -> Path:
        return self.home / "ipfs"

    @property
    def chain_dir(self) -> Path:
        return self.home / "chain"

    @property
    def deployment_path(self) -> Path:
        return self.home / "deployment.json"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def local_chain_rpc(self) -> str:
        return f"http://127.0.0.1:{self.chain_port}"

    @property
    def effective_chain_rpc(self) -> str:
        return self.chain_rpc or self.local_chain_rpc


def load_settings(home: str | os.PathLike[str] | None = None) -> Settings:
    """Read settings from ``DT_*`` environment variables (see README "Configuration")."""
    home_path = Path(home or _env("DT_HOME") or ".dt_home").expanduser().resolve()
    registry = _env("DT_REGISTRY")
    return Settings(
        home=home_path,
        chain_rpc=_env("DT_CHAIN_RPC"),
        chain_key=_env("DT_CHAIN_KEY"),
        chain_port=int(_env("DT_CHAIN_PORT") or DEFAULT_CHAIN_PORT),
        ipfs_api=_env("DT_IPFS_API"),
        registry_path=Path(registry).expanduser().resolve() if registry else None,
    )
