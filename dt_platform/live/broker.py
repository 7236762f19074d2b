"""The local broker: Debian's Eclipse Mosquitto, run by the project under ``DT_HOME/broker/``.

``broker_up`` writes the configuration, the password file and the ACLs, then starts Mosquitto on
``127.0.0.1:DT_MQTT_PORT`` (or, if it already runs, makes it reload them); ``broker_down`` stops
it gracefully (it saves its persistent sessions); ``broker_status`` says whether it runs.

Who may do what (``acl``):

- ``platform`` (the bridge, the command sender) reads and writes the whole ``spBv1.0/`` tree;
- each gateway authenticates as its own name and may *write* only its own Sparkplug subtree
  (``NBIRTH|NDEATH/<gw>`` and ``DBIRTH|DDEATH|DDATA/<gw>/+``) and *read* only the commands of
  its machines (``DCMD/<gw>/+``): it can neither publish as another gateway nor see another's
  commands, nor write a command.

Passwords are random, generated once per user and kept in ``credentials.json`` (mode 0600)
beside the hashed ``passwd`` file Mosquitto reads; nothing secret is in the repository.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dt_platform.config import Settings
from dt_platform.live.topics import MAX_PAYLOAD_BYTES, NAMESPACE, valid_id
from dt_platform.processes import CHILDREN, alive, tail, terminate

PLATFORM_USER = "platform"
MAX_QUEUED_MESSAGES = 1_000_000
"""Messages kept per offline persistent session (the bridge's): enough for hours of a big line."""


class BrokerError(RuntimeError):
    """Mosquitto could not be found, configured, started or stopped; the message says why."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    url: str
    pid: int | None
    users: tuple[str, ...]
    folder: Path
    log_path: Path
    started: bool = False


def find_mosquitto() -> Path:
    """The ``mosquitto`` executable (Debian installs it in ``/usr/sbin``)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise BrokerError(
            "mosquitto is not installed: run `make setup` (installs Debian's mosquitto) or "
            "`apt-get install mosquitto`, or point DT_MQTT_URL at another broker"
        )
    return Path(found)


def _paths(settings: Settings) -> dict[str, Path]:
    d = settings.broker_dir
    return {
        "conf": d / "mosquitto.conf",
        "passwd": d / "passwd",
        "acl": d / "acl",
        "credentials": d / "credentials.json",
        "pid": d / "mosquitto.pid",
        "log": d / "mosquitto.log",
        "data": d / "data",
    }


def read_credentials(settings: Settings) -> dict[str, str]:
    """user -> password of the local broker (empty before the first ``broker up``)."""
    path = _paths(settings)["credentials"]
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def ensure_credentials(settings: Settings, gateways: Iterable[str]) -> dict[str, str]:
    """Credentials for the platform and each gateway, keeping passwords already issued."""
    creds = read_credentials(settings)
    for user in (PLATFORM_USER, *gateways):
        if not valid_id(user):
            raise BrokerError(f"gateway name {user!r} cannot be an MQTT user and topic level")
        creds.setdefault(user, secrets.token_urlsafe(24))
    path = _paths(settings)["credentials"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return creds


def acl_text(group: str) -> str:
    """Mosquitto's ACL file: the platform sees everything, a gateway only its own subtree."""
    root = f"{NAMESPACE}/{group}"
    return "\n".join(
        [
            "# Written by `dt-platform broker up`; edits are overwritten.",
            f"user {PLATFORM_USER}",
            f"topic readwrite {NAMESPACE}/#",
            "",
            "# Every other user is a gateway: %u is its user name, i.e. its Sparkplug edge node id.",
            f"pattern write {root}/NBIRTH/%u",
            f"pattern write {root}/NDEATH/%u",
            f"pattern write {root}/DBIRTH/%u/+",
            f"pattern write {root}/DDEATH/%u/+",
            f"pattern write {root}/DDATA/%u/+",
            f"pattern read {root}/DCMD/%u/+",
            "",
        ]
    )


def config_text(settings: Settings) -> str:
    p = _paths(settings)
    lines = [
        "# Written by `dt-platform broker up`; edits are overwritten.",
        "per_listener_settings false",
        f"listener {settings.mqtt_port} 127.0.0.1",
        "allow_anonymous false",
        f"password_file {p['passwd']}",
        f"acl_file {p['acl']}",
        "persistence true",
        f"persistence_location {p['data']}/",
        "autosave_interval 30",
        f"pid_file {p['pid']}",
        f"log_dest file {p['log']}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
        f"max_packet_size {MAX_PAYLOAD_BYTES + 1024}",
        "max_inflight_messages 1000",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        "max_keepalive 600",
        "persistent_client_expiration 14d",
    ]
    if os.geteuid() == 0:
        # Started as root, Mosquitto would switch to the `mosquitto` user, which cannot write
        # DT_HOME: stay the user who owns the state.
        lines.append(f"user {getpass.getuser()}")
    return "\n".join(lines) + "\n"


def _write_passwd(path: Path, creds: dict[str, str]) -> None:
    tool = shutil.which("mosquitto_passwd")
    if not tool:
        raise BrokerError("mosquitto_passwd is missing: install Debian's mosquitto package")
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    for user, password in sorted(creds.items()):
        # -b takes the password as an argument: visible to this machine's ps for a moment, so
        # the file is written by the user who owns DT_HOME only, on 127.0.0.1 credentials.
        done = subprocess.run(
            [tool, "-b", str(tmp), user, password], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise BrokerError(f"mosquitto_passwd failed for {user}: {done.stderr.strip()}")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_files(settings: Settings, gateways: Iterable[str]) -> dict[str, str]:
    """Config, password file and ACLs under ``DT_HOME/broker/``; returns the credentials."""
    p = _paths(settings)
    p["data"].mkdir(parents=True, exist_ok=True)
    creds = ensure_credentials(settings, gateways)
    _write_passwd(p["passwd"], creds)
    p["acl"].write_text(acl_text(settings.mqtt_group))
    os.chmod(p["acl"], 0o600)
    p["conf"].write_text(config_text(settings))
    return creds


def _recorded_pid(settings: Settings) -> int | None:
    pid_path = _paths(settings)["pid"]
    try:
        pid = int(pid_path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b"mosquitto"
    if alive(pid) and b"mosquitto" in cmdline:
        return pid
    pid_path.unlink(missing_ok=True)
    return None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def broker_status(settings: Settings) -> BrokerStatus:
    p = _paths(settings)
    return BrokerStatus(
        running=_recorded_pid(settings) is not None,
        url=settings.local_mqtt_url,
        pid=_recorded_pid(settings),
        users=tuple(sorted(read_credentials(settings))),
        folder=settings.broker_dir,
        log_path=p["log"],
    )


def broker_up(settings: Settings, gateways: Iterable[str], timeout: float = 15.0) -> BrokerStatus:
    """Write the files and start Mosquitto (idempotent: a running one reloads users and ACLs)."""
    gateways = tuple(gateways)
    write_files(settings, gateways)
    p = _paths(settings)
    pid = _recorded_pid(settings)
    if pid is not None:
        os.kill(pid, signal.SIGHUP)  # re-reads the password and ACL files
        return broker_status(settings)
    if _listening(settings.mqtt_port):
        raise BrokerError(
            f"port {settings.mqtt_port} on 127.0.0.1 is taken by another process: set "
            "DT_MQTT_PORT to a free port"
        )
    proc = subprocess.Popen(
        [str(find_mosquitto()), "-c", str(p["conf"])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    CHILDREN[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise BrokerError(
                f"mosquitto exited with code {proc.returncode}: {err.strip()}\n{tail(p['log'])}"
            )
        if _listening(settings.mqtt_port):
            break
        time.sleep(0.05)
    else:
        terminate(proc.pid, 5)
        raise BrokerError(f"mosquitto did not listen within {timeout:.0f} s\n{tail(p['log'])}")
    if proc.stderr:
        proc.stderr.close()
    if not p["pid"].exists():
        p["pid"].write_text(f"{proc.pid}\n")
    status = broker_status(settings)
    return BrokerStatus(**{**status.__dict__, "started": True})


def broker_down(settings: Settings, timeout: float = 15.0) -> bool:
    """Stop the local broker (it saves its sessions first); False if it was not running."""
    pid = _recorded_pid(settings)
    if pid is None:
        return False
    terminate(pid, timeout)
    _paths(settings)["pid"].unlink(missing_ok=True)
    return True
