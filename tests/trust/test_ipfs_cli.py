"""`dt-platform ipfs …` through click's CliRunner, on the embedded store and through Kubo RPC."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.trust.ipfs.backends import EmbeddedIpfs
from dt_platform.trust.ipfs.cli import ipfs
from dt_platform.trust.ipfs.kubo_rpc_server import running_server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _run(home: Path, *args: str, api: str | None = None):
    env = {"DT_HOME": str(home), "DT_IPFS_API": api or ""}
    return CliRunner().invoke(ipfs, list(args), env=env, catch_exceptions=False)


def test_add_quieter_prints_the_root_like_ipfs_add_q(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello world")
    result = _run(home, "add", "-Q", str(f))
    assert result.exit_code == 0, result.output
    assert result.output == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e\n"
    result = _run(home, "add", "-Q", "--cid-version", "0", str(f))
    assert result.output == "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD\n"
    assert (home / "ipfs" / "blocks").is_dir()  # the store lives under DT_HOME/ipfs


def test_add_folder_lists_entries_and_cat_reads_paths(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "snap"
    (d / "sub").mkdir(parents=True)
    (d / "manifest.json").write_text("{}\n")
    (d / "sub" / "data.bin").write_bytes(os.urandom(300_000))
    (d / ".hidden").write_text("x")
    result = _run(home, "add", str(d))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[2] for line in lines] == [
        "snap/manifest.json",
        "snap/sub/data.bin",
        "snap/sub",
        "snap",
    ]
    root = lines[-1].split()[1]
    assert root == EmbeddedIpfs(home / "ipfs").add_path(d, only_hash=True)
    out = _run(home, "cat", f"{root}/sub/data.bin")
    assert out.exit_code == 0
    assert out.stdout_bytes == (d / "sub" / "data.bin").read_bytes()
    help_text = " ".join(_run(home, "add", "--help").output.split())
    assert "--cid-version" in help_text and "the platform's default" in help_text


def test_car_export_and_import(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(os.urandom(400_000))
    root = _run(home, "add", "-Q", str(f)).output.strip()
    car = tmp_path / "x.car"
    result = _run(home, "export-car", root, str(car))
    assert result.exit_code == 0 and car.is_file()
    other = tmp_path / "other-home"
    result = _run(other, "import-car", str(car))
    assert result.output.strip() == root
    assert _run(other, "cat", root).stdout_bytes == f.read_bytes()


def test_errors_are_one_line_messages(home: Path) -> None:
    result = _run(home, "cat", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    assert result.exit_code == 1
    assert "Error:" in result.output and "not in the local store" in result.output
    result = _run(home, "cat", "nonsense")
    assert result.exit_code == 1 and "not a CID" in result.output


@pytest.mark.integration
def test_cli_through_kubo_rpc(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello world")
    server_store = EmbeddedIpfs(tmp_path / "served", sync=False)
    with running_server(server_store) as url:
        result = _run(home, "add", "-Q", str(f), api=url)
        assert result.output == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e\n"
        assert _run(home, "cat", result.output.strip(), api=url).stdout_bytes == b"hello world"
        refused = _run(home, "serve", api=url)
        assert refused.exit_code == 1 and "DT_IPFS_API" in refused.output
    assert not (home / "ipfs").exists()  # nothing went to the embedded store


def test_unreachable_kubo_is_reported(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("a")
    result = _run(home, "add", str(f), api="http://127.0.0.1:9")
    assert result.exit_code == 1 and "unreachable" in result.output
