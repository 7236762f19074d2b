"""A Kubo-compatible RPC API over the embedded store (``dt-platform ipfs serve``).

Answers the subset of ``/api/v0`` the platform and its clients use, with Kubo's wire format, so
``ipfshttpclient`` (and so :class:`~dt_platform.trust.ipfs.backends.KuboIpfs`) or ``curl`` scripts
written for Kubo work against the embedded store:

==========================  ===============================================================
``POST /api/v0/add``        multipart files/directories (flat ``dir%2Ffile`` names as Kubo's
                            CLI and ipfshttpclient send them, in any order); NDJSON lines
                            ``{"Name","Hash","Size"}``; ``cid-version`` (default 0, like Kubo),
                            ``raw-leaves``, ``pin``, ``only-hash``, ``quieter``/``quiet``,
                            ``wrap-with-directory``, ``trickle``, ``chunker=size-N``, ``hash``
``POST /api/v0/cat``        ``arg=CID[/path]``, ``offset``, ``length``; streamed bytes
``POST /api/v0/block/get``  raw block; ``block/stat`` → ``{"Key","Size"}``
``POST /api/v0/pin/add``    recursive pin → ``{"Pins": [...]}``; ``pin/ls`` → ``{"Keys": {...}}``
``POST /api/v0/dag/export`` CARv1 stream; ``dag/import`` (multipart CAR) → ``{"Root": ...}``
``POST /api/v0/version``    ``{"Version", "Commit", "Repo", "System", "Golang"}``
==========================  ===============================================================

Errors are Kubo's JSON ``{"Message", "Code", "Type": "error"}``: HTTP 500 with Code 0, or 400
with Code 1 for a request the client must fix (missing ``arg``, unsupported option). Like Kubo,
only POST is accepted. It binds 127.0.0.1 by default: the RPC API is an admin interface.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import platform
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

from dt_platform import __version__
from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.car import CarError, import_car, write_car
from dt_platform.trust.ipfs.cids import CidError, cid_from_str, cid_to_str
from dt_platform.trust.ipfs.errors import IpfsError, IpfsNotFound
from dt_platform.trust.ipfs.reader import file_size, iter_file, resolve_path, walk_dag
from dt_platform.trust.ipfs.unixfs import ImportedNode, ImportOptions, UnixFSImporter

__all__ = ["RPC_VERSION", "make_server", "running_server", "serve"]

RPC_VERSION = f"{__version__}-dt-embedded"
_READ_SIZE = 1 << 16
_MAX_HEADER_BYTES = 16 << 10


class ClientError(IpfsError):
    """The request itself is wrong (Kubo answers these with HTTP 400, Code 1)."""


# --- request bodies -----------------------------------------------------------------------------


class _ChunkedReader:
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


class _LengthReader:
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


def _drain(reader: Any) -> None:
    while reader.read(_READ_SIZE):
        pass


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
        data = self._stream.read(_READ_SIZE)
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
                _drain(self._stream)  # epilogue
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
            _drain(part.stream)


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


def _boundary(content_type: str) -> str:
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_maintype() != "multipart":
        raise ClientError(f"expected a multipart/form-data body, got {content_type!r}")
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ClientError("multipart body without a boundary")
    return boundary


# --- add ----------------------------------------------------------------------------------------


def _flag(params: dict[str, str], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in ("", "1", "t", "true", "yes"):
        return True
    if value in ("0", "f", "false", "no"):
        return False
    raise ClientError(f'option "{name}" must be a boolean, got {value!r}')


def _clean_path(name: str) -> list[str]:
    segments = [seg for seg in name.split("/") if seg not in ("", ".")]
    if any(seg == ".." for seg in segments):
        raise ClientError(f"refusing path {name!r}: '..' is not allowed")
    return segments


@dataclass
class _Dir:
    children: dict[str, _Dir | ImportedNode] = field(default_factory=dict)


def _import_options(params: dict[str, str]) -> ImportOptions:
    hash_fn = params.get("hash", "sha2-256")
    if "cid-version" in params:
        try:
            cid_version = int(params["cid-version"])
        except ValueError:
            raise ClientError(
                f"cid-version must be 0 or 1, got {params['cid-version']!r}"
            ) from None
    else:
        cid_version = 0 if hash_fn == "sha2-256" else 1  # Kubo: non-sha256 implies CIDv1
    raw_leaves = _flag(params, "raw-leaves", False) if "raw-leaves" in params else None
    chunker = params.get("chunker", "size-262144")
    if not chunker.startswith("size-"):
        raise ClientError(f"chunker {chunker!r} is not supported here: only size-N")
    try:
        chunk_size = int(chunker[len("size-") :])
    except ValueError:
        raise ClientError(f"bad chunker {chunker!r}") from None
    for unsupported in ("nocopy", "inline", "fscache"):
        if _flag(params, unsupported, False):
            raise ClientError(f'option "{unsupported}" is not supported by the embedded store')
    try:
        return ImportOptions(
            cid_version=cid_version,
            raw_leaves=raw_leaves,
            chunk_size=chunk_size,
            layout="trickle" if _flag(params, "trickle", False) else "balanced",
            hash_function=hash_fn,
        )
    except (ValueError, CidError) as exc:
        raise ClientError(str(exc)) from exc


def handle_add(store: EmbeddedIpfs, params: dict[str, str], parts: Iterator[Part]) -> list[dict]:
    """Import every part, then build directories; return Kubo's output lines (root last)."""
    options = _import_options(params)
    only_hash = _flag(params, "only-hash", False)
    pin = _flag(params, "pin", True)
    wrap = _flag(params, "wrap-with-directory", False)
    quieter = _flag(params, "quieter", False)
    importer = UnixFSImporter(options, sink=None if only_hash else store.blocks)

    top = _Dir()
    lines: list[dict] = []

    def parent_of(segments: list[str]) -> _Dir:
        node = top
        for seg in segments[:-1]:
            child = node.children.get(seg)
            if not isinstance(child, _Dir):  # implicit directory, as Kubo creates
                child = _Dir()
                node.children[seg] = child
            node = child
        return node

    for part in parts:
        segments = _clean_path(part.filename)
        kind = part.content_type
        if kind in ("application/x-directory", "multipart/form-data", "multipart/mixed"):
            if not segments:
                continue
            parent = parent_of(segments)
            if not isinstance(parent.children.get(segments[-1]), _Dir):
                parent.children[segments[-1]] = _Dir()
            continue
        if kind == "application/symlink":
            node = importer.import_symlink(part.stream.read().decode("utf-8", "surrogateescape"))
        else:
            node = importer.import_reader(part.stream)  # type: ignore[arg-type]
        if not segments:  # an unnamed upload is named by its CID, as Kubo does
            segments = [cid_to_str(node.cid)]
        parent_of(segments).children[segments[-1]] = node
        lines.append(_line("/".join(segments), node))

    if not top.children:
        raise ClientError("no files in the request body")

    def build(d: _Dir, prefix: str) -> ImportedNode:
        entries: dict[str, ImportedNode] = {}
        for name in sorted(d.children, key=lambda n: n.encode("utf-8", "surrogateescape")):
            child = d.children[name]
            if isinstance(child, _Dir):
                path = f"{prefix}/{name}" if prefix else name
                child = build(child, path)
                lines.append(_line(path, child))
            entries[name] = child
        return importer.build_directory(entries)

    roots: list[tuple[str, ImportedNode]] = []
    if wrap:
        root = build(top, "")
        lines.append(_line("", root))
        roots.append(("", root))
    else:
        for name in sorted(top.children, key=lambda n: n.encode("utf-8", "surrogateescape")):
            child = top.children[name]
            if isinstance(child, _Dir):
                child = build(child, name)
                lines.append(_line(name, child))
            roots.append((name, child))
    if pin and not only_hash:
        for _, node in roots:
            store.blocks.pin(node.cid)
    if quieter:
        root_names = {name for name, _ in roots}
        lines = [line for line in lines if line["Name"] in root_names]
    return lines


def _line(name: str, node: ImportedNode) -> dict:
    return {"Name": name, "Hash": cid_to_str(node.cid), "Size": str(node.tsize)}


# --- HTTP ---------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"dt-platform-kubo-rpc/{__version__}"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing --

    def _body(self) -> Any:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return _ChunkedReader(self.rfile)  # type: ignore[arg-type]
        return _LengthReader(self.rfile, int(self.headers.get("Content-Length") or 0))  # type: ignore[arg-type]

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any) -> None:
        self._send(200, json.dumps(obj).encode() + b"\n", "application/json")

    def _ndjson(self, lines: list[dict]) -> None:
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        self._send(200, body, "application/json", {"X-Chunked-Output": "1"})

    def _error(self, status: int, message: str, code: int) -> None:
        body = json.dumps({"Message": message, "Code": code, "Type": "error"}).encode() + b"\n"
        self._send(status, body, "application/json")

    def _arg(self, params: dict[str, list[str]]) -> str:
        values = params.get("arg")
        if not values:
            raise ClientError('argument "arg" is required')
        return values[0]

    def _start_chunked(self, content_type: str, extra: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    # -- dispatch --

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        multi = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        params = {k: v[-1] for k, v in multi.items()}
        route = url.path.rstrip("/")
        body = self._body()
        handler = _ROUTES.get(route)
        if handler is None:
            _drain(body)
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
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
            _drain(body)
        except Exception:
            self.close_connection = True
        self._error(status, message, code)

    def _method_not_allowed(self) -> None:
        self.close_connection = True
        self._send(405, b"405 - Method Not Allowed\n", "text/plain; charset=utf-8")

    do_GET = do_PUT = do_DELETE = do_HEAD = _method_not_allowed

    # -- endpoints --

    def api_version(self, params: dict, multi: dict, body: Any) -> None:
        _drain(body)
        self._json(
            {
                "Version": RPC_VERSION,
                "Commit": "",
                "Repo": "embedded",
                "System": f"{platform.machine()}/{sys.platform}",
                "Golang": "",
            }
        )

    def api_add(self, params: dict, multi: dict, body: Any) -> None:
        parts = MultipartReader(body, _boundary(self.headers.get("Content-Type", ""))).parts()
        self._ndjson(handle_add(self.server.store, params, parts))

    def api_cat(self, params: dict, multi: dict, body: Any) -> None:
        _drain(body)
        store = self.server.store
        cid = resolve_path(store.blocks.get, self._arg(multi))
        total = file_size(store.blocks.get, cid)
        offset = int(params.get("offset") or 0)
        length = int(params["length"]) if params.get("length") else None
        if offset < 0 or (length is not None and length < 0):
            raise ClientError("offset and length must be non-negative")
        start = min(offset, total)
        end = total if length is None else min(total, start + length)
        pieces = iter_file(store.blocks.get, cid)
        first = next(pieces, b"")  # fail before the 200 if the first block is missing
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(end - start))
        self.send_header("X-Content-Length", str(total))
        self.send_header("X-Stream-Output", "1")
        self.end_headers()
        pos = 0
        try:
            for piece in itertools.chain((first,), pieces):
                if pos >= end:
                    break
                pos = self._write_range(piece, pos, start, end)
        except (IpfsError, OSError):
            self.close_connection = True  # headers are out: all we can do is cut the stream

    def _write_range(self, piece: bytes, pos: int, start: int, end: int) -> int:
        lo, hi = max(start - pos, 0), min(end - pos, len(piece))
        if lo < hi:
            self.wfile.write(piece[lo:hi])
        return pos + len(piece)

    def api_block_get(self, params: dict, multi: dict, body: Any) -> None:
        _drain(body)
        data = self.server.store.blocks.get(cid_from_str(self._arg(multi)))
        self._send(200, data, "application/octet-stream")

    def api_block_stat(self, params: dict, multi: dict, body: Any) -> None:
        _drain(body)
        arg = self._arg(multi)
        size = self.server.store.blocks.size(cid_from_str(arg))
        self._json({"Key": arg, "Size": size})

    def api_pin_add(self, params: dict, multi: dict, body: Any) -> None:
        _drain(body)
        args = multi.get("arg") or []
        if not args:
            raise ClientError('argument "ipfs-path" is required')
        if not _flag(params, "recursive", True):
            raise ClientError("only recursive pins are supported by the embedded store")
        pinned = []
        for arg in args:
            cid = resolve_path(self.server.store.blocks.get, arg)
            self.server.store.blocks.pin(cid)
            pinned.append(cid_to_str(cid))
        self._json({"Pins": pinned})

    def api_pin_ls(self, params: dict, multi: dict, body: Any) -> None:
        _drain(body)
        store = self.server.store
        wanted = multi.get("arg") or []
        if wanted:
            keys = {}
            for arg in wanted:
                cid = resolve_path(store.blocks.get, arg)
                if not store.blocks.is_pinned(cid):
                    raise IpfsError(f"path '{arg}' is not pinned")
                keys[cid_to_str(cid)] = {"Type": "recursive"}
        else:
            keys = {cid: {"Type": "recursive"} for cid in store.pins()}
        self._json({"Keys": keys})

    def api_dag_export(self, params: dict, multi: dict, body: Any) -> None:
        _drain(body)
        blocks = self.server.store.blocks
        root = resolve_path(blocks.get, self._arg(multi))
        missing = blocks.missing_blocks(root)
        if missing:
            raise IpfsNotFound(
                f"block {cid_to_str(missing[0])} was not found locally (offline), "
                f"so {cid_to_str(root)} cannot be exported"
            )
        self._start_chunked("application/vnd.ipld.car")
        try:
            write_car(_ChunkedWriter(self), [root], walk_dag(blocks.get, root))  # type: ignore[arg-type]
            self._end_chunked()
        except (IpfsError, OSError):
            self.close_connection = True

    def api_dag_import(self, params: dict, multi: dict, body: Any) -> None:
        pin_roots = _flag(params, "pin-roots", True)
        store = self.server.store
        lines = []
        parts = MultipartReader(body, _boundary(self.headers.get("Content-Type", ""))).parts()
        for part in parts:
            # import_car reads a file (it may seek into a CARv2), so spool the part to disk.
            with tempfile.NamedTemporaryFile(dir=store.blocks.root / "tmp", suffix=".car") as tmp:
                while piece := part.stream.read(_READ_SIZE):
                    tmp.write(piece)
                tmp.flush()
                try:
                    roots = import_car(store.blocks, tmp.name, pin_roots=pin_roots)
                except CarError as exc:
                    raise IpfsError(str(exc)) from exc
            for root in roots:
                lines.append({"Root": {"Cid": {"/": root}, "PinErrorMsg": ""}})
        self._ndjson(lines)


class _ChunkedWriter:
    """``write()`` adapter sending each write as one HTTP chunk."""

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler

    def write(self, data: bytes) -> int:
        self._handler._chunk(bytes(data))
        return len(data)


_ROUTES = {
    "/api/v0/version": _Handler.api_version,
    "/api/v0/add": _Handler.api_add,
    "/api/v0/cat": _Handler.api_cat,
    "/api/v0/block/get": _Handler.api_block_get,
    "/api/v0/block/stat": _Handler.api_block_stat,
    "/api/v0/pin/add": _Handler.api_pin_add,
    "/api/v0/pin/ls": _Handler.api_pin_ls,
    "/api/v0/dag/export": _Handler.api_dag_export,
    "/api/v0/dag/import": _Handler.api_dag_import,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: EmbeddedIpfs, verbose: bool) -> None:
        self.store = store
        self.verbose = verbose
        super().__init__(address, _Handler)


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
