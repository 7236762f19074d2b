"""The demo's closing summary: where everything is, then what to paste into a shell.

Values people copy (commands, CIDs, transaction hashes) are printed on lines of their own that
the console never breaks (``soft_wrap``): a terminal may show them folded, but they copy whole.
Commands name the real path of this environment's ``dt-platform`` (e.g. ``.venv/bin/``), so they
work in a shell that did not activate the venv.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from dt_platform.config import Settings
from dt_platform.demo import DemoReport, dashboard_url
from dt_platform.demo_services import cli_path


def dagster_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def summary_commands(report: DemoReport) -> list[tuple[str, str]]:
    """(what, command) pairs to try next, with the real path of ``dt-platform``."""
    cli = cli_path()
    commands = [
        (
            "send a derate",
            f"{cli} twin command SMT-01 derate --percent 20 --dev-account maintainer",
        ),
        ("watch it", f"{cli} twin state SMT-01"),
        ("sign in (CLI wallet)", f"{cli} wallet sign-in --dev-account MANAGER dt-sign-in.txt"),
    ]
    if report.latest_anchor:
        partition = report.latest_anchor["partition"]
        commands.append(("verify a day", f"{cli} verify --partition {partition}"))
    return commands


def _line(console: Console, label: str, value: str, width: int) -> None:
    console.print(f"  {label:<{width}}  {value}", markup=False, highlight=False, soft_wrap=True)


def print_summary(
    settings: Settings, console: Console, report: DemoReport, ui_port: int, dashboard_port: int
) -> None:
    """The table of places and accounts, then the commands, CID and tx hash on whole lines."""
    table = Table(title="dt-platform demo", show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("DT_HOME", str(settings.home))
    table.add_row("Dagster UI", dagster_url(ui_port))
    table.add_row("dashboard", f"{dashboard_url(dashboard_port)} (sign in with a browser wallet)")
    table.add_row("live line", f"{settings.effective_mqtt_url} (group {settings.mqtt_group})")
    table.add_row("chain", settings.effective_chain_rpc)
    table.add_row("logs", str(settings.home / "logs"))
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
            "latest snapshot",
            f"{anchor['partition']} ({anchor['record_count']:,} records; CID and tx below)",
        )
    deployment = report.deployment
    if deployment is not None:
        for name, info in deployment.contracts.items():
            table.add_row(f"  {name}", info.address)
        for role, address in (deployment.demo_roles or {}).items():
            table.add_row(f"  role {role}", address)
    console.print(table)

    commands = summary_commands(report)
    width = max(len(what) for what, _ in commands)
    console.print("[bold]try next[/] (paste into a shell)")
    for what, command in commands:
        _line(console, what, command, width)
    if report.latest_anchor:
        anchor = report.latest_anchor
        console.print(f"[bold]latest anchored snapshot[/] {anchor['partition']}")
        _line(console, "CID", str(anchor["cid"]), 7)
        _line(console, "tx hash", str(anchor["tx_hash"]), 7)
