"""The committed artifacts are what the Solidity sources compile to (and the check can fail)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
PLATFORM = ("RoleHub", "TwinRegistry", "AuditAnchors", "DataGrants")


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (CONTRACTS / "node_modules" / "solc").exists():
        pytest.fail("node or contracts/node_modules/solc missing: run `make setup`")
    return node


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), "build.mjs", "--check"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_artifacts_are_up_to_date() -> None:
    done = _check(CONTRACTS)
    assert done.returncode == 0, (
        f"contracts/artifacts is stale - run `npm run build` in contracts/:\n{done.stderr}"
    )


@pytest.mark.slow
def test_check_fails_when_a_source_changes(tmp_path: Path) -> None:
    copy = tmp_path / "contracts"
    copy.mkdir()
    shutil.copy(CONTRACTS / "build.mjs", copy)
    shutil.copytree(CONTRACTS / "src", copy / "src")
    shutil.copytree(CONTRACTS / "artifacts", copy / "artifacts")
    (copy / "node_modules").symlink_to(CONTRACTS / "node_modules")
    source = copy / "src" / "AuditAnchors.sol"
    text = source.read_text()
    changed = text.replace("MAX_REASON_BYTES = 2048;", "MAX_REASON_BYTES = 4096;")
    assert changed != text
    source.write_text(changed)
    done = _check(copy)
    assert done.returncode == 1
    assert "AuditAnchors.json (differs)" in done.stderr and "npm run build" in done.stderr


def test_artifacts_describe_the_build() -> None:
    versions = set()
    hashes = set()
    for name in (*PLATFORM, "NaiveRecordStore"):
        artifact = json.loads((CONTRACTS / "artifacts" / f"{name}.json").read_text())
        assert artifact["contractName"] == name
        assert artifact["bytecode"].startswith("0x60") and len(artifact["deployedBytecode"]) > 100
        assert artifact["compiler"]["settings"]["optimizer"]["enabled"] is True
        versions.add(artifact["compiler"]["version"])
        hashes.add(artifact["sourcesHash"])
        errors = {e["name"] for e in artifact["abi"] if e["type"] == "error"}
        if name != "NaiveRecordStore":
            assert "AccessControlUnauthorizedAccount" in errors  # decodable from every contract
    assert len(hashes) == 1
    [version] = versions
    assert version.startswith("0.8.30+")


def test_gated_contracts_emit_indexed_events() -> None:
    for name in PLATFORM[1:]:
        abi = json.loads((CONTRACTS / "artifacts" / f"{name}.json").read_text())["abi"]
        events = [e for e in abi if e["type"] == "event"]
        assert events, name
        for event in events:
            assert any(i["indexed"] for i in event["inputs"]), f"{name}.{event['name']}"
