"""anvil process handling: missing binary, failed starts, stale pid files, crash recovery, and
timeouts seen as an unavailable chain."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from dt_platform.config import Settings
from dt_platform.trust.anvil import (
    STATE_INTERVAL_S,
    Anvil,
    AnvilError,
    chain_down,
    chain_up,
    find_anvil,
    free_port,
    local_chain_status,
    throwaway_anvil,
)
from dt_platform.trust.chain import AuditChain, ChainUnavailable, connect_node, deploy
from dt_platform.trust.merkle import record_leaf

pytestmark = pytest.mark.integration


def test_missing_binary_says_to_run_make_setup(tmp_path: Path) -> None:
    with pytest.raises(AnvilError, match="run `make setup`"):
        find_anvil(tmp_path / "node_modules")


def test_failed_start_reports_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "anvil.log"
    node = Anvil(log_path=log, extra_args=["--no-such-flag"])
    with pytest.raises(AnvilError) as err:
        node.start(timeout=20)
    assert "exited with code" in str(err.value) and "--no-such-flag" in str(err.value)
    assert node.pid is None


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    with throwaway_anvil() as node, pytest.raises(AnvilError, match="already in use"):
        Anvil(node.port).start()


def test_stale_pid_file_is_ignored(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chain_port=free_port())
    settings.chain_dir.mkdir(parents=True)
    pid_file = settings.chain_dir / "anvil.pid"
    # A pid that is certainly not an anvil of ours: our own, then one that does not exist.
    for pid in (os.getpid(), 2**22 + 12345):
        pid_file.write_text(json.dumps({"pid": pid, "port": settings.chain_port}))
        assert not local_chain_status(settings).running
        assert not pid_file.exists()
    assert chain_down(settings) is False


def test_a_silent_node_times_out_as_unavailable() -> None:
    """A node that accepts connections but never answers is unavailable, not an error."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(ChainUnavailable, match="unreachable"):
            connect_node(url, timeout=0.5)


@pytest.mark.slow
def test_killed_chain_keeps_periodically_dumped_state(tmp_path: Path) -> None:
    """SIGKILL (no graceful dump) loses at most the last --state-interval seconds."""
    settings = Settings(home=tmp_path, chain_port=free_port())
    status = chain_up(settings)
    try:
        deploy(settings)
        AuditChain.connect(settings).anchor("crash/2026-11-20", record_leaf(b"r"), "bafy-cid", 1)
        time.sleep(STATE_INTERVAL_S + 1.5)
        assert status.pid is not None
        os.kill(status.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while local_chain_status(settings).running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert chain_up(settings).started
        latest = AuditChain.connect(settings).latest_anchor("crash/2026-11-20")
        assert latest is not None and latest.root == record_leaf(b"r")
    finally:
        chain_down(settings)


def test_changed_port_is_reported_not_doubled(tmp_path: Path) -> None:
    """Changing DT_CHAIN_PORT while the chain runs must not start a second anvil on one state."""
    first = Settings(home=tmp_path, chain_port=free_port())
    moved = Settings(home=tmp_path, chain_port=free_port())
    chain_up(first)
    try:
        with pytest.raises(AnvilError, match=f"already runs on port {first.chain_port}"):
            chain_up(moved)
        assert local_chain_status(first).running
    finally:
        assert chain_down(moved)  # stops the recorded anvil whatever the configured port
    assert not local_chain_status(first).running
