"""`dt-platform`: one command line for everything scriptable.

Commands that need the Dagster wiring (``demo``) live outside the library and join through the
``dt_platform.commands`` entry-point group (see pyproject.toml); they are imported only when run,
so the other commands start without loading Dagster.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import click

from dt_platform import __version__
from dt_platform.config import ConfigError, describe, load_settings, markdown_table
from dt_platform.live.bridge_cli import bridge
from dt_platform.live.cli import broker
from dt_platform.live.line_cli import line
from dt_platform.report.cli import report
from dt_platform.sim.cli import simulate
from dt_platform.trust.anchors_cli import audit
from dt_platform.trust.audit_cli import prove, verify
from dt_platform.trust.chain_cli import chain, grants, roles
from dt_platform.trust.ipfs.cli import ipfs
from dt_platform.trust.track_record_cli import track_record
from dt_platform.trust.wallet_cli import wallet
from dt_platform.twin.alarm_cli import alarms_group
from dt_platform.twin.command_cli import twin
from dt_platform.twin.decision_cli import decisions as decisions_group
from dt_platform.twin.decision_cli import limits as limits_group
from dt_platform.twin.roi_cli import roi

PLUGIN_GROUP = "dt_platform.commands"


class PlatformGroup(click.Group):
    """The command group: built-in commands plus those registered under :data:`PLUGIN_GROUP`,
    loaded on use; a configuration error is reported as one line, not a traceback."""

    def _plugins(self) -> dict:
        return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in self._plugins():
            command = self._plugins()[name].load()
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=PlatformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dt-platform")
def main() -> None:
    """Secure, verifiable digital twins for predictive maintenance."""


@main.command()
@click.option("--markdown", is_flag=True, help="Print the README's table of variables instead.")
def config(markdown: bool) -> None:
    """Show the configuration in effect (secrets only as set/unset), read from DT_* variables."""
    if markdown:
        click.echo(markdown_table())
        return
    for variable, value in describe(load_settings()):
        click.echo(f"{variable:<20} {value}")


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
    from dt_platform.ingest.cmapss_import import import_subset

    settings = load_settings()
    try:
        result = import_subset(
            data_dir, subset, settings.landing_dir, settings.machine_registry_path
        )
    except (OSError, ValueError) as exc:  # a missing or malformed file, a bad subset name
        raise click.ClickException(str(exc)) from exc
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
main.add_command(audit)
main.add_command(wallet)
main.add_command(broker)
main.add_command(alarms_group)
main.add_command(twin)
main.add_command(line)
main.add_command(bridge)
main.add_command(roi)
main.add_command(decisions_group)
main.add_command(limits_group)
main.add_command(track_record)
main.add_command(report)


if __name__ == "__main__":
    main()
