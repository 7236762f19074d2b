"""Request bodies: ``Transfer-Encoding: chunked`` or ``Content-Length``, read as a stream."""

from __future__ import annotations

from typing import Any, BinaryIO

from dt_platform.trust.ipfs.kubo_rpc_server.errors import ClientError

READ_SIZE = 1 << 16


class ChunkedReader:
    """Decode an HTTP/1.1 ``Transfer-Encoding: chunked`` body (requests sends generators so)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._left = 0
        self._done = False

    def read(self, n: int = -1) -> bytes:
        if self._done:
            return b""
        if self._left == 0:
            line = self._raw.readline(1024)
            try:
                self._left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ClientError(f"malformed chunked body (chunk size line {line!r})") from None
            if self._left == 0:
                while self._raw.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return b""
        want = self._left if n < 0 else min(n, self._left)
        data = self._raw.read(want)
        if not data:
            raise ClientError("request body ended inside a chunk")
        self._left -= len(data)
        if self._left == 0:
            self._raw.readline(8)  # CRLF after the chunk
        return data


class LengthReader:
    def __init__(self, raw: BinaryIO, length: int) -> None:
        self._raw = raw
        self._left = length

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if n < 0 else min(n, self._left)
        data = self._raw.read(want)
        self._left -= len(data)
        if not data:
            self._left = 0
        return data


def drain(reader: Any) -> None:
    while reader.read(READ_SIZE):
        pass
