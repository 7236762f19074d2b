"""Kubo-shaped HTTP responses: JSON, NDJSON, Kubo's error object, chunked streams."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from dt_platform import __version__
from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.kubo_rpc_server.guard import AccessGuard


class StoreServer(Protocol):
    """What a request handler needs from the server it runs in."""

    store: EmbeddedIpfs
    verbose: bool
    guard: AccessGuard
    header_timeout: float
    idle_timeout: float


class Responder(BaseHTTPRequestHandler):
    """The answering half of a request handler: what the endpoints write their responses with."""

    protocol_version = "HTTP/1.1"
    server_version = f"dt-platform-kubo-rpc/{__version__}"
    server: StoreServer

    def send_body(
        self, status: int, body: bytes, content_type: str, extra: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, obj: Any) -> None:
        self.send_body(200, json.dumps(obj).encode() + b"\n", "application/json")

    def send_ndjson(self, lines: list[dict]) -> None:
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        self.send_body(200, body, "application/json", {"X-Chunked-Output": "1"})

    def send_rpc_error(self, status: int, message: str, code: int) -> None:
        body = json.dumps({"Message": message, "Code": code, "Type": "error"}).encode() + b"\n"
        self.send_body(status, body, "application/json")

    def start_chunked(self, content_type: str, extra: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def write_range(self, piece: bytes, pos: int, start: int, end: int) -> int:
        """Write the part of ``piece`` (at ``pos`` in the file) inside ``[start, end)``."""
        lo, hi = max(start - pos, 0), min(end - pos, len(piece))
        if lo < hi:
            self.wfile.write(piece[lo:hi])
        return pos + len(piece)


class ChunkedWriter:
    """``write()`` adapter sending each write as one HTTP chunk."""

    def __init__(self, responder: Responder) -> None:
        self._responder = responder

    def write(self, data: bytes) -> int:
        self._responder.write_chunk(bytes(data))
        return len(data)
