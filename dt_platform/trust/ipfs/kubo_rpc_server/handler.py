"""The request handler: read the request within its time limits, refuse hosts and origins the
API does not trust, dispatch it to its endpoint, answer failures as Kubo does."""

from __future__ import annotations

import io
import urllib.parse
from typing import Any

from dt_platform.trust.ipfs.car import CarError
from dt_platform.trust.ipfs.cids import CidError
from dt_platform.trust.ipfs.errors import IpfsError, IpfsNotFound
from dt_platform.trust.ipfs.kubo_rpc_server.bodies import ChunkedReader, LengthReader, drain
from dt_platform.trust.ipfs.kubo_rpc_server.connection import DeadlineReader
from dt_platform.trust.ipfs.kubo_rpc_server.endpoints import ROUTES
from dt_platform.trust.ipfs.kubo_rpc_server.errors import ClientError
from dt_platform.trust.ipfs.kubo_rpc_server.guard import FORBIDDEN
from dt_platform.trust.ipfs.kubo_rpc_server.responses import Responder


class RpcHandler(Responder):
    """One connection to the RPC API (``http.server`` makes one per connection)."""

    def setup(self) -> None:
        super().setup()
        self._reader = DeadlineReader(self.connection, self.server.idle_timeout)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        # the request line and headers must arrive in time; parse_request lifts the deadline
        self._reader.start_deadline(self.server.header_timeout)
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self._reader.clear_deadline()
        return parsed

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _refused(self) -> bool:
        """Answer 403 (and close) if the Host or Origin is not trusted, as Kubo does."""
        why = self.server.guard.refusal(self.headers)
        if why is None:
            return False
        self.log_error("API blocked request to %s: %s", self.path[:200], why)
        self.close_connection = True  # the body, if any, is not read
        self.send_body(403, FORBIDDEN, "text/plain; charset=utf-8", {"Connection": "close"})
        return True

    def _body(self) -> Any:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return ChunkedReader(self.rfile)  # type: ignore[arg-type]
        return LengthReader(self.rfile, int(self.headers.get("Content-Length") or 0))  # type: ignore[arg-type]

    def do_POST(self) -> None:
        if self._refused():
            return
        url = urllib.parse.urlsplit(self.path)
        multi = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        params = {k: v[-1] for k, v in multi.items()}
        route = url.path.rstrip("/")
        body = self._body()
        handler = ROUTES.get(route)
        if handler is None:
            drain(body)
            self.send_body(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        try:
            handler(self, params, multi, body)
        except ClientError as exc:
            self._fail(body, 400, str(exc), 1)
        except (IpfsNotFound, IpfsError, CidError, CarError, ValueError) as exc:
            self._fail(body, 500, str(exc), 0)
        except Exception as exc:  # a bug: report it like Kubo would rather than drop the socket
            self._fail(body, 500, f"internal error: {type(exc).__name__}: {exc}", 0)

    def _fail(self, body: Any, status: int, message: str, code: int) -> None:
        try:
            drain(body)
        except Exception:
            self.close_connection = True
        self.send_rpc_error(status, message, code)

    def _method_not_allowed(self) -> None:
        if self._refused():
            return
        self.close_connection = True
        self.send_body(405, b"405 - Method Not Allowed\n", "text/plain; charset=utf-8")

    do_GET = do_PUT = do_DELETE = do_HEAD = _method_not_allowed
