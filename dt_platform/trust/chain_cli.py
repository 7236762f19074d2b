"""``dt-platform chain …``, ``roles …`` and ``grants …``: the local chain, deployment, roles and
data-sharing grants.

Wire into the main CLI with ``main.add_command(chain)``, ``(roles)`` and ``(grants)``.
Exit codes: 0 ok, 1 the chain said no (or bad input), 3 the chain could not be reached (retry).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from dt_platform.config import load_settings
from dt_platform.trust.anvil import chain_down, chain_up, local_chain_status
from dt_platform.trust.chain import (
    DEFAULT_ADMIN_DELAY,
    MAX_ADMIN_DELAY,
    PLATFORM_CONTRACTS,
    ROLE_IDS,
    AuditChain,
    ChainError,
    connect_node,
    deploy,
    load_deployment,
    verify_deployment,
)
from dt_platform.trust.chain.artifacts import error_decoder
from dt_platform.trust.cli_errors import with_service_errors

__all__ = ["chain", "grants", "roles"]


# --- chain --------------------------------------------------------------------------------------


@click.group()
def chain() -> None:
    """The local chain and the platform contracts on it."""


@chain.command()
@with_service_errors
def up() -> None:
    """Start the local anvil chain (state kept in DT_HOME/chain); does nothing if it runs."""
    settings = load_settings()
    if settings.chain_rpc is not None:
        click.echo(f"DT_CHAIN_RPC points at {settings.chain_rpc}: no local chain to start")
        return
    status = chain_up(settings)
    verb = "started" if status.started else "already running"
    click.echo(f"local chain {verb}: {status.url} (pid {status.pid})")
    click.echo(f"state: {status.state_path}  log: {status.log_path}")


@chain.command()
@with_service_errors
def down() -> None:
    """Stop the local chain gracefully (its state is saved for the next `chain up`)."""
    settings = load_settings()
    if chain_down(settings):
        click.echo(f"local chain stopped; state saved in {settings.chain_dir / 'state.json'}")
    else:
        click.echo("local chain is not running")


@chain.command(name="deploy")
@click.option(
    "--after-reset",
    is_flag=True,
    help="The chain was reset: deploy anew although deployment.json records this chain. "
    "Anchors recorded before are gone; the warehouse's anchored days must be re-anchored.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="The recorded contracts are on the chain but differ (e.g. rebuilt): replace them with "
    "new, empty ones.",
)
@click.option(
    "--admin-delay",
    "admin_delay_hours",
    type=click.IntRange(0, MAX_ADMIN_DELAY // 3600),
    default=DEFAULT_ADMIN_DELAY // 3600,
    show_default=True,
    help="Hours a new ADMIN must wait before accepting a handover (new deployments only).",
)
@with_service_errors
def deploy_cmd(after_reset: bool, replace: bool, admin_delay_hours: int) -> None:
    """Deploy the platform contracts once and write DT_HOME/deployment.json.

    Does nothing if the recorded contracts are live; refuses to deploy over a recorded deployment
    of this chain unless --after-reset (the chain was reset) or --replace (they differ) says so.
    The previous record is kept as deployment.previous.json.
    """
    settings = load_settings()
    deployment = deploy(
        settings, admin_delay=admin_delay_hours * 3600, after_reset=after_reset, replace=replace
    )
    verb = "deployed" if deployment.created else "already deployed (code matches)"
    click.echo(
        f"contracts {verb} on chain {deployment.chain_id}; record: {settings.deployment_path}"
    )
    for name, info in deployment.contracts.items():
        click.echo(f"  {name:<13} {info.address}")
    if deployment.demo_roles:
        click.echo("demo roles (anvil dev accounts):")
        for role, address in deployment.demo_roles.items():
            click.echo(f"  {role:<11} {address}")


@chain.command()
@with_service_errors
def status() -> None:
    """Chain id, block, contract addresses, code-hash check and anchor counts."""
    settings = load_settings()
    if settings.chain_rpc is None:
        local = local_chain_status(settings)
        state = f"running (pid {local.pid})" if local.running else "not running"
        click.echo(f"local chain: {state}")
    node = connect_node(settings.effective_chain_rpc)
    click.echo(f"rpc: {node.url}  chain id: {node.chain_id}  client: {node.client_version}")
    with error_decoder().guard("read the block number", node.url):
        click.echo(f"block: {node.w3.eth.block_number}")
    deployment = load_deployment(settings)
    if deployment is None:
        click.echo("contracts: not deployed (run `dt-platform chain deploy`)")
        return
    for name in PLATFORM_CONTRACTS:
        click.echo(f"  {name:<13} {deployment.address(name)}")
    try:
        verify_deployment(node, deployment, settings)
    except ChainError as exc:
        click.echo(f"deployment: MISMATCH - {exc}")
        raise SystemExit(1) from exc
    click.echo("code hashes: ok (match contracts/artifacts and deployment.json)")
    client = AuditChain(node, deployment, None)
    partitions = client.partitions()
    anchors = sum(client.version_count(p) for p in partitions)
    click.echo(f"anchors: {anchors} in {len(partitions)} partitions")


# --- roles --------------------------------------------------------------------------------------


def _admin_client() -> AuditChain:
    """Signed by DT_CHAIN_KEY or, on the local dev chain, the dev ADMIN key."""
    return AuditChain.connect(load_settings(), dev_role="ADMIN")


_ROLE = click.Choice(list(ROLE_IDS), case_sensitive=False)


@click.group()
def roles() -> None:
    """Platform roles (one role hub for every contract)."""


@roles.command()
@click.argument("role", type=_ROLE)
@click.argument("address")
@with_service_errors
def grant(role: str, address: str) -> None:
    """Grant ROLE to ADDRESS (needs ADMIN)."""
    client = _admin_client()
    result = client.grant_role(role, address)
    click.echo(f"granted {role.upper()} to {address} (tx {result.tx_hash})")


@roles.command()
@click.argument("role", type=_ROLE)
@click.argument("address")
@with_service_errors
def revoke(role: str, address: str) -> None:
    """Revoke ROLE from ADDRESS (needs ADMIN)."""
    client = _admin_client()
    result = client.revoke_role(role, address)
    click.echo(f"revoked {role.upper()} from {address} (tx {result.tx_hash})")


@roles.command(name="list")
@click.argument("address", required=False)
@with_service_errors
def list_cmd(address: str | None) -> None:
    """Members of every role, or the roles of ADDRESS."""
    client = AuditChain.connect(load_settings(), read_only=True)
    if address:
        held = sorted(client.roles_of(address), key=list(ROLE_IDS).index)
        click.echo(f"{address}: {', '.join(held) if held else '(no roles)'}")
        return
    for role in ROLE_IDS:
        members = client.members(role)
        click.echo(f"{role:<11} {', '.join(members) if members else '-'}")


# --- grants -------------------------------------------------------------------------------------


@click.group()
def grants() -> None:
    """Data-sharing grants: a dataset (e.g. production/smt_placer) shared with an account."""


def _manager_client() -> AuditChain:
    """Signed by DT_CHAIN_KEY or, on the local dev chain, the dev MANAGER key."""
    return AuditChain.connect(load_settings(), dev_role="MANAGER")


@grants.command(name="grant")
@click.argument("dataset")
@click.argument("address")
@click.option(
    "--days", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True
)
@with_service_errors
def grant_access(dataset: str, address: str, days: float) -> None:
    """Share DATASET with ADDRESS for --days (needs MANAGER)."""
    expires = datetime.now(UTC) + timedelta(days=days)
    result = _manager_client().grant_access(dataset, address, expires)
    click.echo(
        f"shared {dataset} with {address} until {expires:%Y-%m-%d %H:%M} UTC (tx {result.tx_hash})"
    )


@grants.command(name="revoke")
@click.argument("dataset")
@click.argument("address")
@with_service_errors
def revoke_access(dataset: str, address: str) -> None:
    """End ADDRESS's access to DATASET now (needs MANAGER)."""
    result = _manager_client().revoke_access(dataset, address)
    click.echo(f"revoked {address}'s access to {dataset} (tx {result.tx_hash})")


@grants.command(name="list")
@click.argument("dataset", required=False)
@click.option("--address", help="List the datasets shared with this account instead.")
@with_service_errors
def list_grants(dataset: str | None, address: str | None) -> None:
    """Grants of DATASET, or the datasets shared with --address."""
    if bool(dataset) == bool(address):
        raise click.UsageError("name a DATASET or an --address (one of them)")
    client = AuditChain.connect(load_settings(), read_only=True)
    if address:
        for name in sorted(client.datasets_of(address)):
            expiry = client.grant_expiry(name, address)
            state = f"until {expiry:%Y-%m-%d %H:%M} UTC" if expiry else "expired"
            click.echo(f"{name:<28} {state}")
        return
    for grant in client.grants(dataset):
        until = datetime.fromtimestamp(grant.expires_at, UTC)
        state = "active" if grant.active else "expired"
        click.echo(f"{grant.grantee}  until {until:%Y-%m-%d %H:%M} UTC  {state}")
