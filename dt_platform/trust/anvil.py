"""The local development chain: anvil, started from the repo's pinned npm package.

Two uses:

* ``chain_up`` / ``chain_down`` / ``local_chain_status``: the long-lived local chain of
  ``dt-platform chain up`` on ``127.0.0.1:settings.chain_port`` (chain id 31337). Its state is
  persisted in ``DT_HOME/chain/state.json`` (dumped every few seconds and on a graceful stop), so
  contracts and anchors survive restarts; a pid file and a log file live next to it.
* :class:`Anvil` / :func:`throwaway_anvil`: a short-lived anvil on a free port for tests and
  benchmarks (any test suite may import them).

Its accounts come from the public dev mnemonic (:mod:`dt_platform.trust.dev_accounts`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dt_platform.config import LOCAL_CHAIN_ID, Settings
from dt_platform.processes import CHILDREN as _CHILDREN
from dt_platform.processes import alive as _alive
from dt_platform.processes import free_port
from dt_platform.processes import tail as _tail
from dt_platform.processes import terminate as _terminate
from dt_platform.trust.dev_accounts import DEV_ACCOUNT_COUNT, DEV_MNEMONIC

STATE_INTERVAL_S = 5
"""Seconds between periodic state dumps, so even a killed anvil loses at most this much."""


_REPO_ROOT = Path(__file__).resolve().parents[2]


_NODE_MODULES = _REPO_ROOT / "contracts" / "node_modules"


class AnvilError(RuntimeError):
    """anvil could not be found, started or stopped; the message says what to do."""


# --- the binary ---------------------------------------------------------------------------------


def find_anvil(node_modules: Path | None = None) -> Path:
    """Path of the anvil executable installed by ``npm ci`` in ``contracts/``.

    Prefers the platform package's native binary over the ``.bin/anvil`` node wrapper: signals then
    reach anvil itself, so a stop waits until anvil has really dumped its state.
    """
    modules = node_modules or _NODE_MODULES
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "")
    machine = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), ""
    )
    exe = "anvil.exe" if system == "win32" else "anvil"
    candidates = [
        modules / "@foundry-rs" / f"anvil-{system}-{machine}" / "bin" / exe,
        modules / ".bin" / "anvil",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise AnvilError(
        f"anvil is not installed (looked for {candidates[0]} and {candidates[1]}): "
        "run `make setup` (it runs `npm ci` in contracts/)"
    )


# --- JSON-RPC without web3 (readiness polling, test cheats) ------------------------------------


def rpc_call(url: str, method: str, params: Sequence[Any] = (), timeout: float = 5.0) -> Any:
    """One JSON-RPC call; raises ``OSError`` if nothing answers, ``AnvilError`` on an RPC error."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise AnvilError(f"{method} failed: {reply['error']}")
    return reply["result"]


def _rpc_answers(url: str) -> bool:
    """Whether a JSON-RPC node already answers at ``url``. (A bind or connect probe is wrong
    after a crash: the dead node's half-closed connections linger in FIN-WAIT.)"""
    try:
        rpc_call(url, "eth_chainId", timeout=1.0)
    except OSError:
        return False  # refused or silent: nobody serves here (a silent listener makes anvil
        # fail to bind, which start() reports from anvil's own log)
    except Exception:
        return True  # something answered, just not with JSON-RPC
    return True


def _anvil_port(pid: int, recorded_port: int) -> int | None:
    """The port the anvil process ``pid`` listens on, or ``None`` if ``pid`` is not an anvil
    (pids get recycled: a stale pid file may name an unrelated process)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return recorded_port  # no /proc (macOS): trust the pid file
    names = [Path(a.decode(errors="replace")).name for a in args[:2]]
    is_anvil = names[0] in ("anvil", "anvil.exe") or (
        names[0].startswith("node") and len(args) > 1 and b"anvil" in args[1]
    )
    if not is_anvil:
        return None
    if b"--port" in args[:-1]:
        return int(args[args.index(b"--port") + 1])
    return recorded_port


class Anvil:
    """One anvil process: start, wait until it answers, stop gracefully.

    ``state_path`` makes anvil load that file at start (if it exists) and dump to it every
    :data:`STATE_INTERVAL_S` seconds and on stop. Usable as a context manager.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        chain_id: int = LOCAL_CHAIN_ID,
        host: str = "127.0.0.1",
        state_path: Path | None = None,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.chain_id = chain_id
        self.state_path = state_path
        self.log_path = log_path
        self.extra_args = tuple(extra_args)
        self.binary = binary or find_anvil()
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(self.binary),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--mnemonic",
            DEV_MNEMONIC,
            "--accounts",
            str(DEV_ACCOUNT_COUNT),
            "--color",
            "never",
        ]
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path), "--state-interval", str(STATE_INTERVAL_S)]
        return cmd + list(self.extra_args)

    def start(self, timeout: float = 30.0, *, detach: bool = False) -> Anvil:
        """Start anvil and wait until ``eth_chainId`` answers with the expected chain id.

        ``detach`` puts anvil in its own session so it outlives this process (``chain up``).
        """
        if _rpc_answers(self.url):
            raise AnvilError(
                f"port {self.port} on {self.host} is already in use by another process: "
                "stop it or choose another port (DT_CHAIN_PORT)"
            )
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_path is None:
            # Keep the output somewhere: a failed start is explained by its log.
            fd, name = tempfile.mkstemp(prefix="anvil-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        log = open(self.log_path, "ab")
        try:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detach,
            )
        finally:
            log.close()
        _CHILDREN[proc.pid] = proc
        self.pid = proc.pid
        try:
            self._wait_ready(proc, timeout)
        except BaseException:
            _terminate(proc.pid, timeout=5)
            self.pid = None
            raise
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                tail = _tail(self.log_path)
                if "Address already in use" in tail:
                    raise AnvilError(
                        f"port {self.port} on {self.host} is already in use by another process: "
                        "stop it or choose another port (DT_CHAIN_PORT)"
                    )
                raise AnvilError(
                    f"anvil exited with code {proc.returncode} while starting on {self.url}; "
                    f"log tail ({self.log_path}):\n{tail}"
                )
            try:
                chain_id = int(rpc_call(self.url, "eth_chainId", timeout=1.0), 16)
            except (OSError, AnvilError):
                chain_id = None
            if chain_id is not None:
                if chain_id != self.chain_id:
                    raise AnvilError(
                        f"{self.url} answered chain id {chain_id}, expected {self.chain_id}"
                    )
                return
            if time.monotonic() > deadline:
                raise AnvilError(
                    f"anvil did not answer eth_chainId on {self.url} within {timeout:.0f} s; "
                    f"log tail ({self.log_path}):\n{_tail(self.log_path)}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop gracefully (state dumped when ``state_path`` is set); idempotent."""
        if self.pid is not None:
            _terminate(self.pid, timeout)
            self.pid = None

    def rpc(self, method: str, *params: Any) -> Any:
        """Raw JSON-RPC call, e.g. ``rpc("evm_increaseTime", 3600)`` in tests."""
        return rpc_call(self.url, method, params)

    def __enter__(self) -> Anvil:
        if self.pid is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def throwaway_anvil(
    *,
    chain_id: int = LOCAL_CHAIN_ID,
    state_path: Path | None = None,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
    attempts: int = 3,
) -> Iterator[Anvil]:
    """A fresh anvil on a free port for tests and benchmarks, stopped on exit.

    The free port is picked, then bound by anvil; if another process grabs it in between, another
    port is tried (``attempts`` times).
    """
    last: AnvilError | None = None
    for _ in range(attempts):
        node = Anvil(
            chain_id=chain_id, state_path=state_path, log_path=log_path, extra_args=extra_args
        )
        try:
            node.start()
        except AnvilError as exc:
            last = exc
            continue
        try:
            yield node
        finally:
            node.stop()
        return
    assert last is not None
    raise last


# --- the long-lived local chain (`dt-platform chain up|down`) ----------------------------------


@dataclass(frozen=True)
class LocalChainStatus:
    """What ``chain up`` / ``chain status`` report about the local chain."""

    running: bool
    url: str
    pid: int | None = None
    started: bool = False
    """True when this call started anvil, False when it was already running."""
    state_path: Path | None = None
    log_path: Path | None = None


def _paths(settings: Settings) -> tuple[Path, Path, Path]:
    chain_dir = settings.chain_dir
    return chain_dir / "anvil.pid", chain_dir / "anvil.log", chain_dir / "state.json"


def _read_pid(pid_path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(pid_path.read_text())
        return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None
    except (OSError, ValueError):
        return None


def _recorded_anvil(settings: Settings) -> tuple[int, int] | None:
    """(pid, port) of the running anvil recorded in the pid file, else ``None`` (a stale pid file
    is removed)."""
    pid_path, _, _ = _paths(settings)
    data = _read_pid(pid_path)
    if data is not None and _alive(data["pid"]):
        port = _anvil_port(data["pid"], int(data.get("port", settings.chain_port)))
        if port is not None:
            return data["pid"], port
    pid_path.unlink(missing_ok=True)
    return None


def _running_pid(settings: Settings) -> int | None:
    """Pid of this DT_HOME's local anvil if it runs on ``settings.chain_port``."""
    recorded = _recorded_anvil(settings)
    if recorded is None:
        return None
    pid, port = recorded
    if port != settings.chain_port:
        raise AnvilError(
            f"the local chain of {settings.home} already runs on port {port} (pid {pid}), not "
            f"on DT_CHAIN_PORT={settings.chain_port}: use that port, or stop it first with "
            f"DT_CHAIN_PORT={port} dt-platform chain down"
        )
    return pid


def local_chain_status(settings: Settings) -> LocalChainStatus:
    """Whether the local anvil of this ``DT_HOME`` is running."""
    _, log_path, state_path = _paths(settings)
    pid = _running_pid(settings)
    return LocalChainStatus(
        running=pid is not None,
        url=settings.local_chain_rpc,
        pid=pid,
        state_path=state_path,
        log_path=log_path,
    )


def chain_up(settings: Settings, timeout: float = 30.0) -> LocalChainStatus:
    """Start the local chain unless it is already running (idempotent).

    anvil runs detached, listens on ``127.0.0.1:settings.chain_port`` with chain id 31337 and
    keeps its state in ``DT_HOME/chain/state.json`` across restarts.
    """
    pid_path, log_path, state_path = _paths(settings)
    pid = _running_pid(settings)
    if pid is not None:
        return LocalChainStatus(True, settings.local_chain_rpc, pid, False, state_path, log_path)
    settings.chain_dir.mkdir(parents=True, exist_ok=True)
    node = Anvil(
        settings.chain_port,
        chain_id=LOCAL_CHAIN_ID,
        state_path=state_path,
        log_path=log_path,
    )
    node.start(timeout=timeout, detach=True)
    assert node.pid is not None
    pid_path.write_text(
        json.dumps({"pid": node.pid, "port": node.port, "binary": str(node.binary)}) + "\n"
    )
    return LocalChainStatus(True, node.url, node.pid, True, state_path, log_path)


def chain_down(settings: Settings, timeout: float = 20.0) -> bool:
    """Stop the local chain gracefully so its state is dumped; False if it was not running."""
    pid_path, _, _ = _paths(settings)
    recorded = _recorded_anvil(settings)
    if recorded is None:
        return False
    pid, _ = recorded
    _terminate(pid, timeout)  # waits for the anvil process itself to exit
    pid_path.unlink(missing_ok=True)
    return True
