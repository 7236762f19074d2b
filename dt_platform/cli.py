"""`dt-platform`: one command line for everything scriptable."""

from __future__ import annotations

from pathlib import Path

import click

from dt_platform import __version__
from dt_platform.sim.cli import simulate
from dt_platform.trust.audit_cli import prove, verify
from dt_platform.trust.chain_cli import chain, grants, roles
from dt_platform.trust.ipfs.cli import ipfs
from dt_platform.trust.wallet_cli import wallet


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dt-platform")
def main() -> None:
    """Secure, verifiable digital twins for predictive maintenance."""


@main.command()
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
    from dt_platform.config import load_settings
    from dt_platform.demo import run_demo

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


@main.group()
def cmapss() -> None:
    """NASA C-MAPSS turbofan data as a real-world source."""


@cmapss.command(name="import")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path(__file__).resolve().parents[2] / "shared" / "data" / "cmapss",
    show_default=True,
    help="Folder with train_/test_/RUL_<subset>.txt (read in place).",
)
@click.option("--subset", default="FD001", show_default=True)
def cmapss_import(data_dir: Path, subset: str) -> None:
    """Land a C-MAPSS subset as dumps and register its engines; ingestion takes it from there."""
    from dt_platform.config import load_settings
    from dt_platform.ingest.cmapss_import import import_subset

    settings = load_settings()
    result = import_subset(data_dir, subset, settings.landing_dir, settings.machine_registry_path)
    click.echo(
        f"{subset}: {result.engines} engines registered in {result.registry}; "
        f"{result.readings:,} readings in {', '.join(str(p) for p in result.dumps)}"
    )


main.add_command(simulate)
main.add_command(chain)
main.add_command(roles)
main.add_command(grants)
main.add_command(ipfs)
main.add_command(verify)
main.add_command(prove)
main.add_command(wallet)


if __name__ == "__main__":
    main()
