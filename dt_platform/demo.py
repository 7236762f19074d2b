"""The demo's steps that need no Dagster: the local chain and contracts with demo roles and
grants, a simulated line in landing, the daily partitions starting at its first day, and what
is read back from the warehouse, the IPFS store and the chain. ``assets/demo.py`` runs them
around the Dagster materialization and UIs; :mod:`dt_platform.demo_summary` prints the closing
summary and :mod:`dt_platform.demo_services` runs the UIs quietly.

Every step is re-runnable: the chain and contracts are reused, landing is not re-simulated.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.console import Console

from dt_platform.config import Settings


@dataclass
class DemoReport:
    deployment: object | None = None
    simulated: bool = False
    ingest_metadata: dict = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    failed_partitions: list[str] = field(default_factory=list)
    latest_anchor: dict | None = None
    latest_verified: bool | None = None
    prognostics: dict | None = None
    """The newest day with predictions: its machines, model version and alerts."""
    dagster_env: dict[str, str] = field(default_factory=dict)
    """What the demo adds to the Dagster UI processes' environment (``DT_PARTITIONS_START``)."""


def start_chain(settings: Settings, console: Console):
    from dt_platform.trust.anvil import chain_up
    from dt_platform.trust.chain import deploy

    if settings.chain_rpc is None:
        status = chain_up(settings)
        console.print(f"[bold]chain[/] {'started' if status.started else 'running'}: {status.url}")
    deployment = deploy(settings)
    console.print(
        f"[bold]contracts[/] {'deployed' if deployment.created else 'already deployed'} "
        f"on chain {deployment.chain_id}"
    )
    return deployment


DEMO_SHARED_DATASETS = ("production/smt_placer", "production/reflow_oven")
"""What the demo MANAGER shares with the demo QC account (a data-sharing grant on chain)."""


def share_demo_datasets(settings: Settings, deployment, console: Console) -> None:
    """On the local dev chain, grant the demo QC account the production figures of two machine
    types for 30 days (renewed when fewer than 7 days are left)."""
    from dt_platform.trust.chain import AuditChain

    qc = (deployment.demo_roles or {}).get("QC")
    if qc is None:
        return
    manager = AuditChain.connect(settings, dev_role="MANAGER")
    now = dt.datetime.now(dt.UTC)
    for dataset in DEMO_SHARED_DATASETS:
        expiry = manager.grant_expiry(dataset, qc)
        if expiry is None or expiry < now + dt.timedelta(days=7):
            manager.grant_access(dataset, qc, now + dt.timedelta(days=30))
    console.print(f"[bold]grants[/] QC {qc} may read {', '.join(DEMO_SHARED_DATASETS)}")


DEMO_MAX_DERATE_PCT = 20.0
"""What the demo MANAGER lets the platform do by itself: derate up to this, never stop."""


def sign_demo_limits(settings: Settings, console: Console) -> None:
    """On the local dev chain, the demo MANAGER signs autonomy limits (derate ≤ 20 %, no stop,
    for 7 days; renewed when less than a day is left), so the platform acts on its own decisions
    within them and the rest waits for a MAINTAINER's approval."""
    from eth_account import Account

    from dt_platform.trust.chain import AuditChain, dev_key
    from dt_platform.twin import db
    from dt_platform.twin.limits import Limits
    from dt_platform.twin.limits_store import current_limits, sign_limits
    from dt_platform.twin.typed_data import command_domain

    chain = AuditChain.connect(settings, read_only=True)
    if not chain.node.is_dev_chain:
        return
    now = dt.datetime.now(dt.UTC)
    con = db.connect(settings.twin_db_path)
    try:
        held = current_limits(con, now)
        expiry = held.limits.expires_at if held is not None else None
        if held is None or (expiry is not None and expiry < now + dt.timedelta(days=1)):
            manager = Account.from_key(dev_key("MANAGER"))
            wanted = Limits(DEMO_MAX_DERATE_PCT, False, True, now + dt.timedelta(days=7), ())
            held = sign_limits(
                con, wanted, manager, roles=chain, domain=command_domain(chain), now=now
            )
    finally:
        con.close()
    until = f"{held.limits.expires_at:%F}" if held.limits.expires_at else "revoked"
    console.print(
        f"[bold]autonomy[/] the MANAGER {held.signer} lets the platform derate up to "
        f"{held.limits.max_derate_pct:g} % by itself (until {until}); every other action waits "
        "for a MAINTAINER"
    )


def ensure_simulated_line(
    settings: Settings, console: Console, *, machines: int, days: int, seed: int
) -> bool:
    from dt_platform.ingest.loader import discover_dumps
    from dt_platform.sim import SimConfig, simulate_line

    if discover_dumps(settings.landing_dir) and settings.machine_registry_path.exists():
        console.print(
            f"[bold]landing[/] already has dumps in {settings.landing_dir}: not re-simulating"
        )
        return False
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    with console.status(f"simulating {machines} machines for {days} days from {start}"):
        result = simulate_line(
            SimConfig(machines=machines, days=days, seed=seed, start=start),
            settings.landing_dir,
            truth_dir=settings.ground_truth_dir,
            registry_path=settings.machine_registry_path,
        )
    console.print(
        f"[bold]simulated[/] {result.machines} machines, {result.readings:,} readings in "
        f"{len(result.dump_files)} dumps, {result.failures} failures, {result.work_orders} work "
        f"orders, {result.bad_items} bad items injected (ground truth: {result.truth_dir})"
    )
    return True


PARTITIONS_START_ENV = "DT_PARTITIONS_START"


def data_start(settings: Settings) -> dt.date | None:
    """The first day of the simulated line's data, from its ground truth (``sim_config.json``);
    ``None`` when landing was not simulated by the demo."""
    from dt_platform.live.takeover import batch_config

    config, _ = batch_config(settings.ground_truth_dir)
    return config.resolved_start() if config is not None else None


def partitions_start_env(
    settings: Settings, console: Console, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``{"DT_PARTITIONS_START": <first day of the demo's data>}`` for the Dagster UI processes,
    so their daily partitions start at the data instead of the platform's default (2026-01-01)
    and Dagster shows every day filled, not hundreds missing. Empty when ``environ`` (the
    process environment by default) already sets it, as a real deployment does, or when landing
    was not simulated by the demo."""
    environ = os.environ if environ is None else environ
    given = environ.get(PARTITIONS_START_ENV)
    if given:
        console.print(f"[bold]partitions[/] daily from {given} ({PARTITIONS_START_ENV})")
        return {}
    start = data_start(settings)
    if start is None:
        return {}
    console.print(
        f"[bold]partitions[/] daily from {start}, the first day of the simulated data "
        f"({PARTITIONS_START_ENV} overrides it)"
    )
    return {PARTITIONS_START_ENV: start.isoformat()}


def start_broker(settings: Settings, console: Console) -> None:
    """The live line's Mosquitto on 127.0.0.1 (unless ``DT_MQTT_URL`` names another broker),
    with a user per gateway of the registry."""
    from dt_platform.live.broker import broker_up
    from dt_platform.live.cli import known_gateways

    if settings.mqtt_url:
        console.print(f"[bold]broker[/] DT_MQTT_URL={settings.mqtt_url}")
        return
    status = broker_up(settings, known_gateways(settings))
    console.print(
        f"[bold]broker[/] {'started' if status.started else 'running'}: {status.url} "
        f"(users {', '.join(status.users)})"
    )


def check_latest_anchor(settings: Settings, console: Console, report: DemoReport) -> None:
    """Find the newest anchored day and verify it against the warehouse, IPFS and the chain."""
    from dt_platform.trust.audit import audit_history, verify_partition
    from dt_platform.trust.chain import AuditChain
    from dt_platform.trust.ipfs import open_ipfs
    from dt_platform.warehouse import Warehouse

    with Warehouse(settings.warehouse_path).read() as con:
        anchored = [r for r in audit_history(con) if r.status == "anchored"]
        if not anchored:
            console.print("[yellow]no anchored snapshot yet[/]")
            return
        latest = max(anchored, key=lambda r: (r.partition, r.version or 0))
        report.latest_anchor = latest.metadata()
        verification = verify_partition(
            con,
            open_ipfs(settings),
            AuditChain.connect(settings),
            dt.date.fromisoformat(latest.partition),
        )
    report.latest_verified = verification.ok
    colour = "green" if verification.ok else "red"
    console.print(
        f"[bold]latest anchored snapshot[/] {latest.partition} "
        f"[{colour}]{'verified' if verification.ok else 'VERIFICATION FAILED'}[/] against the "
        "warehouse, IPFS and the chain (CID and tx below)"
    )


def summarize_prognostics(settings: Settings, console: Console, report: DemoReport) -> None:
    """The newest day's RUL predictions and maintenance alerts, read back from the warehouse."""
    from dt_platform.warehouse import Warehouse, table_names

    with Warehouse(settings.warehouse_path).read() as con:
        tables = table_names(con)
        if not {"rul_predictions", "maintenance_alerts"} <= tables:
            return
        row = con.execute(
            "SELECT day, count(*), count(rul_fused_h), any_value(model_version) FROM rul_predictions "
            "WHERE day = (SELECT max(day) FROM rul_predictions) GROUP BY day"
        ).fetchone()
        if row is None:
            return
        day, machines, with_rul, model_version = row
        alerts = con.execute(
            "SELECT machine_id, probability, severity, reason FROM maintenance_alerts "
            "WHERE day = ? ORDER BY probability DESC, machine_id",
            [day],
        ).fetchall()
    report.prognostics = {
        "day": day.isoformat(),
        "machines": machines,
        "with_fused_rul": with_rul,
        "model_version": model_version,
        "alerts": [
            {"machine_id": m, "probability": p, "severity": s, "reason": r} for m, p, s, r in alerts
        ],
    }
    console.print(
        f"[bold]predictions[/] {day}: fused RUL for {with_rul} of {machines} machines "
        f"(model {str(model_version)[:12] if model_version else 'none yet: physics only'}), "
        f"{len(alerts)} maintenance alert(s)"
    )
    for machine_id, _p, severity, reason in alerts[:5]:
        colour = "red" if severity == "critical" else "yellow"
        console.print(f"  [{colour}]{machine_id}[/] {reason}")


def dashboard_url(port: int) -> str:
    """Where the demo's dashboard is reached: ``localhost``, the host sign-in messages name."""
    return f"http://localhost:{port}"


def build_demo_report(settings: Settings, console: Console):
    """The daily report of the newest complete UTC day with data (before today): written to
    ``DT_HOME/reports/<day>/``, on IPFS, attached to the day whose anchor will cover it; prints
    where it is. Returns the :class:`~dt_platform.report.ReportRun` (``None`` without data)."""
    from dt_platform.demo_services import cli_path
    from dt_platform.report import produce_report
    from dt_platform.trust.ipfs import open_ipfs
    from dt_platform.warehouse import Warehouse, table_names

    today = dt.datetime.now(dt.UTC).date()
    with Warehouse(settings.warehouse_path).write() as con:
        if "telemetry" not in table_names(con):
            return None
        (day,) = con.execute("SELECT max(day) FROM telemetry WHERE day < ?", [today]).fetchone()
        if day is None:
            return None
        run = produce_report(
            con,
            settings.twin_db_path,
            open_ipfs(settings),
            day,
            settings.reports_dir,
            now=dt.datetime.now(dt.UTC),
        )
    console.print(f"[bold]daily report[/] {day}: {run.headline.partition(': ')[2]}")
    for f in run.files:
        console.print(f"  {f.kind.upper()} {f.path}", soft_wrap=True)
        console.print(f"    CID {f.cid}", soft_wrap=True)
    if run.pdf_error:
        console.print(f"  [yellow]no PDF[/]: {run.pdf_error}")
    console.print(
        f"  covered by the anchor of {run.covering_day}; mail it with "
        f"`{cli_path()} report --day {day} --send`",
        soft_wrap=True,
    )
    return run
