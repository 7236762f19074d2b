"""The ``/api/v0`` endpoints: each reads its query and body and answers in Kubo's wire format.

Every endpoint is called as ``endpoint(handler, params, multi, body)``: ``params`` holds the last
value of each query option, ``multi`` all of them (``arg`` may repeat), ``body`` the request body,
which an endpoint that does not read it drains so the connection can be reused.
"""

from __future__ import annotations

import itertools
import platform
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from dt_platform import __version__
from dt_platform.trust.ipfs.car import CarError, import_car, write_car
from dt_platform.trust.ipfs.cids import cid_from_str, cid_to_str
from dt_platform.trust.ipfs.errors import IpfsError, IpfsNotFound
from dt_platform.trust.ipfs.kubo_rpc_server.add import handle_add
from dt_platform.trust.ipfs.kubo_rpc_server.bodies import READ_SIZE, drain
from dt_platform.trust.ipfs.kubo_rpc_server.errors import ClientError
from dt_platform.trust.ipfs.kubo_rpc_server.multipart import MultipartReader, boundary_of
from dt_platform.trust.ipfs.kubo_rpc_server.params import arg, flag
from dt_platform.trust.ipfs.kubo_rpc_server.responses import ChunkedWriter, Responder
from dt_platform.trust.ipfs.reader import file_size, iter_file, resolve_path, walk_dag

RPC_VERSION = f"{__version__}-dt-embedded"

Endpoint = Callable[[Responder, dict, dict, Any], None]


def api_version(h: Responder, params: dict, multi: dict, body: Any) -> None:
    drain(body)
    h.send_json(
        {
            "Version": RPC_VERSION,
            "Commit": "",
            "Repo": "embedded",
            "System": f"{platform.machine()}/{sys.platform}",
            "Golang": "",
        }
    )


def api_add(h: Responder, params: dict, multi: dict, body: Any) -> None:
    parts = MultipartReader(body, boundary_of(h.headers.get("Content-Type", ""))).parts()
    h.send_ndjson(handle_add(h.server.store, params, parts))


def api_cat(h: Responder, params: dict, multi: dict, body: Any) -> None:
    drain(body)
    store = h.server.store
    cid = resolve_path(store.blocks.get, arg(multi))
    total = file_size(store.blocks.get, cid)
    offset = int(params.get("offset") or 0)
    length = int(params["length"]) if params.get("length") else None
    if offset < 0 or (length is not None and length < 0):
        raise ClientError("offset and length must be non-negative")
    start = min(offset, total)
    end = total if length is None else min(total, start + length)
    pieces = iter_file(store.blocks.get, cid)
    first = next(pieces, b"")  # fail before the 200 if the first block is missing
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", str(end - start))
    h.send_header("X-Content-Length", str(total))
    h.send_header("X-Stream-Output", "1")
    h.end_headers()
    pos = 0
    try:
        for piece in itertools.chain((first,), pieces):
            if pos >= end:
                break
            pos = h.write_range(piece, pos, start, end)
    except (IpfsError, OSError):
        h.close_connection = True  # headers are out: all we can do is cut the stream


def api_block_get(h: Responder, params: dict, multi: dict, body: Any) -> None:
    drain(body)
    data = h.server.store.blocks.get(cid_from_str(arg(multi)))
    h.send_body(200, data, "application/octet-stream")


def api_block_stat(h: Responder, params: dict, multi: dict, body: Any) -> None:
    drain(body)
    cid = arg(multi)
    size = h.server.store.blocks.size(cid_from_str(cid))
    h.send_json({"Key": cid, "Size": size})


def api_pin_add(h: Responder, params: dict, multi: dict, body: Any) -> None:
    drain(body)
    args = multi.get("arg") or []
    if not args:
        raise ClientError('argument "ipfs-path" is required')
    if not flag(params, "recursive", True):
        raise ClientError("only recursive pins are supported by the embedded store")
    pinned = []
    for path in args:
        cid = resolve_path(h.server.store.blocks.get, path)
        h.server.store.blocks.pin(cid)
        pinned.append(cid_to_str(cid))
    h.send_json({"Pins": pinned})


def api_pin_ls(h: Responder, params: dict, multi: dict, body: Any) -> None:
    drain(body)
    store = h.server.store
    wanted = multi.get("arg") or []
    if wanted:
        keys = {}
        for path in wanted:
            cid = resolve_path(store.blocks.get, path)
            if not store.blocks.is_pinned(cid):
                raise IpfsError(f"path '{path}' is not pinned")
            keys[cid_to_str(cid)] = {"Type": "recursive"}
    else:
        keys = {cid: {"Type": "recursive"} for cid in store.pins()}
    h.send_json({"Keys": keys})


def api_dag_export(h: Responder, params: dict, multi: dict, body: Any) -> None:
    drain(body)
    blocks = h.server.store.blocks
    root = resolve_path(blocks.get, arg(multi))
    missing = blocks.missing_blocks(root)
    if missing:
        raise IpfsNotFound(
            f"block {cid_to_str(missing[0])} was not found locally (offline), "
            f"so {cid_to_str(root)} cannot be exported"
        )
    h.start_chunked("application/vnd.ipld.car")
    try:
        write_car(ChunkedWriter(h), [root], walk_dag(blocks.get, root))  # type: ignore[arg-type]
        h.end_chunked()
    except (IpfsError, OSError):
        h.close_connection = True


def api_dag_import(h: Responder, params: dict, multi: dict, body: Any) -> None:
    pin_roots = flag(params, "pin-roots", True)
    store = h.server.store
    lines = []
    parts = MultipartReader(body, boundary_of(h.headers.get("Content-Type", ""))).parts()
    for part in parts:
        # import_car reads a file (it may seek into a CARv2), so spool the part to disk.
        with tempfile.NamedTemporaryFile(dir=store.blocks.root / "tmp", suffix=".car") as tmp:
            while piece := part.stream.read(READ_SIZE):
                tmp.write(piece)
            tmp.flush()
            try:
                roots = import_car(store.blocks, tmp.name, pin_roots=pin_roots)
            except CarError as exc:
                raise IpfsError(str(exc)) from exc
        for root in roots:
            lines.append({"Root": {"Cid": {"/": root}, "PinErrorMsg": ""}})
    h.send_ndjson(lines)


ROUTES: dict[str, Endpoint] = {
    "/api/v0/version": api_version,
    "/api/v0/add": api_add,
    "/api/v0/cat": api_cat,
    "/api/v0/block/get": api_block_get,
    "/api/v0/block/stat": api_block_stat,
    "/api/v0/pin/add": api_pin_add,
    "/api/v0/pin/ls": api_pin_ls,
    "/api/v0/dag/export": api_dag_export,
    "/api/v0/dag/import": api_dag_import,
}
