"""``dt-platform chain …``, ``roles …`` and ``grants …``: the local chain, deployment, roles and
data-sharing grants.

Wire into the main CLI with ``main.add_command(chain)``, ``(roles)`` and ``(grants)``.
Exit codes: 0 ok, 1 the chain said no, 2 a bad argument (one line naming it), 3 the chain could
not be reached (retry).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from dt_platform.config import load_settings
from dt_platform.trust.anvil import chain_down, chain_up, local_chain_status
from dt_platform.trust.chain import (
    DEFAULT_ADMIN_DELAY,
    MAX_ADMIN_DELAY,
    MAX_GRANT_DAYS,
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
from dt_platform.trust.cli_params import Address, Number, Text

__all__ = ["chain", "grants", "roles"]

ADDRESS = Address()
DATASET = Text()


def _utc(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%d %H:%M} UTC"


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
    type=Number(0, MAX_ADMIN_DELAY // 3600, integer=True, unit="hours"),
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
@click.argument("address", type=ADDRESS)
@with_service_errors
def grant(role: str, address: str) -> None:
    """Grant ROLE to ADDRESS (needs ADMIN). ADMIN itself is handed over: see `roles admin`."""
    client = _admin_client()
    result = client.grant_role(role, address)
    click.echo(f"granted {role.upper()} to {address} (tx {result.tx_hash})")


@roles.command()
@click.argument("role", type=_ROLE)
@click.argument("address", type=ADDRESS)
@with_service_errors
def revoke(role: str, address: str) -> None:
    """Revoke ROLE from ADDRESS (needs ADMIN); revoking MANAGER ends the grants it made."""
    client = _admin_client()
    result = client.revoke_role(role, address)
    click.echo(f"revoked {role.upper()} from {address} (tx {result.tx_hash})")


@roles.command(name="list")
@click.argument("address", required=False, type=Address(allow_zero=True))
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


@roles.group()
def admin() -> None:
    """The one ADMIN and its two-step handover: the ADMIN names the next ADMIN, which accepts
    after a delay; ADMIN can never be renounced, revoked or left empty."""


@admin.command(name="show")
@with_service_errors
def admin_show() -> None:
    """The ADMIN, the handover delay and the pending handover, if any."""
    client = AuditChain.connect(load_settings(), read_only=True)
    state = client.admin_handover()
    click.echo(f"ADMIN        {state.admin}")
    click.echo(f"delay        {state.delay / 3600:g} hours")
    if state.pending_admin is None or state.accept_after is None:
        click.echo("handover     none pending")
        return
    click.echo(
        f"handover to  {state.pending_admin}, who may accept after {_utc(state.accept_after)}"
    )


@admin.command(name="handover")
@click.argument("address", type=ADDRESS)
@with_service_errors
def admin_handover(address: str) -> None:
    """Start handing ADMIN over to ADDRESS (needs ADMIN); it accepts after the delay."""
    client = _admin_client()
    result = client.begin_admin_handover(address)
    state = client.admin_handover()
    after = _utc(state.accept_after) if state.accept_after else "the delay"
    click.echo(f"ADMIN handover to {address} started (tx {result.tx_hash})")
    click.echo(
        f"{address} may accept after {after} with `dt-platform roles admin accept` (signed with "
        "its own key in DT_CHAIN_KEY); until then `roles admin cancel` stops it"
    )


@admin.command(name="accept")
@with_service_errors
def admin_accept() -> None:
    """Accept a pending ADMIN handover, signed by the new ADMIN's key (DT_CHAIN_KEY)."""
    client = AuditChain.connect(load_settings(), dev_role="ADMIN")
    result = client.accept_admin_handover()
    click.echo(f"{client.address} is now the ADMIN (tx {result.tx_hash})")


@admin.command(name="cancel")
@with_service_errors
def admin_cancel() -> None:
    """Cancel the pending ADMIN handover (needs ADMIN)."""
    client = _admin_client()
    if client.admin_handover().pending_admin is None:
        raise click.ClickException("no ADMIN handover is pending: nothing to cancel")
    result = client.cancel_admin_handover()
    click.echo(f"ADMIN handover cancelled (tx {result.tx_hash})")


# --- grants -------------------------------------------------------------------------------------


@click.group()
def grants() -> None:
    """Data-sharing grants: a dataset (e.g. production/smt_placer) shared with an account."""


def _manager_client() -> AuditChain:
    """Signed by DT_CHAIN_KEY or, on the local dev chain, the dev MANAGER key."""
    return AuditChain.connect(load_settings(), dev_role="MANAGER")


@grants.command(name="grant")
@click.argument("dataset", type=DATASET)
@click.argument("address", type=ADDRESS)
@click.option(
    "--days",
    type=Number(0, MAX_GRANT_DAYS, low_open=True, unit="days"),
    default=30.0,
    show_default=True,
    help=f"How long the grant runs, at most {MAX_GRANT_DAYS} days (renew it to go on).",
)
@with_service_errors
def grant_access(dataset: str, address: str, days: float) -> None:
    """Share DATASET with ADDRESS for --days (needs MANAGER); it ends early if the signing
    MANAGER loses that role."""
    client = _manager_client()
    wanted = datetime.now(UTC) + timedelta(days=days)
    # The contract bounds the expiry by its own block time, which may lag this clock.
    expires = min(int(wanted.timestamp()), client.latest_grant_expiry())
    result = client.grant_access(dataset, address, expires)
    click.echo(f"shared {dataset} with {address} until {_utc(expires)} (tx {result.tx_hash})")


@grants.command(name="revoke")
@click.argument("dataset", type=DATASET)
@click.argument("address", type=ADDRESS)
@with_service_errors
def revoke_access(dataset: str, address: str) -> None:
    """End ADDRESS's access to DATASET now (needs MANAGER)."""
    result = _manager_client().revoke_access(dataset, address)
    click.echo(f"revoked {address}'s access to {dataset} (tx {result.tx_hash})")


@grants.command(name="list")
@click.argument("dataset", required=False, type=DATASET)
@click.option(
    "--address",
    type=Address(allow_zero=True),
    help="List the datasets shared with this account instead.",
)
@with_service_errors
def list_grants(dataset: str | None, address: str | None) -> None:
    """Grants of DATASET, or the datasets shared with --address."""
    if bool(dataset) == bool(address):
        raise click.UsageError("name a DATASET or an --address (one of them)")
    client = AuditChain.connect(load_settings(), read_only=True)
    if address:
        for name in sorted(client.datasets_of(address)):
            expiry = client.grant_expiry(name, address)
            state = f"until {expiry:%Y-%m-%d %H:%M} UTC" if expiry else "expired or ended"
            click.echo(f"{name:<28} {state}")
        return
    assert dataset is not None
    for grant in client.grants(dataset):
        state = "active" if grant.active else "expired or ended"
        click.echo(
            f"{grant.grantee}  until {_utc(grant.expires_at)}  {state}  "
            f"(granted by {grant.granted_by})"
        )
