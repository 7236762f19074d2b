"""`dt-platform`: one command line for everything scriptable."""

from __future__ import annotations

import click

from dt_platform import __version__
from dt_platform.sim.cli import simulate
from dt_platform.trust.chain_cli import chain, roles
from dt_platform.trust.ipfs.cli import ipfs


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dt-platform")
def main() -> None:
    """Secure, verifiable digital twins for predictive maintenance."""


main.add_command(simulate)
main.add_command(chain)
main.add_command(roles)
main.add_command(ipfs)


if __name__ == "__main__":
    main()
