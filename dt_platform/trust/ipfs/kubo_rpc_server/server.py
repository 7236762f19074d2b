"""The HTTP server around the embedded store: make it, serve in the foreground, or in a thread."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.kubo_rpc_server.handler import RpcHandler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: EmbeddedIpfs, verbose: bool) -> None:
        self.store = store
        self.verbose = verbose
        super().__init__(address, RpcHandler)


def make_server(
    store: EmbeddedIpfs, host: str = "127.0.0.1", port: int = 5001, *, verbose: bool = False
) -> ThreadingHTTPServer:
    """A ready-to-run server (``port=0`` picks a free port: read ``server.server_address``)."""
    if not isinstance(store, EmbeddedIpfs):
        raise TypeError("the RPC server exposes an EmbeddedIpfs store")
    return _Server((host, port), store, verbose)


def serve(store: EmbeddedIpfs, host: str = "127.0.0.1", port: int = 5001) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = make_server(store, host, port, verbose=True)
    bound_host, bound_port = server.server_address[:2]
    print(
        f"Kubo RPC API (embedded store {store.root}) on http://{bound_host}:{bound_port}/api/v0 "
        f"— set DT_IPFS_API=http://{bound_host}:{bound_port} to use it",
        file=sys.stderr,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextlib.contextmanager
def running_server(store: EmbeddedIpfs, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the server in a background thread; yield its base URL (``http://host:port``)."""
    server = make_server(store, host, port)
    thread = threading.Thread(target=server.serve_forever, name="kubo-rpc", daemon=True)
    thread.start()
    try:
        bound_host, bound_port = server.server_address[:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
