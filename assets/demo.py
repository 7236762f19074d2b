"""`dt-platform demo`: the whole platform on one machine, from nothing to a running UI.

1. the local chain (anvil, state under DT_HOME/chain) with the platform contracts deployed once;
2. a simulated phone line delivering dumps into DT_HOME/landing (only if landing is empty); the
   Dagster UI's daily partitions start at its first day (``DT_PARTITIONS_START``, unless set;
   the in-process runs below keep the configured start, which the demo's days lie after);
3. the full materialization, recorded in the Dagster instance under DT_HOME/dagster so every run
   shows in the UI: ingestion, then every day that has data;
4. the live line: the local Mosquitto (``DT_HOME/broker``), the MQTT bridge and the simulated
   machines continuing their history live over MQTT (accelerated until they reach the present),
   obeying the commands a MAINTAINER signs;
5. the Dagster UI (webserver + daemon, so the landing sensor and the daily and hourly schedules
   keep running) and the dashboard (Streamlit; sign in with a demo account's key, whose roles are
   on chain), quietly: their output goes to DT_HOME/logs. Ctrl-C stops them; the chain and the
   broker keep running, and the console says how to stop them.

Re-running is safe: the chain and contracts are reused, landing is not re-simulated, ingestion is
idempotent and each day is rebuilt in place. The steps without Dagster are in
:mod:`dt_platform.demo`; the command is registered with ``dt-platform`` by an entry point.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import click
import dagster as dg
from rich.console import Console

from assets.definitions import build_definitions
from assets.partitions import daily_partitions
from dt_platform.config import Settings, load_settings
from dt_platform.demo import (
    DemoReport,
    build_demo_report,
    check_latest_anchor,
    dashboard_url,
    ensure_simulated_line,
    partitions_start_env,
    share_demo_datasets,
    sign_demo_limits,
    start_broker,
    start_chain,
    summarize_prognostics,
)
from dt_platform.demo_services import print_still_running, run_services
from dt_platform.demo_summary import dagster_url, print_summary
from dt_platform.trust.cli_errors import service_errors
from dt_platform.warehouse import Warehouse

REPO_ROOT = Path(__file__).resolve().parents[1]

# In-process runs log to the console at DEBUG by default; the run logs stay in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

DAGSTER_YAML_HEADER = "# Written by `dt-platform demo`."
DAGSTER_YAML = f"""\
{DAGSTER_YAML_HEADER} One writer at a time on the DuckDB file: every asset that
# writes it is in the `duckdb_writer` pool. No first-visit pop-up (nux) over the UI.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
nux:
  enabled: false
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """The Dagster instance's home with the demo's ``dagster.yaml`` (rewritten when an older
    demo wrote it; a file someone else wrote is left alone), exported for the UI subprocess."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or (
        config.read_text().startswith(DAGSTER_YAML_HEADER) and config.read_text() != DAGSTER_YAML
    ):
        config.write_text(DAGSTER_YAML)
    # The UI (a subprocess) reads its configuration from the environment.
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["DT_HOME"] = str(settings.home)
    os.environ["DT_CHAIN_PORT"] = str(settings.chain_port)
    return home


def materialize_everything(settings: Settings, console: Console) -> DemoReport:
    defs = build_definitions(settings)
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


LIVE_SPEED = 60.0
"""The live line's sim seconds per wall second until it reaches the present (then real time)."""


def live_commands(machines: int, seed: int) -> dict[str, list[str]]:
    """The MQTT bridge and the live line (the same machines as the simulated history)."""
    cli = [sys.executable, "-m", "dt_platform.cli"]
    return {
        "bridge": [*cli, "bridge", "run"],
        "live line": [
            *cli, "line", "run", "--machines", str(machines), "--seed", str(seed),
            "--speed", str(LIVE_SPEED), "--every", "60",
        ],
    }  # fmt: skip


def ui_commands(settings: Settings, ui_port: int, dashboard_port: int) -> dict[str, list[str]]:
    """The two UIs: `dagster dev` (webserver + daemon) and the Streamlit dashboard, logging
    warnings only. The dashboard listens on 127.0.0.1 and is advertised as ``localhost``, the
    host its sign-in messages are bound to (``DT_DASHBOARD_URL``)."""
    bin_dir = Path(sys.executable).parent
    repo_root = REPO_ROOT
    dagster = shutil.which("dagster", path=str(bin_dir)) or "dagster"
    streamlit = shutil.which("streamlit", path=str(bin_dir)) or "streamlit"
    return {
        "Dagster UI": [
            dagster, "dev", "-w", str(repo_root / "workspace.yaml"),
            "-h", "127.0.0.1", "-p", str(ui_port), "--log-level", "warning",
        ],
        "dashboard": [
            streamlit, "run", str(repo_root / "app" / "streamlit_app.py"),
            "--server.address", "127.0.0.1", "--server.port", str(dashboard_port),
            "--browser.serverAddress", "localhost", "--browser.serverPort", str(dashboard_port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--logger.level", "warning",
        ],
    }  # fmt: skip


def ui_environment(report: DemoReport, dashboard_port: int) -> dict[str, str]:
    """The environment of the UI processes: this one's (``prepare_dagster_home`` exported the
    instance and chain), the dashboard's URL, and the demo's partitions start for Dagster."""
    return os.environ | report.dagster_env | {"DT_DASHBOARD_URL": dashboard_url(dashboard_port)}


def run_uis(
    settings: Settings,
    ui_port: int,
    dashboard_port: int,
    console: Console,
    live: dict[str, list[str]] | None = None,
    report: DemoReport | None = None,
) -> int:
    """Run the live line (``live``: bridge and machines), the Dagster UI and the dashboard in the
    foreground until Ctrl-C (or one of them ends), their output in ``DT_HOME/logs``; then say
    what still runs in the background (chain, broker) and how to stop it."""
    env = ui_environment(report or DemoReport(), dashboard_port)
    commands = {**(live or {}), **ui_commands(settings, ui_port, dashboard_port)}
    logs = settings.home / "logs"
    console.print(
        f"[bold]Dagster UI[/] {dagster_url(ui_port)}   [bold]dashboard[/] "
        f"{dashboard_url(dashboard_port)}   (Ctrl-C stops {', '.join(commands)}; their logs: "
        f"{logs})",
        soft_wrap=True,
    )
    try:
        return run_services(commands, cwd=REPO_ROOT, env=env, log_dir=logs, console=console)
    finally:
        print_still_running(settings, console)


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
    sign_demo_limits(settings, console)
    simulated = ensure_simulated_line(settings, console, machines=machines, days=days, seed=seed)
    dagster_env = partitions_start_env(settings, console)
    start_broker(settings, console)
    report = materialize_everything(settings, console)
    report.dagster_env = dagster_env
    report.deployment, report.simulated = deployment, simulated
    summarize_prognostics(settings, console, report)
    check_latest_anchor(settings, console, report)
    build_demo_report(settings, console)
    print_summary(settings, console, report, ui_port, dashboard_port)
    if ui:
        live = live_commands(machines, seed) if settings.mqtt_url is None else None
        run_uis(settings, ui_port, dashboard_port, console, live, report)
    return report


@click.command()
@click.option(
    "--machines", default=16, show_default=True, help="Machines to simulate if landing is empty."
)
@click.option(
    "--days", default=45, show_default=True, help="Days of history to simulate, ending today."
)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--ui/--no-ui",
    default=True,
    show_default=True,
    help="Start the Dagster UI and the dashboard at the end.",
)
@click.option("--port", default=3000, show_default=True, help="Dagster UI port.")
@click.option("--dashboard-port", default=8501, show_default=True, help="Dashboard port.")
def demo(machines: int, days: int, seed: int, ui: bool, port: int, dashboard_port: int) -> None:
    """Local chain, simulated line, full materialization, then the UIs (re-runnable)."""
    with service_errors():  # a chain that is down or was reset: one line saying what to do
        report = run_demo(
            load_settings(),
            machines=machines,
            days=days,
            seed=seed,
            ui=ui,
            ui_port=port,
            dashboard_port=dashboard_port,
        )
    if report.failed_partitions:
        raise SystemExit(
            f"{len(report.failed_partitions)} daily partitions failed: {report.failed_partitions}"
        )
