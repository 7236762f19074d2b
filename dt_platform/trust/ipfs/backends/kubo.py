"""A real Kubo node through its RPC API with ``ipfshttpclient``, selected when ``DT_IPFS_API``
is set. Every call passes ``cid-version`` and ``raw-leaves`` explicitly (the client otherwise
sends ``raw-leaves=false``), so both backends give the same CID for the same content."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import stat
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from dt_platform.fileio import atomic_path
from dt_platform.trust.ipfs.backends.interface import AddEntry, _raw_leaves_for
from dt_platform.trust.ipfs.car import iter_car, read_car_header
from dt_platform.trust.ipfs.cids import cid_from_str
from dt_platform.trust.ipfs.errors import IpfsError, IpfsNotFound, IpfsUnavailable
from dt_platform.trust.ipfs.unixfs import (
    ImportOptions,
    UnsupportedFileType,
    is_hidden,
)

# --- Kubo ---------------------------------------------------------------------------------------


def api_to_multiaddr(api: str) -> tuple[str, str]:
    """``(multiaddr, base path)`` for ipfshttpclient from a multiaddr or an ``http(s)://`` URL."""
    api = api.strip()
    if api.startswith("/"):
        return api, "api/v0"
    url = urllib.parse.urlsplit(api if "://" in api else f"http://{api}")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(
            f"DT_IPFS_API={api!r} is neither a multiaddr (/ip4/127.0.0.1/tcp/5001/http) "
            "nor an http(s) URL (http://127.0.0.1:5001)"
        )
    host = url.hostname
    try:
        ip = ipaddress.ip_address(host)
        host_part = f"/ip{ip.version}/{host}"
    except ValueError:
        host_part = f"/dns/{host}"
    port = url.port or (443 if url.scheme == "https" else 5001)
    base = url.path.strip("/") or "api/v0"
    return f"{host_part}/tcp/{port}/{url.scheme}", base


T = TypeVar("T")


def _quote_name(name: str) -> str:
    # Go's url.QueryEscape, which Kubo's multipart reader undoes with url.QueryUnescape.
    return urllib.parse.quote_plus(name, safe="")


def multipart_tree(
    path: Path, *, include_hidden: bool = False, boundary: str | None = None
) -> tuple[Iterator[bytes], dict[str, str]]:
    """A multipart ``/api/v0/add`` body for a file or folder, laid out like the Kubo CLI sends it.

    Depth-first, names sorted bytewise, each directory's part before its entries, hidden entries
    skipped, symlinks as ``application/symlink``. Kubo's multipart reader is streaming and
    order-sensitive (entries of a directory it has left are dropped), which is why this body is
    built here instead of with ``ipfshttpclient``'s directory scanner: that one walks top-down
    with files after sub-directories and does not skip nested dot-files.
    """
    boundary = boundary or uuid.uuid4().hex
    delim = f"--{boundary}\r\n".encode("ascii")

    def head(name: str, content_type: str) -> bytes:
        return (
            delim
            + f'Content-Disposition: form-data; name="file"; filename="{_quote_name(name)}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode("ascii")
        )

    # List everything first, so an unsupported entry fails before any byte is sent.
    plan: list[tuple[str, str, Path]] = []

    def scan(p: Path, rel: str) -> None:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            plan.append((rel, "application/symlink", p))
        elif stat.S_ISREG(st.st_mode):
            plan.append((rel, "application/octet-stream", p))
        elif stat.S_ISDIR(st.st_mode):
            plan.append((rel, "application/x-directory", p))
            with os.scandir(p) as it:
                names = sorted(
                    (e.name for e in it), key=lambda n: n.encode("utf-8", "surrogateescape")
                )
            for name in names:
                if include_hidden or not is_hidden(name):
                    scan(p / name, f"{rel}/{name}")
        else:
            raise UnsupportedFileType(
                f"{p}: only regular files, directories and symlinks can be added to IPFS"
            )

    scan(path, path.name or path.resolve().name)

    def body() -> Iterator[bytes]:
        for rel, content_type, p in plan:
            yield head(rel, content_type)
            if content_type == "application/symlink":
                yield os.fsencode(os.readlink(p))
            elif content_type == "application/octet-stream":
                with open(p, "rb") as fh:
                    while piece := fh.read(1 << 20):
                        yield piece
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode("ascii")

    return body(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


class KuboIpfs:
    """A Kubo node through its RPC API (``ipfs daemon``, port 5001 by default).

    The ``ipfshttpclient.Client`` is built directly: ``ipfshttpclient.connect()`` checks the
    daemon version and refuses every Kubo release after 0.8, although the RPC calls used here
    have not changed since.
    """

    def __init__(self, api: str, *, timeout: float = 120.0, connect_timeout: float = 5.0) -> None:
        import ipfshttpclient

        # ipfshttpclient 0.7 passes urllib3 an argument urllib3 2.x only warns about.
        warnings.filterwarnings(
            "ignore", message="The 'strict' parameter is no longer needed", category=FutureWarning
        )

        self.api = api
        addr, base = api_to_multiaddr(api)
        try:
            self._client = ipfshttpclient.Client(addr, base, timeout=(connect_timeout, timeout))
        except ipfshttpclient.exceptions.AddressError as exc:
            raise ValueError(
                f"DT_IPFS_API={api!r} is not a usable Kubo RPC address: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"KuboIpfs({self.api!r})"

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate ipfshttpclient exceptions into the IpfsError family with advice."""
        from ipfshttpclient import exceptions as exc

        try:
            yield
        except (exc.ConnectionError, exc.TimeoutError, exc.ProtocolError) as err:
            raise IpfsUnavailable(
                f"Kubo RPC at {self.api} is unreachable while {what} ({err}). Start the node "
                "(`ipfs daemon`) or unset DT_IPFS_API to use the embedded store."
            ) from err
        except exc.ErrorResponse as err:
            message = str(err)
            if "not found" in message or "no link named" in message:
                raise IpfsNotFound(f"Kubo while {what}: {message}") from err
            raise IpfsError(f"Kubo refused {what}: {message}") from err
        except exc.StatusError as err:
            raise IpfsError(
                f"{self.api} answered {what} with an HTTP error ({err}); is DT_IPFS_API the Kubo "
                "RPC endpoint (port 5001), not the gateway (8080)?"
            ) from err
        except exc.Error as err:
            raise IpfsError(f"Kubo RPC error while {what}: {err}") from err

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._errors(what):
            return fn(*args, **kwargs)

    def _add_opts(
        self, cid_version: int, pin: bool, raw_leaves: bool | None, only_hash: bool = False
    ) -> dict[str, str]:
        ImportOptions(cid_version=cid_version)  # validates the version like the embedded store
        return {
            "cid-version": str(cid_version),
            "raw-leaves": "true" if _raw_leaves_for(cid_version, raw_leaves) else "false",
            "pin": "true" if pin and not only_hash else "false",
            "only-hash": "true" if only_hash else "false",
            "chunker": "size-262144",
            "trickle": "false",
        }

    def add_bytes(
        self,
        data: bytes,
        *,
        cid_version: int = 1,
        pin: bool = True,
        raw_leaves: bool | None = None,
    ) -> str:
        opts = self._add_opts(cid_version, pin, raw_leaves)
        return self._call("adding bytes", self._client.add_bytes, data, opts=opts)

    def add_path_entries(
        self,
        path: str | os.PathLike[str],
        *,
        cid_version: int = 1,
        pin: bool = True,
        raw_leaves: bool | None = None,
        include_hidden: bool = False,
        only_hash: bool = False,
    ) -> list[AddEntry]:
        """``ipfs add -r PATH`` on the node: every entry, the root last."""
        path = Path(path)
        opts = self._add_opts(cid_version, pin, raw_leaves, only_hash)
        body, headers = multipart_tree(path, include_hidden=include_hidden)
        # Client.add() would rebuild the body with its own scanner (see multipart_tree), so the
        # request goes through the client's transport, which is the part of it we rely on.
        lines = self._call(
            f"adding {path}",
            self._client._client.request,
            "/add",
            decoder="json",
            data=body,
            headers=headers,
            opts=opts,
        )
        entries = [
            AddEntry(line["Name"], line["Hash"], int(line.get("Size") or 0))
            for line in lines
            if "Hash" in line
        ]
        root_name = path.name or path.resolve().name
        roots = [e for e in entries if e.name == root_name]
        if not roots:
            raise IpfsError(f"Kubo returned no entry for {root_name!r} when adding {path}")
        others = [e for e in entries if e.name != root_name]
        return [*others, roots[-1]]

    def add_path(
        self,
        path: str | os.PathLike[str],
        *,
        cid_version: int = 1,
        pin: bool = True,
        raw_leaves: bool | None = None,
        include_hidden: bool = False,
        only_hash: bool = False,
    ) -> str:
        return self.add_path_entries(
            path,
            cid_version=cid_version,
            pin=pin,
            raw_leaves=raw_leaves,
            include_hidden=include_hidden,
            only_hash=only_hash,
        )[-1].cid

    def cat(self, cid_or_path: str) -> bytes:
        return self._call(f"reading {cid_or_path}", self._client.cat, cid_or_path)

    def pin(self, cid: str) -> None:
        cid_from_str(cid)  # fail early, locally, on a malformed CID
        self._call(f"pinning {cid}", self._client.pin.add, cid)

    def has(self, cid: str) -> bool:
        """Is the block stored on the node? Asked offline, so it never searches the network."""
        cid_from_str(cid)
        try:
            self._call(f"checking {cid}", self._client.block.stat, cid, opts={"offline": "true"})
        except IpfsNotFound:
            return False
        except IpfsUnavailable:
            raise
        except IpfsError:
            return False
        return True

    def version(self) -> str:
        info = self._call("asking its version", self._client.version)
        return f"kubo/{info['Version']}"

    def export_car(self, cid: str, path: str | os.PathLike[str]) -> int:
        """``ipfs dag export`` on the node, streamed into ``path``; returns the block count.

        The CAR is checked (every block against its CID) before it is renamed into place.
        """
        with atomic_path(path, make_parents=False) as tmp:
            with self._errors(f"exporting {cid}"), open(tmp, "wb") as fh:
                for chunk in self._client.dag.export(cid, stream=True):
                    fh.write(chunk)
            with open(tmp, "rb") as fh:
                read_car_header(fh)
                return sum(1 for _ in iter_car(fh))

    def import_car(self, path: str | os.PathLike[str]) -> list[str]:
        """``ipfs dag import`` on the node; returns the roots it reports."""
        from ipfshttpclient import multipart

        with open(path, "rb") as fh:
            body, headers = multipart.stream_files(fh)
            lines = self._call(
                f"importing {path}",
                self._client._client.request,
                "/dag/import",
                decoder="json",
                data=body,
                headers=headers,
            )
        roots = []
        for line in lines:
            root = line.get("Root")
            if root:
                if root.get("PinErrorMsg"):
                    raise IpfsError(f"Kubo could not pin {root['Cid']['/']}: {root['PinErrorMsg']}")
                roots.append(root["Cid"]["/"])
        return roots
