"""The HTTP server around the embedded store: make it, serve in the foreground, or in a thread.

It accepts a real backlog of connections, serves each in its own thread up to
``max_connections`` at once (beyond that a connection gets ``503`` at once instead of a thread),
cuts off clients that send their headers too slowly or stall (:mod:`.connection`), answers only
its own ``Host`` names and trusted origins (:mod:`.guard`), and warns loudly when it is bound
beyond loopback.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from http.server import ThreadingHTTPServer

from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.kubo_rpc_server.guard import AccessGuard, exposure_warning
from dt_platform.trust.ipfs.kubo_rpc_server.handler import RpcHandler

log = logging.getLogger(__name__)

BACKLOG = 1024
"""Connections the kernel queues before the server accepts them (capped by ``somaxconn``)."""
HEADER_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 60.0
MAX_CONNECTIONS = 256

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 33\r\nConnection: close\r\n\r\n503 - too many open connections\r\n"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        store: EmbeddedIpfs,
        verbose: bool,
        *,
        allow_hosts: Iterable[str],
        allow_origins: Iterable[str],
        header_timeout: float,
        idle_timeout: float,
        max_connections: int,
    ) -> None:
        self.store = store
        self.verbose = verbose
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RpcHandler)
        self.guard = AccessGuard.for_address(
            address[0],
            self.server_address[1],
            allow_hosts=allow_hosts,
            allow_origins=allow_origins,
        )

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(
    store: EmbeddedIpfs,
    host: str = "127.0.0.1",
    port: int = 5001,
    *,
    verbose: bool = False,
    allow_hosts: Iterable[str] = (),
    allow_origins: Iterable[str] = (),
    header_timeout: float = HEADER_TIMEOUT_S,
    idle_timeout: float = IDLE_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
) -> ThreadingHTTPServer:
    """A ready-to-run server (``port=0`` picks a free port: read ``server.server_address``).

    ``allow_hosts`` adds names clients may use in ``Host`` (the API's own addresses always
    work); ``allow_origins`` adds browser origins allowed to call it (``*`` allows any page).
    """
    if not isinstance(store, EmbeddedIpfs):
        raise TypeError("the RPC server exposes an EmbeddedIpfs store")
    server = _Server(
        (host, port),
        store,
        verbose,
        allow_hosts=allow_hosts,
        allow_origins=allow_origins,
        header_timeout=header_timeout,
        idle_timeout=idle_timeout,
        max_connections=max_connections,
    )
    warning = exposure_warning(host, server.server_address[1])
    if warning:
        log.warning(warning)
    return server


def serve(
    store: EmbeddedIpfs,
    host: str = "127.0.0.1",
    port: int = 5001,
    *,
    allow_hosts: Iterable[str] = (),
    allow_origins: Iterable[str] = (),
) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = make_server(
        store, host, port, verbose=True, allow_hosts=allow_hosts, allow_origins=allow_origins
    )
    bound_host, bound_port = server.server_address[:2]
    warning = exposure_warning(host, bound_port)
    if warning:
        bar = "!" * 100
        print(f"{bar}\n{warning}\n{bar}", file=sys.stderr)
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
def running_server(
    store: EmbeddedIpfs, host: str = "127.0.0.1", port: int = 0, **options
) -> Iterator[str]:
    """Run the server in a background thread; yield its base URL (``http://host:port``).
    ``options`` are :func:`make_server`'s."""
    server = make_server(store, host, port, **options)
    thread = threading.Thread(target=server.serve_forever, name="kubo-rpc", daemon=True)
    thread.start()
    try:
        bound_host, bound_port = server.server_address[:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
