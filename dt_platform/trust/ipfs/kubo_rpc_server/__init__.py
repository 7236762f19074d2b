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
only POST is accepted. It binds 127.0.0.1 by default: the RPC API is an admin interface. Like
Kubo, it answers ``403 - Forbidden`` to a browser request whose ``Origin`` or ``Referer`` is not
an allowed origin, and (against DNS rebinding) to a ``Host`` that is not one of its own
addresses; it cuts off clients whose headers arrive too slowly or that stall, queues a real
backlog of connections, bounds its threads, and warns loudly when bound beyond loopback.

Modules: :mod:`.server` (the HTTP server), :mod:`.guard` (Host and Origin checks, the
exposure warning), :mod:`.connection` (read time limits), :mod:`.handler` (dispatch and errors),
:mod:`.endpoints` (one function per endpoint), :mod:`.responses` (JSON, NDJSON, chunked output),
:mod:`.add` (``add``), :mod:`.multipart` and :mod:`.bodies` (reading uploads), :mod:`.params`.
"""

from dt_platform.trust.ipfs.kubo_rpc_server.add import handle_add
from dt_platform.trust.ipfs.kubo_rpc_server.endpoints import RPC_VERSION
from dt_platform.trust.ipfs.kubo_rpc_server.errors import ClientError
from dt_platform.trust.ipfs.kubo_rpc_server.guard import AccessGuard, exposure_warning
from dt_platform.trust.ipfs.kubo_rpc_server.multipart import MultipartReader, Part
from dt_platform.trust.ipfs.kubo_rpc_server.server import make_server, running_server, serve

__all__ = [
    "RPC_VERSION",
    "AccessGuard",
    "ClientError",
    "MultipartReader",
    "Part",
    "exposure_warning",
    "handle_add",
    "make_server",
    "running_server",
    "serve",
]
