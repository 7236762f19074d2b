"""`dt-platform demo`: the whole platform on one machine, from nothing to a running UI.

1. the local chain (anvil, state under DT_HOME/chain) with the platform contracts deployed once;
2. a simulated phone line delivering dumps into DT_HOME/landing (only if landing is empty);
3. the full materialization, recorded in the Dagster instance under DT_HOME/dagster so every run
   shows in the UI: ingestion, then every day that has data;
4. the Dagster UI (webserver + daemon, so the landing sensor and daily schedule keep running)
   and the dashboard (Streamlit; sign in with a demo account's key, whose roles are on chain).

Re-running is safe: the chain and contracts are reused, landing is not re-simulated, ingestion is
idempotent and each day is rebuilt in place.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dt_platform.config import Settings

# In-process runs log to the console at DEBUG by default; the run logs stay in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

DAGSTER_YAML = """\
# Written by `dt-platform demo`. One writer at a time on the DuckDB file: every asset that
# writes it is in the `duckdb_writer` pool.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


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


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    # The UI (a subprocess) reads its configuration from the environment.
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["DT_HOME"] = str(settings.home)
    os.environ["DT_CHAIN_PORT"] = str(settings.chain_port)
    return home


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


def materialize_everything(settings: Settings, console: Console) -> DemoReport:
    import dagster as dg

    from assets.partitions import daily_partitions
    from assets.resources import PlatformResource
    from dt_platform.definitions import build_definitions
    from dt_platform.warehouse import Warehouse

    defs = build_definitions(
        PlatformResource(
            home=str(settings.home),
            chain_rpc=settings.chain_rpc or "",
            chain_port=settings.chain_port,
            ipfs_api=settings.ipfs_api or "",
            registry=str(settings.registry_path or ""),
        )
    )
    report = DemoReport()
    instance = dg.DagsterInstance.get()
    with console.status("ingesting landing (registry, dumps, maintenance log)"):
        ingest = defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, run_config=QUIET
        )
    raw = ingest.asset_materializations_for_node("raw_dumps")[0].metadata
    report.ingest_metadata = {k: v.value for k, v in raw.items()}
    console.print(
        f"[bold]ingested[/] {raw['new_files'].value} new files: rows in {raw['rows_in'].value:,}, "
        f"loaded {raw['rows_loaded'].value:,}, rejected {raw['rows_rejected'].value:,}"
    )
    with Warehouse(settings.warehouse_path).read() as con:
        data_days = [
            d.isoformat()
            for (d,) in con.execute(
                "SELECT DISTINCT unnest(days) AS d FROM file_ledger WHERE status = 'loaded' ORDER BY d"
            ).fetchall()
        ]
    valid = set(daily_partitions.get_partition_keys(current_time=dt.datetime.now(dt.UTC)))
    done = instance.get_materialized_partitions(dg.AssetKey("telemetry"))
    touched = set(raw["touched_days"].value)
    todo = [d for d in data_days if d in valid and (d in touched or d not in done)]
    daily_job = defs.resolve_job_def("daily_job")
    for i, day in enumerate(todo, start=1):
        with console.status(f"materializing day {day} ({i}/{len(todo)})"):
            result = daily_job.execute_in_process(
                partition_key=day, instance=instance, raise_on_error=False, run_config=QUIET
            )
        (report.partitions if result.success else report.failed_partitions).append(day)
    console.print(
        f"[bold]daily partitions[/] materialized {len(report.partitions)}"
        + (f", [red]failed {report.failed_partitions}[/]" if report.failed_partitions else "")
        + f" ({len(data_days) - len(todo)} already up to date)"
    )
    return report


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
        f"[bold]latest anchored snapshot[/] {latest.partition}: CID {latest.cid}, tx {latest.tx_hash} "
        f"- [{colour}]{'verified' if verification.ok else 'VERIFICATION FAILED'}[/]"
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
    return f"http://localhost:{port}"


def print_summary(
    settings: Settings, console: Console, report: DemoReport, ui_port: int, dashboard_port: int
) -> None:
    table = Table(title="dt-platform demo", show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("DT_HOME", str(settings.home))
    table.add_row("Dagster UI", f"http://127.0.0.1:{ui_port}")
    table.add_row("dashboard", dashboard_url(dashboard_port))
    table.add_row(
        "  sign in",
        "browser wallet, or: dt-platform wallet sign-in --dev-account MANAGER dt-sign-in.txt",
    )
    table.add_row("chain", settings.effective_chain_rpc)
    if report.prognostics:
        prog = report.prognostics
        table.add_row(
            "predictions",
            f"{prog['day']}: {prog['with_fused_rul']}/{prog['machines']} machines with a fused RUL",
        )
        table.add_row("  alerts", ", ".join(a["machine_id"] for a in prog["alerts"]) or "none")
    if report.latest_anchor:
        anchor = report.latest_anchor
        table.add_row(
            "latest snapshot", f"{anchor['partition']} ({anchor['record_count']} records)"
        )
        table.add_row("  CID", str(anchor["cid"]))
        table.add_row("  tx hash", str(anchor["tx_hash"]))
        table.add_row("  verify", f"dt-platform verify --partition {anchor['partition']}")
    deployment = report.deployment
    if deployment is not None:
        for name, info in deployment.contracts.items():
            table.add_row(f"  {name}", info.address)
        for role, address in (deployment.demo_roles or {}).items():
            table.add_row(f"  role {role}", address)
    console.print(table)


def ui_commands(settings: Settings, ui_port: int, dashboard_port: int) -> dict[str, list[str]]:
    """The two UIs: `dagster dev` (webserver + daemon) and the Streamlit dashboard."""
    bin_dir = Path(sys.executable).parent
    repo_root = Path(__file__).resolve().parents[1]
    dagster = shutil.which("dagster", path=str(bin_dir)) or "dagster"
    streamlit = shutil.which("streamlit", path=str(bin_dir)) or "streamlit"
    return {
        "Dagster UI": [
            dagster, "dev", "-w", str(repo_root / "workspace.yaml"),
            "-h", "127.0.0.1", "-p", str(ui_port),
        ],
        "dashboard": [
            streamlit, "run", str(repo_root / "app" / "streamlit_app.py"),
            "--server.address", "127.0.0.1", "--server.port", str(dashboard_port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
    }  # fmt: skip


def run_uis(settings: Settings, ui_port: int, dashboard_port: int, console: Console) -> int:
    """Run the Dagster UI and the dashboard in the foreground until Ctrl-C (or one of them ends)."""
    repo_root = Path(__file__).resolve().parents[1]
    env = os.environ | {"DT_DASHBOARD_URL": dashboard_url(dashboard_port)}
    procs = {
        name: subprocess.Popen(cmd, cwd=repo_root, env=env)
        for name, cmd in ui_commands(settings, ui_port, dashboard_port).items()
    }
    console.print(
        f"[bold]Dagster UI[/] http://127.0.0.1:{ui_port}   [bold]dashboard[/] "
        f"{dashboard_url(dashboard_port)}   (Ctrl-C stops both)"
    )
    try:
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return max(p.returncode or 0 for p in procs.values())


def run_demo(
    settings: Settings,
    *,
    machines: int = 16,
    days: int = 45,
    seed: int = 7,
    ui: bool = True,
    ui_port: int = 3000,
    dashboard_port: int = 8501,
    console: Console | None = None,
) -> DemoReport:
    console = console or Console()
    settings.home.mkdir(parents=True, exist_ok=True)
    prepare_dagster_home(settings)
    deployment = start_chain(settings, console)
    share_demo_datasets(settings, deployment, console)
    simulated = ensure_simulated_line(settings, console, machines=machines, days=days, seed=seed)
    report = materialize_everything(settings, console)
    report.deployment, report.simulated = deployment, simulated
    summarize_prognostics(settings, console, report)
    check_latest_anchor(settings, console, report)
    print_summary(settings, console, report, ui_port, dashboard_port)
    if ui:
        run_uis(settings, ui_port, dashboard_port, console)
    return report
