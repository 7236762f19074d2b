"""One resource per system the assets touch, so each asset declares what it uses and the Dagster
UI shows where it points:

* ``warehouse`` — the DuckDB file (one writer at a time, short read-only readers);
* ``landing`` — what gateways and people deliver: dumps, CMMS exports, the machine registry;
* ``models`` — the model store (bundles under their sha256);
* ``content_store`` — IPFS: the embedded store or a Kubo node, behind one interface;
* ``chain`` — Ethereum: the local anvil or any JSON-RPC node, behind one interface;
* ``twin_store`` — the twin's operational SQLite store (desired/reported state, commands,
  alarms, the webhook outbox).
* ``webhooks`` — where alarm notifications go and the key that signs them.
* ``reports`` — the folder of the daily reports (``DT_HOME/reports``);
* ``mail`` — the SMTP server and recipients of the daily report.

:func:`platform_resources` builds them from :class:`~dt_platform.config.Settings`, the one place
the environment is read; secrets are bound by variable name (``dg.EnvVar``), never by value.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from dt_platform.config import Settings
from dt_platform.report.mail import MailSettings, recipients_of
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.ipfs import EmbeddedIpfs, IpfsStore, KuboIpfs
from dt_platform.twin import db as twin_db
from dt_platform.twin.webhooks import webhook_targets
from dt_platform.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file."""

    path: str

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(Path(self.path))

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, holding the writer lock until the block ends."""
        with self.warehouse.write() as con:
            yield con

    @contextlib.contextmanager
    def read(self, *, timeout_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection (waits up to ``timeout_s`` while a writer holds the file)."""
        with self.warehouse.read(timeout_s=timeout_s) as con:
            yield con


class LandingResource(dg.ConfigurableResource):
    """Where gateways drop dumps (``<gateway>/``), CMMS exports (``cmms/``) arrive and people
    keep the machine registry (the digital model)."""

    folder: str
    registry: str

    @property
    def landing_dir(self) -> Path:
        return Path(self.folder)

    @property
    def registry_path(self) -> Path:
        return Path(self.registry)


class ContentStoreResource(dg.ConfigurableResource):
    """IPFS, where the day's snapshots are published. ``staging`` holds a snapshot on disk from
    the moment it is built until it is anchored (it survives an IPFS or chain outage)."""

    staging: str

    @property
    def staging_dir(self) -> Path:
        return Path(self.staging)

    def open(self) -> IpfsStore:
        raise NotImplementedError


class EmbeddedIpfsResource(ContentStoreResource):
    """The embedded content store under ``DT_HOME/ipfs`` (Kubo-identical CIDs)."""

    root: str

    def open(self) -> EmbeddedIpfs:
        return EmbeddedIpfs(Path(self.root))


class KuboIpfsResource(ContentStoreResource):
    """A Kubo node's RPC API (``DT_IPFS_API``)."""

    api: str

    def open(self) -> KuboIpfs:
        return KuboIpfs(self.api)


class ChainResource(dg.ConfigurableResource):
    """The chain the day's snapshots are anchored on. ``home`` holds ``deployment.json`` (which
    contracts to talk to); ``key`` signs as the pipeline's OPERATOR; ``confirmations`` is the
    depth at which the anchor reconciliation counts an anchor as confirmed."""

    home: str
    key: str | None = None
    confirmations: int = 12

    def settings(self) -> Settings:
        raise NotImplementedError

    def connect(self) -> AuditChain:
        """A client checked against the recorded deployment (chain id and code hashes)."""
        return AuditChain.connect(self.settings())


class LocalChainResource(ChainResource):
    """The local anvil node started by ``dt-platform chain up`` (anvil's dev key by default)."""

    port: int

    def settings(self) -> Settings:
        return Settings(home=Path(self.home), chain_port=self.port, chain_key=self.key)


class RpcChainResource(ChainResource):
    """Any Ethereum JSON-RPC node (``DT_CHAIN_RPC``); without a key the client is read-only."""

    url: str

    def settings(self) -> Settings:
        return Settings(home=Path(self.home), chain_rpc=self.url, chain_key=self.key)


class ModelStoreResource(dg.ConfigurableResource):
    """The folder of the RUL model bundles, each named by the sha256 of its bytes."""

    folder: str

    @property
    def models_dir(self) -> Path:
        return Path(self.folder)


class TwinStoreResource(dg.ConfigurableResource):
    """The twin store (SQLite, WAL): reported and desired state, commands and their events."""

    path: str

    def connect(self) -> sqlite3.Connection:
        return twin_db.connect(Path(self.path))


class WebhooksResource(dg.ConfigurableResource):
    """Where alarm notifications go (``DT_WEBHOOK_URLS``) and the key that signs them
    (``DT_WEBHOOK_SECRET``, bound by variable name)."""

    urls: str | None = None
    secret: str | None = None

    @property
    def targets(self) -> list[str]:
        return webhook_targets(self.urls)


class ReportsResource(dg.ConfigurableResource):
    """Where the daily reports are written, a folder per day (``DT_HOME/reports``)."""

    folder: str

    @property
    def reports_dir(self) -> Path:
        return Path(self.folder)


class MailResource(dg.ConfigurableResource):
    """The mail server the daily report goes through (``DT_SMTP_URL``, ``DT_SMTP_USER``,
    ``DT_SMTP_PASSWORD`` bound by variable name) and its recipients (``DT_REPORT_TO``)."""

    url: str | None = None
    user: str | None = None
    password: str | None = None
    sender: str = "dt-platform@localhost"
    recipients: str | None = None

    def settings(self) -> MailSettings | None:
        """``None`` when no server or no recipient is configured."""
        to = recipients_of(self.recipients)
        if not self.url or not to:
            return None
        return MailSettings(self.url, self.user, self.password, self.sender, to)


def _secret(settings: Settings, name: str, variable: str) -> str | dg.EnvVar | None:
    # A secret read from the environment is bound by name, so the UI shows the variable only.
    return dg.EnvVar(variable) if name in settings.from_environment else getattr(settings, name)


def platform_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources of one platform configuration (the code location, the demo and tests)."""
    home = str(settings.home)
    staging = str(settings.snapshots_dir)
    key = _secret(settings, "chain_key", "DT_CHAIN_KEY")
    depth = settings.anchor_confirmations
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "landing": LandingResource(
            folder=str(settings.landing_dir), registry=str(settings.machine_registry_path)
        ),
        "content_store": (
            KuboIpfsResource(staging=staging, api=settings.ipfs_api)
            if settings.ipfs_api
            else EmbeddedIpfsResource(staging=staging, root=str(settings.ipfs_dir))
        ),
        "chain": (
            RpcChainResource(home=home, url=settings.chain_rpc, key=key, confirmations=depth)
            if settings.chain_rpc
            else LocalChainResource(
                home=home, port=settings.chain_port, key=key, confirmations=depth
            )
        ),
        "models": ModelStoreResource(folder=str(settings.models_dir)),
        "twin_store": TwinStoreResource(path=str(settings.twin_db_path)),
        "webhooks": WebhooksResource(
            urls=settings.webhook_urls,
            secret=_secret(settings, "webhook_secret", "DT_WEBHOOK_SECRET"),
        ),
        "reports": ReportsResource(folder=str(settings.reports_dir)),
        "mail": MailResource(
            url=settings.smtp_url,
            user=settings.smtp_user,
            password=_secret(settings, "smtp_password", "DT_SMTP_PASSWORD"),
            sender=settings.report_from,
            recipients=settings.report_to,
        ),
    }
