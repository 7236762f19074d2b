"""Where the platform keeps its state and which services it talks to: the one place that reads
the environment.

Every setting has a default that works on a fresh clone (a local anvil chain and the embedded
IPFS store under ``DT_HOME``); ``DT_*`` environment variables point the platform at real
infrastructure. Each field of :class:`Settings` names its variable, default and meaning, and the
README's configuration table is generated from them (``dt-platform config --markdown``), so the
two cannot drift apart. :func:`load_settings` checks every value and reports all that are wrong
at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL_CHAIN_ID = 31337
DEFAULT_CHAIN_PORT = 8545
DEFAULT_IPFS_PORT = 5001
DEFAULT_DASHBOARD_URL = "http://localhost:8501"
DEFAULT_MQTT_PORT = 1884
"""Not 1883: a system Mosquitto started by the Debian package elsewhere keeps its port."""


class ConfigError(ValueError):
    """One or more ``DT_*`` variables hold a value the platform cannot use."""


def setting(
    env: str, value: Any = None, *, default: str, meaning: str, secret: bool = False
) -> Any:
    """A :class:`Settings` field read from ``env`` (``value`` when unset); ``default`` and
    ``meaning`` document it. A secret never shows in ``repr`` or in :func:`describe`."""
    metadata = {"env": env, "default": default, "meaning": meaning, "secret": secret}
    return field(default=value, metadata=metadata, repr=not secret)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with :func:`load_settings`; tests build it directly."""

    home: Path = setting(
        "DT_HOME",
        Path(".dt_home"),
        default="`./.dt_home`",
        meaning="all state: `warehouse.duckdb`, `twin.sqlite`, `landing/`, `models/`, `ipfs/`, "
        "`chain/`, `broker/`, `stream/`, `deployment.json`, `snapshots/`, `dagster/`, "
        "`dashboard/` (sessions), `reports/` (daily reports)",
    )
    registry_path: Path | None = setting(
        "DT_REGISTRY",
        default="`$DT_HOME/machines.yaml`",
        meaning="the machine registry (plus `machines.d/*.yaml` beside it)",
    )
    chain_rpc: str | None = setting(
        "DT_CHAIN_RPC",
        default="local anvil",
        meaning="any Ethereum JSON-RPC endpoint (http or https)",
    )
    """``None`` means the local anvil started by ``dt-platform chain up``."""
    chain_port: int = setting(
        "DT_CHAIN_PORT",
        DEFAULT_CHAIN_PORT,
        default=f"`{DEFAULT_CHAIN_PORT}`",
        meaning="port of the local anvil",
    )
    chain_key: str | None = setting(
        "DT_CHAIN_KEY",
        default="anvil dev key (local chain only)",
        meaning="private key of the pipeline publisher (OPERATOR); for `deploy`, the ADMIN",
        secret=True,
    )
    """``None`` on the local chain means anvil's dev key; elsewhere the client is read-only."""
    ipfs_api: str | None = setting(
        "DT_IPFS_API",
        default="embedded store in `$DT_HOME/ipfs`",
        meaning="a Kubo RPC endpoint, e.g. `/ip4/127.0.0.1/tcp/5001/http`",
    )
    partitions_start: dt.date = setting(
        "DT_PARTITIONS_START",
        dt.date(2026, 1, 1),
        default="`2026-01-01`",
        meaning="first daily partition",
    )
    freshness_hours: float = setting(
        "DT_FRESHNESS_HOURS",
        26.0,
        default="`26`",
        meaning="the landing freshness check warns beyond this age",
    )
    dashboard_url: str = setting(
        "DT_DASHBOARD_URL",
        DEFAULT_DASHBOARD_URL,
        default=f"`{DEFAULT_DASHBOARD_URL}` (the demo sets its port)",
        meaning="where users reach the dashboard: sign-in messages are bound to its scheme, "
        "host and port",
    )
    wallet_key: str | None = setting(
        "DT_WALLET_KEY",
        default="–",
        meaning="private key `dt-platform wallet sign-in` signs with (never passed on the "
        "command line)",
        secret=True,
    )
    anchor_confirmations: int = setting(
        "DT_ANCHOR_CONFIRMATIONS",
        12,
        default="`12`",
        meaning="blocks (the anchor's own included) before an anchor counts as confirmed; "
        "shallower ones are reported unconfirmed by the anchor reconciliation, not missing",
    )
    backfill_days: float = setting(
        "DT_BACKFILL_DAYS",
        7.0,
        default="`7`",
        meaning="readings may be stamped up to this many days before `DT_PARTITIONS_START`; "
        "earlier ones are rejected (`early_timestamp`)",
    )
    future_hours: float = setting(
        "DT_FUTURE_HOURS",
        24.0,
        default="`24`",
        meaning="readings may be stamped up to this many hours after the ingestion time; "
        "later ones are rejected (`future_timestamp`)",
    )
    max_dump_mb: float = setting(
        "DT_MAX_DUMP_MB",
        1024.0,
        default="`1024`",
        meaning="a landed dump larger than this is not read; it is quarantined (`file_too_large`)",
    )
    mqtt_url: str | None = setting(
        "DT_MQTT_URL",
        default="local Mosquitto started by `dt-platform broker up`",
        meaning="any MQTT broker, `mqtt://host:port` (or `mqtts://`); the platform's credentials "
        "in `DT_MQTT_USER` / `DT_MQTT_PASSWORD`",
    )
    """``None`` means the local broker under ``DT_HOME/broker`` (credentials generated there)."""
    mqtt_port: int = setting(
        "DT_MQTT_PORT",
        DEFAULT_MQTT_PORT,
        default=f"`{DEFAULT_MQTT_PORT}`",
        meaning="port of the local Mosquitto (127.0.0.1 only)",
    )
    mqtt_user: str | None = setting(
        "DT_MQTT_USER",
        default="`platform` (local broker)",
        meaning="the platform's user name on the broker of `DT_MQTT_URL`",
    )
    mqtt_password: str | None = setting(
        "DT_MQTT_PASSWORD",
        default="generated in `$DT_HOME/broker/` (local broker)",
        meaning="the platform's password on the broker of `DT_MQTT_URL`",
        secret=True,
    )
    mqtt_group: str = setting(
        "DT_MQTT_GROUP",
        "factory",
        default="`factory`",
        meaning="the Sparkplug group id of the live line's topics (`spBv1.0/<group>/…`)",
    )
    webhook_urls: str | None = setting(
        "DT_WEBHOOK_URLS",
        default="–",
        meaning="alarm notifications: comma-separated http(s) URLs that receive signed JSON",
    )
    webhook_secret: str | None = setting(
        "DT_WEBHOOK_SECRET",
        default="–",
        meaning="HMAC-SHA256 key that signs each webhook body (`X-DT-Signature`)",
        secret=True,
    )
    smtp_url: str | None = setting(
        "DT_SMTP_URL",
        default="– (reports are not mailed)",
        meaning="the mail server the daily report is sent through, `smtp://host:port` (STARTTLS "
        "when offered) or `smtps://host:port` (TLS)",
    )
    smtp_user: str | None = setting(
        "DT_SMTP_USER",
        default="–",
        meaning="user name on the mail server; the password then goes only over TLS (or to a "
        "server on loopback)",
    )
    smtp_password: str | None = setting(
        "DT_SMTP_PASSWORD",
        default="–",
        meaning="password on the mail server",
        secret=True,
    )
    report_from: str = setting(
        "DT_REPORT_FROM",
        "dt-platform@localhost",
        default="`dt-platform@localhost`",
        meaning="the sender address of the daily report",
    )
    report_to: str | None = setting(
        "DT_REPORT_TO",
        default="–",
        meaning="comma-separated addresses the daily report is mailed to each morning (each "
        "version once per address; an address added later gets the current version at the next "
        "run)",
    )
    from_environment: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    """Names of the fields :func:`load_settings` read from the environment (so the Dagster
    resources can bind secrets by variable name instead of by value)."""

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
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def broker_dir(self) -> Path:
        """The local Mosquitto's config, password file, ACLs, persistence and log."""
        return self.home / "broker"

    @property
    def stream_dir(self) -> Path:
        """The MQTT bridge's spool (written before a message is acknowledged)."""
        return self.home / "stream"

    @property
    def twin_db_path(self) -> Path:
        """The operational twin store (SQLite, WAL): reported and desired state, commands,
        alarms; written by the bridge, the CLI and the dashboard while DuckDB has one writer."""
        return self.home / "twin.sqlite"

    @property
    def local_mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def effective_mqtt_url(self) -> str:
        return self.mqtt_url or self.local_mqtt_url

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def local_chain_rpc(self) -> str:
        return f"http://127.0.0.1:{self.chain_port}"

    @property
    def effective_chain_rpc(self) -> str:
        return self.chain_rpc or self.local_chain_rpc


EXTERNAL_VARIABLES = {
    "DAGSTER_HOME": (
        "`$DT_HOME/dagster` (set by `demo`)",
        "the Dagster instance",
    ),
}
"""Variables the platform sets or passes on but does not read itself."""


# --- parsing ------------------------------------------------------------------------------------


def _path(text: str) -> Path:
    return Path(text).expanduser().resolve()


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(port)
    return port


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(value)
    return value


def _mqtt_url(text: str) -> str:
    url = urllib.parse.urlsplit(text)
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
        raise ValueError(text)
    url.port  # noqa: B018 - raises ValueError on a malformed port
    return text


def _http_urls(text: str) -> str:
    for part in text.split(","):
        _http_url(part.strip())
    return text


def _smtp_url(text: str) -> str:
    url = urllib.parse.urlsplit(text)
    if url.scheme not in ("smtp", "smtps") or not url.hostname or url.path.strip("/"):
        raise ValueError(text)
    url.port  # noqa: B018 - raises ValueError on a malformed port
    return text


MAX_RECIPIENTS = 100


def _address(text: str) -> str:
    """One plain address, ``local@domain``: no display name, space or line break."""
    local, _, domain = text.partition("@")
    bad = set(' \t\r\n<>,;:"()[]\\')
    if not local or not domain or "@" in domain or bad & set(text) or len(text) > 254:
        raise ValueError(text)
    return text


def _addresses(text: str) -> str:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or len(parts) > MAX_RECIPIENTS:
        raise ValueError(text)
    for part in parts:
        _address(part)
    return text


def _confirmations(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000:
        raise ValueError(value)
    return value


def _up_to(limit: float) -> Callable[[str], float]:
    """A parser for a number from 0 to ``limit``."""

    def parse(text: str) -> float:
        value = float(text)
        if not 0 <= value <= limit:
            raise ValueError(value)
        return value

    return parse


def _http_url(text: str) -> str:
    url = urllib.parse.urlsplit(text)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(text)
    url.port  # noqa: B018 - raises ValueError on a malformed port
    return text


PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "home": (_path, "a folder path"),
    "registry_path": (_path, "a file path"),
    "chain_rpc": (_http_url, "an http(s) URL with a host, e.g. https://rpc.example.org"),
    "chain_port": (_port, "a port number from 1 to 65535"),
    "partitions_start": (dt.date.fromisoformat, "a date as YYYY-MM-DD"),
    "freshness_hours": (_positive, "a positive number of hours"),
    "dashboard_url": (_http_url, "an http(s) URL with a host, e.g. http://localhost:8501"),
    "anchor_confirmations": (_confirmations, "a whole number of blocks from 1 to 10000"),
    "backfill_days": (_up_to(36_500), "a number of days from 0 to 36500"),
    "future_hours": (_up_to(8_784), "a number of hours from 0 to 8784 (a year)"),
    "max_dump_mb": (_positive, "a positive number of megabytes"),
    "mqtt_url": (_mqtt_url, "an mqtt(s) URL with a host, e.g. mqtt://broker.example.org:1883"),
    "mqtt_port": (_port, "a port number from 1 to 65535"),
    "webhook_urls": (_http_urls, "comma-separated http(s) URLs"),
    "smtp_url": (_smtp_url, "an smtp(s) URL with a host, e.g. smtps://mail.example.org:465"),
    "report_from": (_address, "an e-mail address, e.g. twin@example.org"),
    "report_to": (_addresses, f"1 to {MAX_RECIPIENTS} comma-separated e-mail addresses"),
}
"""How each field's text becomes its value, and what is expected (other fields stay text)."""


def variables() -> list[dataclasses.Field]:
    """The fields of :class:`Settings` that come from an environment variable, in order."""
    return [f for f in dataclasses.fields(Settings) if "env" in f.metadata]


def load_settings(
    home: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings from ``DT_*`` environment variables (``environ``, default ``os.environ``).

    An explicit ``home`` wins over ``DT_HOME``. Empty values mean "the default". Raises
    :class:`ConfigError` naming every variable whose value cannot be used.
    """
    environ = os.environ if environ is None else environ
    given = {f.name: (environ.get(f.metadata["env"]) or "").strip() for f in variables()}
    given = {name: text for name, text in given.items() if text}
    texts = given | {"home": str(home or given.get("home") or Settings.home)}
    values: dict[str, Any] = {}
    problems = []
    for f in variables():
        if f.name not in texts:
            continue
        parse, expected = PARSERS.get(f.name, (str, "text"))
        try:
            values[f.name] = parse(texts[f.name])
        except ValueError:
            shown = "(hidden)" if f.metadata["secret"] else repr(texts[f.name])
            problems.append(f"{f.metadata['env']}={shown} is not {expected}")
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    from_environment = set(given) - ({"home"} if home else set())
    return Settings(**values, from_environment=frozenset(from_environment))


def describe(settings: Settings) -> list[tuple[str, str]]:
    """``(variable, effective value)`` for every variable; secrets show only whether set."""
    rows = []
    for f in variables():
        value = getattr(settings, f.name)
        if f.metadata["secret"]:
            shown = "set (hidden)" if value else "unset"
        elif value is None:
            shown = f"unset: {f.metadata['default']}"
        else:
            shown = str(value)
        rows.append((f.metadata["env"], shown))
    return rows


def markdown_table() -> str:
    """The README's configuration table, generated from :class:`Settings`."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for f in variables():
        lines.append(
            f"| `{f.metadata['env']}` | {f.metadata['default']} | {f.metadata['meaning']} |"
        )
    for name, (default, meaning) in EXTERNAL_VARIABLES.items():
        lines.append(f"| `{name}` | {default} | {meaning} |")
    return "\n".join(lines)
