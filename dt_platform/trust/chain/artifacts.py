"""Compiled contracts (``contracts/artifacts/*.json``, written by ``contracts/build.mjs``)."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from eth_utils import keccak

from dt_platform.trust.chain.errors import ChainError, ErrorDecoder

__all__ = [
    "ARTIFACTS_DIR",
    "PLATFORM_CONTRACTS",
    "artifacts_hash",
    "error_decoder",
    "expected_code_hash",
    "load_artifact",
    "normalized_code_hash",
]

ARTIFACTS_DIR = Path(__file__).resolve().parents[3] / "contracts" / "artifacts"
PLATFORM_CONTRACTS: tuple[str, ...] = ("RoleHub", "TwinRegistry", "AuditAnchors", "DataGrants")
"""Deployed by ``deploy()``, in this order (the hub first: the others are bound to it)."""


@functools.cache
def load_artifact(name: str) -> dict[str, Any]:
    """The artifact of contract ``name`` (ABI, bytecode, deployedBytecode, immutables…)."""
    path = ARTIFACTS_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ChainError(
            f"contract artifact {path} is missing: run `npm run build` in contracts/"
        ) from None


def artifacts_hash(names: tuple[str, ...] = PLATFORM_CONTRACTS) -> str:
    """sha256 over the artifacts of ``names``: identifies the code a deployment was made from."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0")
        digest.update(json.dumps(load_artifact(name), sort_keys=True).encode())
    return "sha256:" + digest.hexdigest()


def _immutable_ranges(artifact: dict[str, Any]) -> list[tuple[int, int]]:
    return [
        (ref["start"], ref["length"])
        for refs in artifact.get("immutableReferences", {}).values()
        for ref in refs
    ]


def normalized_code_hash(name: str, runtime_code: bytes) -> str:
    """keccak256 of on-chain runtime code with immutable values zeroed, as in the artifact.

    Constructors write immutables (here: the role hub address) into the runtime code, so raw
    on-chain code never equals the artifact's ``deployedBytecode``; zeroing those byte ranges
    makes the two comparable.
    """
    code = bytearray(runtime_code)
    for start, length in _immutable_ranges(load_artifact(name)):
        code[start : start + length] = bytes(length)
    return "0x" + keccak(bytes(code)).hex()


def expected_code_hash(name: str) -> str:
    """keccak256 of the artifact's ``deployedBytecode`` (immutables are zero there)."""
    return "0x" + keccak(hexstr=load_artifact(name)["deployedBytecode"]).hex()


@functools.cache
def error_decoder() -> ErrorDecoder:
    """Decoder for every custom error of every compiled contract (ours and OpenZeppelin's)."""
    names = sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json"))
    return ErrorDecoder([load_artifact(n)["abi"] for n in names])
