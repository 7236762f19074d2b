"""KuboIpfs (real ipfshttpclient over real HTTP) against the Kubo-compatible RPC server.

The server runs the embedded store on a free local port; every CID the Kubo path returns must
equal what the embedded store computes directly.
"""

from __future__ import annotations

import io
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import ipfshttpclient
import pytest

from dt_platform.config import Settings
from dt_platform.trust.ipfs.backends import (
    EmbeddedIpfs,
    IpfsStore,
    KuboIpfs,
    api_to_multiaddr,
    open_ipfs,
)
from dt_platform.trust.ipfs.errors import IpfsError, IpfsNotFound, IpfsUnavailable
from dt_platform.trust.ipfs.kubo_rpc_server import MultipartReader, running_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[EmbeddedIpfs, str]]:
    store = EmbeddedIpfs(tmp_path / "served", sync=False)
    with running_server(store) as url:
        yield store, url


@pytest.fixture
def local(tmp_path: Path) -> EmbeddedIpfs:
    return EmbeddedIpfs(tmp_path / "local", sync=False)


def _snapshot(root: Path) -> Path:
    snap = root / "2024-01-01"
    (snap / "tables" / "deep").mkdir(parents=True)
    (snap / "manifest.json").write_text('{"rows": 3}\n')
    (snap / "tables" / "telemetry.parquet").write_bytes(os.urandom(600_000))
    (snap / "tables" / "deep" / "naïve name + space.txt").write_text("utf-8 and a plus sign\n")
    (snap / "empty").mkdir()
    (snap / ".hidden").write_text("skipped")
    (snap / "tables" / ".cache").write_text("skipped too")
    (snap / "latest").symlink_to("manifest.json")
    return snap


def _post(url: str, path: str, data: bytes = b"", headers: dict | None = None):
    req = urllib.request.Request(url + path, data=data, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.mark.integration
def test_kubo_backend_matches_embedded(served, local: EmbeddedIpfs, tmp_path: Path) -> None:
    _, url = served
    kubo = KuboIpfs(url)
    assert isinstance(kubo, IpfsStore)
    assert kubo.version().startswith("kubo/")
    data = os.urandom(1_000_000)
    for version in (0, 1):
        assert kubo.add_bytes(data, cid_version=version) == local.add_bytes(
            data, cid_version=version
        )
    assert kubo.add_bytes(b"hello world", cid_version=1) == (
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    )
    file = tmp_path / "one.bin"
    file.write_bytes(data[:300_000])
    assert kubo.add_path(file) == local.add_path(file)

    snap = _snapshot(tmp_path)
    kubo_entries = kubo.add_path_entries(snap)
    local_entries = local.add_path_entries(snap)
    assert {(e.name, e.cid, e.size) for e in kubo_entries} == {
        (e.name, e.cid, e.size) for e in local_entries
    }
    root = kubo_entries[-1].cid
    assert root == local_entries[-1].cid and kubo_entries[-1].name == "2024-01-01"
    assert kubo.add_path(snap, cid_version=0) == local.add_path(snap, cid_version=0)
    assert kubo.add_path(snap, include_hidden=True) == local.add_path(snap, include_hidden=True)

    assert kubo.cat(f"{root}/manifest.json") == b'{"rows": 3}\n'
    assert kubo.cat(f"{root}/tables/deep/naïve name + space.txt") == b"utf-8 and a plus sign\n"
    assert kubo.has(root)
    kubo.pin(root)
    missing = local.add_bytes(b"never sent to the server", only_hash=True)
    assert not kubo.has(missing)


@pytest.mark.integration
def test_kubo_backend_errors(served, tmp_path: Path) -> None:
    _, url = served
    kubo = KuboIpfs(url)
    root = kubo.add_path(_snapshot(tmp_path))
    with pytest.raises(IpfsNotFound, match="no link named"):
        kubo.cat(f"{root}/nope.json")
    with pytest.raises(IpfsError, match="directory"):
        kubo.cat(root)
    with pytest.raises(IpfsError, match="CID"):
        kubo.pin("not-a-cid")


@pytest.mark.integration
def test_kubo_backend_car_round_trip(served, tmp_path: Path) -> None:
    store, url = served
    kubo = KuboIpfs(url)
    root = kubo.add_path(_snapshot(tmp_path))
    car = tmp_path / "snap.car"
    assert kubo.export_car(root, car) == len(list(store.blocks.iter_keys()))
    other = EmbeddedIpfs(tmp_path / "other", sync=False)
    assert other.import_car(car) == [root]
    assert other.cat(f"{root}/manifest.json") == b'{"rows": 3}\n'
    fresh = EmbeddedIpfs(tmp_path / "fresh", sync=False)
    with running_server(fresh) as url2:
        assert KuboIpfs(url2).import_car(car) == [root]
    assert root in fresh.pins()


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:The 'strict' parameter:FutureWarning")
def test_plain_ipfshttpclient_directory_upload(served, local: EmbeddedIpfs, tmp_path: Path) -> None:
    """ipfshttpclient's own directory walk (top-down, files after sub-folders, dot-files
    included, symlinks skipped) must still produce the right tree on the server."""
    _, url = served
    snap = _snapshot(tmp_path)
    (snap / "latest").unlink()  # ipfshttpclient drops symlinks; keep the trees comparable
    addr, base = api_to_multiaddr(url)
    client = ipfshttpclient.Client(addr, base)
    out = client.add(str(snap), recursive=True, cid_version=1, raw_leaves=True)
    assert out[-1]["Name"] == "2024-01-01"
    assert out[-1]["Hash"] == local.add_path(snap, include_hidden=True)
    wrapped = client.add(str(snap / "manifest.json"), wrap_with_directory=True, cid_version=1)
    assert wrapped[-1]["Name"] == ""
    assert client.cat(f"{wrapped[-1]['Hash']}/manifest.json") == b'{"rows": 3}\n'
    assert client.add_bytes(b"hello world") == "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"


@pytest.mark.integration
def test_wire_format(served) -> None:
    store, url = served
    status, _, body = _post(url, "/api/v0/version")
    assert status == 200
    assert set(json.loads(body)) == {"Version", "Commit", "Repo", "System", "Golang"}

    data = os.urandom(500_000)
    cid = store.add_bytes(data)
    status, headers, body = _post(url, f"/api/v0/cat?arg={cid}&offset=1000&length=300000")
    assert status == 200 and body == data[1000:301_000]
    assert headers["X-Content-Length"] == str(len(data))
    status, _, body = _post(url, f"/api/v0/block/get?arg={cid}")
    assert body == store.get_block(cid)
    status, _, body = _post(url, f"/api/v0/block/stat?arg={cid}")
    assert json.loads(body) == {"Key": cid, "Size": len(store.get_block(cid))}
    status, _, body = _post(url, f"/api/v0/pin/ls?arg={cid}")
    assert json.loads(body) == {"Keys": {cid: {"Type": "recursive"}}}

    status, _, body = _post(
        url, "/api/v0/cat?arg=bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    )
    assert status == 500
    err = json.loads(body)
    assert set(err) == {"Message", "Code", "Type"} and err["Type"] == "error" and err["Code"] == 0
    assert "not in the local store" in err["Message"]
    status, _, body = _post(url, "/api/v0/cat")
    assert status == 400 and json.loads(body)["Code"] == 1
    status, _, _ = _post(url, "/api/v0/nonexistent")
    assert status == 404
    req = urllib.request.Request(url + "/api/v0/version", method="GET")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 405


def _multipart(parts: list[tuple[str, str, bytes]], boundary: str = "XyZ") -> tuple[bytes, dict]:
    body = b""
    for name, ctype, payload in parts:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n"
            ).encode()
            + payload
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.integration
def test_add_options_on_the_wire(served, local: EmbeddedIpfs) -> None:
    store, url = served
    body, headers = _multipart(
        [
            ("d", "application/x-directory", b""),
            ("d%2Fa.txt", "application/octet-stream", b"A"),
            ("d%2Fsub%2Fb.txt", "application/octet-stream", b"B"),  # implicit directory "sub"
        ]
    )
    status, _, out = _post(url, "/api/v0/add?cid-version=1&quieter=true", body, headers)
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 200 and [line["Name"] for line in lines] == ["d"]
    assert isinstance(lines[0]["Size"], str)  # Kubo sends Size as a string

    status, _, out = _post(
        url,
        "/api/v0/add?only-hash=true&cid-version=1",
        *_multipart([("x", "application/octet-stream", b"only hashed")]),
    )
    cid = json.loads(out.splitlines()[-1])["Hash"]
    assert cid == local.add_bytes(b"only hashed", only_hash=True)
    assert not store.has(cid)

    status, _, out = _post(
        url, "/api/v0/add?trickle=true", *_multipart([("t", "", b"Hello Worlds!\n")])
    )
    assert json.loads(out)["Hash"] == "QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi"

    status, _, out = _post(url, "/api/v0/add?nocopy=true", *_multipart([("x", "", b"x")]))
    assert status == 400 and "nocopy" in json.loads(out)["Message"]
    status, _, out = _post(url, "/api/v0/add", *_multipart([("..%2Fescape", "", b"x")]))
    assert status == 400


def test_unreachable_endpoint_raises_ipfs_unavailable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubo = KuboIpfs(f"http://127.0.0.1:{port}", connect_timeout=2, timeout=5)
    with pytest.raises(IpfsUnavailable, match=rf"127\.0\.0\.1:{port} is unreachable"):
        kubo.add_bytes(b"queued for later")
    with pytest.raises(IpfsUnavailable):
        kubo.has("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")


def test_open_ipfs_selects_backend(tmp_path: Path) -> None:
    embedded = open_ipfs(Settings(home=tmp_path))
    assert isinstance(embedded, EmbeddedIpfs) and embedded.root == tmp_path / "ipfs"
    kubo = open_ipfs(Settings(home=tmp_path, ipfs_api="/ip4/127.0.0.1/tcp/5001/http"))
    assert isinstance(kubo, KuboIpfs)
    with pytest.raises(ValueError, match="DT_IPFS_API"):
        KuboIpfs("ftp://example.org")


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ("/ip4/127.0.0.1/tcp/5001/http", ("/ip4/127.0.0.1/tcp/5001/http", "api/v0")),
        ("http://127.0.0.1:5001", ("/ip4/127.0.0.1/tcp/5001/http", "api/v0")),
        ("http://[::1]:5002", ("/ip6/::1/tcp/5002/http", "api/v0")),
        ("https://ipfs.example.org/api/v0", ("/dns/ipfs.example.org/tcp/443/https", "api/v0")),
        ("kubo:5001", ("/dns/kubo/tcp/5001/http", "api/v0")),
    ],
)
def test_api_to_multiaddr(api: str, expected: tuple[str, str]) -> None:
    assert api_to_multiaddr(api) == expected


class _Trickle:
    """A stream returning at most ``n`` bytes per read, to split boundaries across reads."""

    def __init__(self, data: bytes, n: int) -> None:
        self.buf, self.n = io.BytesIO(data), n

    def read(self, size: int = -1) -> bytes:
        return self.buf.read(self.n if size < 0 else min(size, self.n))


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 1 << 16])
def test_multipart_reader_is_exact_whatever_the_read_sizes(step: int) -> None:
    # "--XyZ" not preceded by CRLF, and a partial delimiter at the very end, are content
    tricky = b"line--XyZ-inside\r\n-XyZ\r\n--Xy" + bytes(range(256)) + b"\r\n--X"
    body, _ = _multipart([("a", "", tricky), ("b", "", b""), ("c", "", b"\r\n")])
    parts = MultipartReader(_Trickle(body, step), "XyZ").parts()
    got = [(p.filename, p.stream.read()) for p in parts]
    assert got == [("a", tricky), ("b", b""), ("c", b"\r\n")]


@pytest.mark.integration
def test_special_files_are_refused_by_both_backends(
    served, local: EmbeddedIpfs, tmp_path: Path
) -> None:
    _, url = served
    d = tmp_path / "with-fifo"
    d.mkdir()
    (d / "ok.txt").write_text("ok")
    os.mkfifo(d / "pipe")
    for backend in (local, KuboIpfs(url)):
        with pytest.raises(IpfsError, match="only regular files, directories and symlinks"):
            backend.add_path(d)
