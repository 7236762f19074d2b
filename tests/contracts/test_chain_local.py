"""`dt-platform chain …` and `roles …` end to end on the persisted local chain."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dt_platform.config import Settings
from dt_platform.trust.anvil import chain_down, free_port, local_chain_status
from dt_platform.trust.chain import AuditChain, ChainUnavailable
from dt_platform.trust.chain_cli import chain, roles
from dt_platform.trust.dev_accounts import dev_accounts
from dt_platform.trust.merkle import MerkleTree

pytestmark = pytest.mark.integration

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dict[str, str]]]:
    home = tmp_path_factory.mktemp("dt_home_local")
    port = free_port()
    env = {"DT_HOME": str(home), "DT_CHAIN_PORT": str(port), "DT_CHAIN_RPC": "", "DT_CHAIN_KEY": ""}
    settings = Settings(home=home, chain_port=port)
    yield settings, env
    chain_down(settings)  # whatever happened, leave no anvil behind


def _run(group, args: list[str], env: dict[str, str], code: int = 0) -> Result:
    result = CliRunner().invoke(group, args, env=env)
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}"
    return result


def test_chain_lifecycle_survives_restart(local: tuple[Settings, dict[str, str]]) -> None:
    settings, env = local
    out = _run(chain, ["up"], env).output
    assert "local chain started" in out and settings.local_chain_rpc in out
    assert "already running" in _run(chain, ["up"], env).output
    assert (settings.chain_dir / "anvil.pid").exists()

    out = _run(chain, ["deploy"], env).output
    assert "contracts deployed on chain 31337" in out
    assert f"OPERATOR    {dev_accounts()[1].address}" in out
    assert "already deployed" in _run(chain, ["deploy"], env).output

    records = [f"record {i}".encode() for i in range(10)]
    tree = MerkleTree.from_records(records)
    operator = AuditChain.connect(settings)
    anchored = operator.anchor("telemetry/2026-11-20", tree.root, CID, len(records))

    status = _run(chain, ["status"], env).output
    assert "chain id: 31337" in status and "anvil" in status
    assert "code hashes: ok" in status
    assert "anchors: 1 in 1 partitions" in status
    assert operator.deployment.address("AuditAnchors") in status

    outsider = dev_accounts()[9].address
    assert "granted AUDITOR" in _run(roles, ["grant", "auditor", outsider], env).output
    assert f"{outsider}: AUDITOR" in _run(roles, ["list", outsider], env).output
    listing = _run(roles, ["list"], env).output
    assert f"MANAGER     {dev_accounts()[2].address}" in listing
    assert "revoked AUDITOR" in _run(roles, ["revoke", "AUDITOR", outsider], env).output
    assert "(no roles)" in _run(roles, ["list", outsider], env).output

    out = _run(chain, ["down"], env).output
    assert "local chain stopped" in out
    assert not local_chain_status(settings).running
    assert "not running" in _run(chain, ["down"], env).output
    assert (settings.chain_dir / "state.json").stat().st_size > 0

    # While the chain is down: the pending work sees ChainUnavailable, the CLI exits 3.
    with pytest.raises(ChainUnavailable):
        operator.anchor("telemetry/2026-11-21", tree.root, CID, len(records))
    down = _run(chain, ["status"], env, code=3)
    assert "unreachable" in down.output and "dt-platform chain up" in down.output

    assert "local chain started" in _run(chain, ["up"], env).output
    again = AuditChain.connect(settings)  # code hashes still match after the restart
    latest = again.latest_anchor("telemetry/2026-11-20")
    assert latest is not None and latest.root == tree.root and latest.version == 1
    assert latest.block_number == anchored.block_number
    assert again.verify_record("telemetry/2026-11-20", 1, records[4], tree.proof(4))
    assert again.block_number() >= anchored.block_number
    assert "already deployed" in _run(chain, ["deploy"], env).output
    assert "anchors: 1 in 1 partitions" in _run(chain, ["status"], env).output
    _run(chain, ["down"], env)


def test_roles_cli_reports_chain_errors(local: tuple[Settings, dict[str, str]]) -> None:
    _, env = local
    _run(chain, ["up"], env)
    try:
        _run(chain, ["deploy"], env)
        operator_key = "0x" + bytes(dev_accounts()[1].key).hex()
        result = _run(
            roles,
            ["grant", "QC", dev_accounts()[9].address],
            env | {"DT_CHAIN_KEY": operator_key},
            code=1,
        )
        assert (
            "lacks ADMIN (DEFAULT_ADMIN_ROLE): only an administrator may grant roles"
            in result.output
        )
        assert "'BOSS' is not one of" in _run(roles, ["grant", "BOSS", "0x0"], env, code=2).output
    finally:
        _run(chain, ["down"], env)


def test_cli_module_runs_in_a_subprocess(tmp_path: Path) -> None:
    """The click groups work outside CliRunner too (what the lead wires into `dt-platform`)."""
    script = "from dt_platform.trust.chain_cli import chain; chain(prog_name='chain')"
    env = {"DT_HOME": str(tmp_path), "DT_CHAIN_PORT": str(free_port()), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script, "down"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "local chain is not running" in done.stdout
