"""A streaming ``multipart/form-data`` parser: what ``add`` and ``dag/import`` upload."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

from dt_platform.trust.ipfs.kubo_rpc_server.bodies import READ_SIZE, drain
from dt_platform.trust.ipfs.kubo_rpc_server.errors import ClientError

_MAX_HEADER_BYTES = 16 << 10


@dataclass
class Part:
    """One multipart part: lower-cased headers and a stream over its content."""

    headers: dict[str, str]
    stream: _PartStream

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def filename(self) -> str:
        msg = Message()
        msg["content-disposition"] = self.headers.get("content-disposition", "")
        raw = msg.get_param("filename", header="content-disposition")
        if raw is None:
            return ""
        name = raw if isinstance(raw, str) else str(raw[2])
        return urllib.parse.unquote_plus(name)  # Kubo: url.QueryUnescape


class MultipartReader:
    """Streaming ``multipart/form-data`` parser: part contents are never held whole in memory."""

    def __init__(self, stream: Any, boundary: str) -> None:
        self._stream = stream
        self._delim = b"\r\n--" + boundary.encode("latin-1")
        self._buf = bytearray(b"\r\n")  # so the first boundary matches like the others
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._stream.read(READ_SIZE)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _read_until_delim(self) -> Iterator[bytes]:
        """Yield data up to the next delimiter and consume the delimiter."""
        while True:
            idx = self._buf.find(self._delim)
            if idx >= 0:
                if idx:
                    yield bytes(self._buf[:idx])
                del self._buf[: idx + len(self._delim)]
                return
            keep = len(self._delim) - 1
            if len(self._buf) > keep:
                cut = len(self._buf) - keep
                yield bytes(self._buf[:cut])
                del self._buf[:cut]
            if not self._fill():
                raise ClientError("multipart body ended before its closing boundary")

    def _need(self, n: int) -> None:
        while len(self._buf) < n:
            if not self._fill():
                raise ClientError("multipart body is truncated")

    def parts(self) -> Iterator[Part]:
        for _ in self._read_until_delim():
            pass  # preamble
        while True:
            self._need(2)
            if self._buf[:2] == b"--":
                drain(self._stream)  # epilogue
                return
            while True:  # rest of the boundary line (transport padding allowed)
                end = self._buf.find(b"\r\n")
                if end >= 0:
                    del self._buf[: end + 2]
                    break
                if not self._fill():
                    raise ClientError("multipart body is truncated")
            while (end := self._buf.find(b"\r\n\r\n")) < 0:
                if len(self._buf) > _MAX_HEADER_BYTES or not self._fill():
                    raise ClientError("multipart part headers are malformed or too long")
            raw_headers = bytes(self._buf[:end]).decode("utf-8", "replace")
            del self._buf[: end + 4]
            headers: dict[str, str] = {}
            for line in raw_headers.split("\r\n"):
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            part = Part(headers, _PartStream(self._read_until_delim()))
            yield part
            drain(part.stream)


class _PartStream:
    """File-like ``read(n)`` over a part's content (what the importer's chunker consumes)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buf = b""
        self._done = False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            out = [self._buf, *self._pieces]
            self._buf = b""
            self._done = True
            return b"".join(out)
        while len(self._buf) < n and not self._done:
            piece = next(self._pieces, None)
            if piece is None:
                self._done = True
            else:
                self._buf = self._buf + piece if self._buf else piece
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def boundary_of(content_type: str) -> str:
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_maintype() != "multipart":
        raise ClientError(f"expected a multipart/form-data body, got {content_type!r}")
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ClientError("multipart body without a boundary")
    return boundary
