"""The demo's foreground services (the Dagster UI, the dashboard, the live line and its bridge)
run quietly: each one's output goes to its own log file under ``DT_HOME/logs``, so the console
keeps the demo's summary readable. A service that stops by itself is named with the end of its
log; after Ctrl-C the console says what still runs in the background (the chain, the broker)
and how to stop it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from dt_platform.config import Settings

KILL_GRACE_S = 10.0
"""How long stopping waits for a service's processes to die after their SIGKILL."""
TAIL_LINES = 20
"""How much of a service's log the console shows when the service stops by itself."""


def cli_path() -> Path:
    """The ``dt-platform`` executable of this environment (e.g. ``.venv/bin/dt-platform``), so a
    printed command works when pasted into a shell that did not activate the venv."""
    return Path(sys.executable).parent / "dt-platform"


def log_name(service: str) -> str:
    """The log file of a service: ``Dagster UI`` → ``dagster-ui.log``."""
    return re.sub(r"[^a-z0-9]+", "-", service.lower()).strip("-") + ".log"


def tail(path: Path, lines: int = TAIL_LINES, max_bytes: int = 64 * 1024) -> list[str]:
    """The last ``lines`` lines of ``path`` (reading at most its last ``max_bytes``)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path


def start_services(
    commands: Mapping[str, Sequence[str]], *, cwd: Path, env: Mapping[str, str], log_dir: Path
) -> list[Service]:
    """Start each command with its stdout and stderr appended to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    services = []
    for name, cmd in commands.items():
        log = log_dir / log_name(name)
        with log.open("ab") as out:
            # its own process group, so stopping it reaches the processes it starts too
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        services.append(Service(name, proc, log))
    return services


def stop_services(services: Sequence[Service], timeout: float = 30.0) -> None:
    """SIGINT every service's process group (as Ctrl-C would), then SIGKILL what is left of it.

    The whole group: ``dagster dev`` exits on SIGINT, but its code server and gRPC server could
    outlive it and keep running after the demo had stopped."""
    for s in services:
        _signal_group(s.proc.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    for s in services:
        try:
            s.proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            pass
    for s in services:
        _wait_for_group(s.proc.pid, deadline)
        _signal_group(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=timeout)
        # a SIGKILL is delivered at once but a process takes a moment to die
        _wait_for_group(s.proc.pid, time.monotonic() + KILL_GRACE_S)


def _wait_for_group(pgid: int, until: float) -> None:
    """Until the monotonic time ``until`` at most, wait for group ``pgid`` to stop running."""
    while group_running(pgid) and time.monotonic() < until:
        time.sleep(0.05)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass  # the group has no process left


def group_running(pgid: int) -> bool:
    """Does a process of group ``pgid`` still run? A zombie does not count: it has exited and
    only waits for its new parent (init) to reap it, which can take a while after a SIGKILL."""
    proc = Path("/proc")
    if not proc.is_dir():  # no procfs: any member, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # after the command name in parentheses: state, ppid, pgrp, ...
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # the process ended meanwhile
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


def run_services(
    commands: Mapping[str, Sequence[str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_dir: Path,
    console: Console,
    poll_s: float = 0.5,
) -> int:
    """Run the services in the foreground until Ctrl-C or until one of them ends; the others are
    then stopped. Their output stays in their logs; one that ended by itself is reported with
    the end of its log. Returns the highest exit code."""
    services = start_services(commands, cwd=cwd, env=env, log_dir=log_dir)
    interrupted = False
    try:
        while all(s.proc.poll() is None for s in services):
            time.sleep(poll_s)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        ended = [s for s in services if s.proc.poll() is not None]
        stop_services(services)
    if not interrupted:
        for s in ended:
            console.print(
                f"[red]{s.name} stopped by itself (exit code {s.proc.returncode})[/]; the end of "
                f"{s.log}:"
            )
            for line in tail(s.log):
                console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    return max(s.proc.returncode or 0 for s in services)


def still_running(settings: Settings) -> dict[str, str]:
    """The demo's background services that outlive it: ``{name: url}`` of the local chain and
    the local broker when they run (not when ``DT_CHAIN_RPC`` / ``DT_MQTT_URL`` name others)."""
    from dt_platform.live.broker import broker_status
    from dt_platform.trust.anvil import local_chain_status

    running = {}
    if settings.chain_rpc is None:
        chain = local_chain_status(settings)
        if chain.running:
            running["chain"] = chain.url
    if settings.mqtt_url is None:
        broker = broker_status(settings)
        if broker.running:
            running["broker"] = broker.url
    return running


STOP = {
    "chain": ("the local chain (anvil)", "chain down"),
    "broker": ("the MQTT broker (Mosquitto)", "broker down"),
}


def stop_hint(running: Mapping[str, str], home: Path, cli: Path) -> list[str]:
    """Lines telling what still runs and the command that stops each (with the real path of
    ``dt-platform``, and ``DT_HOME`` when it is not the default of the current directory)."""
    if not running:
        return []
    default_home = (Path.cwd() / ".dt_home").resolve()
    prefix = "" if Path(home).resolve() == default_home else f"DT_HOME={Path(home).resolve()} "
    lines = ["still running in the background (the next `make demo` reuses them):"]
    for name, url in running.items():
        what, command = STOP[name]
        lines.append(f"  {what} at {url}: stop it with {prefix}{cli} {command}")
    return lines


def print_still_running(settings: Settings, console: Console) -> list[str]:
    """Say what keeps running after the demo ends and how to stop it; returns the lines."""
    lines = stop_hint(still_running(settings), settings.home, cli_path())
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return lines
