"""``dt-platform ipfs …``: add, cat, CAR export/import and the Kubo-compatible RPC server.

The store is ``open_ipfs(load_settings())``: the embedded store under ``$DT_HOME/ipfs`` unless
``DT_IPFS_API`` points at a Kubo node.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from dt_platform.config import DEFAULT_IPFS_PORT, load_settings
from dt_platform.trust.ipfs.backends import EmbeddedIpfs, KuboIpfs, open_ipfs
from dt_platform.trust.ipfs.errors import IpfsError

__all__ = ["ipfs"]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show IPFS failures as one ``Error: …`` line (exit 1), not a traceback."""
    try:
        yield
    except (IpfsError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


def _store() -> EmbeddedIpfs | KuboIpfs:
    with _user_errors():
        try:
            return open_ipfs(load_settings())
        except ValueError as exc:  # a malformed DT_IPFS_API
            raise click.ClickException(str(exc)) from exc


@click.group("ipfs", context_settings={"help_option_names": ["-h", "--help"]})
def ipfs() -> None:
    """Content-addressed storage with Kubo-identical CIDs.

    Uses the embedded store under $DT_HOME/ipfs, or the Kubo node at DT_IPFS_API when set.
    """


@ipfs.command("add")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--cid-version",
    type=click.Choice(["0", "1"]),
    default="1",
    show_default=True,
    help="CID version. Defaults to 1, the platform's default (Kubo's own CLI defaults to 0); "
    "1 implies raw leaves, like `ipfs add --cid-version=1`.",
)
@click.option(
    "--raw-leaves/--no-raw-leaves",
    default=None,
    help="Store file leaves as raw blocks (default: yes with CIDv1, no with CIDv0).",
)
@click.option("-Q", "--quieter", is_flag=True, help="Print only the final root CID.")
@click.option("-q", "--quiet", is_flag=True, help="Print only CIDs, one per added entry.")
@click.option("-H", "--hidden", is_flag=True, help="Include files whose name starts with '.'.")
@click.option("-n", "--only-hash", is_flag=True, help="Only compute CIDs; store nothing.")
@click.option("--pin/--no-pin", default=True, show_default=True, help="Pin the root.")
def add_cmd(
    path: Path,
    cid_version: str,
    raw_leaves: bool | None,
    quieter: bool,
    quiet: bool,
    hidden: bool,
    only_hash: bool,
    pin: bool,
) -> None:
    """Add a file, or a folder recursively (like `ipfs add -r`), and print its CID."""
    store = _store()
    with _user_errors():
        entries = store.add_path_entries(
            path,
            cid_version=int(cid_version),
            pin=pin,
            raw_leaves=raw_leaves,
            include_hidden=hidden,
            only_hash=only_hash,
        )
    if quieter:
        click.echo(entries[-1].cid)
        return
    for entry in entries:
        click.echo(entry.cid if quiet else f"added {entry.cid} {entry.name}")


@ipfs.command("cat")
@click.argument("cid_path", metavar="CID[/PATH]")
def cat_cmd(cid_path: str) -> None:
    """Write a file's bytes to stdout."""
    store = _store()
    out = sys.stdout.buffer  # bytes, untouched by any text encoding
    with _user_errors():
        if isinstance(store, EmbeddedIpfs):
            for piece in store.cat_iter(cid_path):
                out.write(piece)
        else:
            out.write(store.cat(cid_path))
    out.flush()


@ipfs.command("export-car")
@click.argument("cid")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_car_cmd(cid: str, file: Path) -> None:
    """Write the DAG under CID to FILE as a CARv1 (`ipfs dag export`), for `ipfs dag import`
    on any Kubo node or a pinning service."""
    store = _store()
    with _user_errors():
        count = store.export_car(cid, file)
    click.echo(f"exported {cid} to {file} ({count} blocks)", err=True)


@ipfs.command("import-car")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_car_cmd(file: Path) -> None:
    """Import a CAR file (every block is verified) and pin its roots; print the roots."""
    store = _store()
    with _user_errors():
        roots = store.import_car(file)
    for root in roots:
        click.echo(root)


@ipfs.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=DEFAULT_IPFS_PORT, show_default=True, type=int)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A browser origin (scheme://host:port) whose pages may call the API, like Kubo's "
    "API.HTTPHeaders Access-Control-Allow-Origin; repeatable. Others get 403.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Another name clients reach the API by (the Host header); repeatable. The API's own "
    "addresses always work; other names get 403 (DNS rebinding).",
)
def serve_cmd(
    host: str, port: int, allow_origins: tuple[str, ...], allow_hosts: tuple[str, ...]
) -> None:
    """Serve the embedded store over Kubo's RPC API (/api/v0), until Ctrl-C.

    Like Kubo, it refuses browser requests from origins it was not told to trust and Host
    names that are not its own, cuts off clients that send too slowly, and warns loudly when
    bound beyond loopback: the RPC API is an admin interface without authentication.
    """
    from dt_platform.trust.ipfs.kubo_rpc_server import serve

    store = _store()
    if not isinstance(store, EmbeddedIpfs):
        raise click.ClickException(
            "DT_IPFS_API is set, so the store is a Kubo node already; unset it to serve the "
            "embedded store"
        )
    try:
        serve(store, host, port, allow_hosts=allow_hosts, allow_origins=allow_origins)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(ipfs())
