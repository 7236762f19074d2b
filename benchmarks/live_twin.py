"""The live twin under load: a line of ``--machines`` machines on a real Mosquitto, the MQTT bridge
as its own process (killed and restarted halfway), signed commands, and the loader.

In one run, on a fresh home and a broker started on a free port:

* the live line (``LiveLine``, accelerated ``--speed`` times, its clock kept behind the wall
  clock so it never idles) publishes every machine's readings at QoS 1 through its gateways;
* ``dt-platform bridge run`` journals them, lands minute files and keeps the twin state; halfway
  through it is killed with SIGKILL (no flush, no goodbye) and started again: its persistent
  session and journal must lose and double nothing;
* the loader ingests ``landing/`` every few seconds, as the landing sensor does;
* every ``--command-every`` seconds a MAINTAINER's derate is issued, signed (EIP-712) and
  submitted through the real command flow (the role is read from a local table, not a chain:
  the figure is the twin's round trip, not a chain read), and followed until ``applied``.

Figures (wall seconds): ``readings_per_s`` — readings loaded into the warehouse over the run,
from the line's start to the end of the last ingestion; ``reading_to_state_p50_s`` / ``_p95_s`` —
from the line handing a reading to its MQTT client to the twin store showing it (sampled every
0.1 s, the bridge restart included; the state shows a machine's newest reading, so a reading
superseded before it was shown — e.g. in the backlog after the restart — is not a sample); ``command_to_applied_p50_s`` / ``_p95_s`` — from submitting
the signature to the command's ``applied`` state; ``messages_lost`` — readings the broker
confirmed to the line minus readings stored (loaded or rejected) from the stream; and
``readings_doubled`` — stored beyond what was published.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account

from dt_platform.config import Settings
from dt_platform.ingest.loader import IngestLimits, ingest_landing
from dt_platform.ingest.registry import load_registry, sync_registry
from dt_platform.live.broker import broker_down, broker_up
from dt_platform.live.line import LiveLine
from dt_platform.live.mqtt import MqttDesiredPublisher, connect, platform_credentials
from dt_platform.processes import free_port
from dt_platform.sim import SimConfig
from dt_platform.sim.gateways import GATEWAYS
from dt_platform.sim.registry import build_machines, write_registry
from dt_platform.twin import db
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import get_status, open_commands
from dt_platform.twin.typed_data import Domain, sign_typed_data
from dt_platform.warehouse import Warehouse

DOMAIN = Domain(31337, "0x" + "11" * 20)
INGEST_EVERY_S = 5.0


def log(message: str) -> None:
    print(f"[live_twin] {message}", file=sys.stderr, flush=True)


class Roles:
    """The role table the benchmark's commands are checked against (one MAINTAINER)."""

    def __init__(self, maintainer: str) -> None:
        self.maintainer = maintainer.lower()

    def has_role(self, role: str, account: str) -> bool:
        return role == "MAINTAINER" and account.lower() == self.maintainer


def start_bridge(settings: Settings, log_path: Path) -> subprocess.Popen:
    env = os.environ | {"DT_HOME": str(settings.home), "DT_MQTT_PORT": str(settings.mqtt_port)}
    cmd = [sys.executable, "-m", "dt_platform.cli", "bridge", "run", "--flush-s", "0.2"]
    cmd += ["--batch-s", "10"]
    with log_path.open("ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out)


class StateSampler(threading.Thread):
    """Polls the twin store: when a machine's last reading changes, its latency is the poll time
    minus the wall time the line handed that reading to its MQTT client."""

    def __init__(self, settings: Settings, published: dict[tuple[str, int], float]) -> None:
        super().__init__(daemon=True)
        self.settings, self.published = settings, published
        self.latencies: list[float] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        con = db.connect(self.settings.twin_db_path)
        seen: dict[str, str] = {}
        while not self.stop_event.wait(0.1):
            try:
                rows = con.execute("SELECT machine_id, reading_ts FROM reported_state").fetchall()
            except Exception:  # the table does not exist until the bridge's first write
                continue
            now = time.time()
            for machine_id, reading_ts in rows:
                if reading_ts is None or seen.get(machine_id) == reading_ts:
                    continue
                seen[machine_id] = reading_ts
                t_ms = int(dt.datetime.fromisoformat(reading_ts).timestamp() * 1000)
                sent = self.published.get((machine_id, t_ms))
                if sent is not None:
                    self.latencies.append(now - sent)
        con.close()


class Ingester(threading.Thread):
    """``ingest_landing`` every few seconds, as the landing sensor would."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.warehouse = Warehouse(settings.warehouse_path)
        self.stop_event = threading.Event()
        self.limits = IngestLimits(earliest=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    def ingest(self):
        with self.warehouse.write() as con:
            return ingest_landing(con, self.settings.landing_dir, limits=self.limits)

    def run(self) -> None:
        while not self.stop_event.wait(INGEST_EVERY_S):
            self.ingest()


def command_loop(settings, line, stop, every_s, latencies, outcomes, rng) -> None:
    maintainer = Account.create()
    roles = Roles(maintainer.address)
    user, password = platform_credentials(settings)
    client = connect(settings, "benchmark-commands", user, password)
    publisher = MqttDesiredPublisher(client, settings.mqtt_group)
    con = open_commands(db.connect(settings.twin_db_path))
    registry = load_registry(settings.machine_registry_path)
    ids = sorted(line.machines)
    try:
        while not stop.wait(every_s):
            online = [m for m in ids if line.online.get(m)]
            if not online:
                continue
            machine = online[int(rng.integers(len(online)))]
            now = dt.datetime.now(dt.UTC)
            draft = issue_draft(
                con, registry, machine, "derate", domain=DOMAIN, now=now,
                percent=float(rng.choice([5, 10, 15, 20, 25])),
            )  # fmt: skip
            t0 = time.time()
            status = submit_signature(
                con,
                draft.command_id,
                sign_typed_data(draft.typed_data, maintainer),
                roles=roles,
                publisher=publisher,
                domain=DOMAIN,
                now=now,
            )
            deadline = t0 + 60
            while status.state not in ("applied", "rejected", "expired") and time.time() < deadline:
                time.sleep(0.02)
                status = get_status(con, draft.command_id)
            outcomes[status.state] = outcomes.get(status.state, 0) + 1
            if status.state == "applied":
                latencies.append(time.time() - t0)
    finally:
        client.loop_stop()
        client.disconnect()
        con.close()


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=90.0, help="wall seconds of live line")
    parser.add_argument("--speed", type=float, default=120.0, help="sim seconds per wall second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--command-every", type=float, default=2.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dt-live-twin-"))
    settings = Settings(home=tmp / "home", mqtt_port=free_port())
    settings.home.mkdir(parents=True)
    # The line starts far enough back that its accelerated clock never reaches the wall clock.
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=args.speed * args.seconds * 1.5 + 7200)
    specs = build_machines(SimConfig(machines=args.machines, seed=args.seed, days=1))
    write_registry(specs, settings.machine_registry_path)
    broker_up(settings, [g.name for g in GATEWAYS])
    ingester = Ingester(settings)
    with ingester.warehouse.write() as con:
        sync_registry(con, load_registry(settings.machine_registry_path))
    bridge_log = tmp / "bridge.log"
    bridge = start_bridge(settings, bridge_log)
    published: dict[tuple[str, int], float] = {}
    line = LiveLine(
        settings, machines=args.machines, seed=args.seed, speed=args.speed, start=start,
        busy_prob=0.0, truth_dir=tmp / "no_history",
    )  # fmt: skip
    line.publish_hooks.append(lambda m, t_ms, wall: published.__setitem__((m, t_ms), wall))
    sampler, stop = StateSampler(settings, published), threading.Event()
    command_latencies: list[float] = []
    outcomes: dict[str, int] = {}
    commander = threading.Thread(
        target=command_loop,
        args=(settings, line, stop, args.command_every, command_latencies, outcomes,
              np.random.default_rng(args.seed)),
        daemon=True,
    )  # fmt: skip
    try:
        time.sleep(3.0)  # the bridge process connects and subscribes
        t_start = time.time()
        line.start()
        sampler.start()
        ingester.start()
        commander.start()
        log(f"{args.machines} machines at {args.speed:g}x for {args.seconds:g} s")
        time.sleep(args.seconds / 2)
        bridge.send_signal(signal.SIGKILL)
        bridge.wait()
        log("bridge killed (SIGKILL); restarting it")
        bridge = start_bridge(settings, bridge_log)
        time.sleep(args.seconds / 2)
        stop.set()
        commander.join(70)
        line.stop()
        confirmed = line.readings_published
        time.sleep(2.0)  # the last messages reach the bridge
        bridge.send_signal(signal.SIGTERM)  # flush, acknowledge, land, disconnect
        bridge.wait(60)
        sampler.stop_event.set()
        ingester.stop_event.set()
        ingester.join(120)
        summary = ingester.ingest()
        t_end = time.time()
        with ingester.warehouse.read() as con:
            stored, loaded = con.execute(
                "SELECT sum(rows_loaded + rows_rejected), sum(rows_loaded) FROM file_ledger"
            ).fetchone()
            rejected = con.execute("SELECT count(*) FROM telemetry_rejects").fetchone()[0]
        stored, loaded = int(stored or 0), int(loaded or 0)
        result = {
            "benchmark": "live_twin",
            "machines": args.machines,
            "speed": args.speed,
            "wall_s": round(t_end - t_start, 1),
            "readings_published": confirmed,
            "readings_loaded": loaded,
            "readings_rejected": int(rejected),
            "readings_per_s": round(loaded / (t_end - t_start), 1),
            "reading_to_state_p50_s": pct(sampler.latencies, 50),
            "reading_to_state_p95_s": pct(sampler.latencies, 95),
            "reading_to_state_max_s": round(max(sampler.latencies), 3)
            if sampler.latencies
            else None,
            "reading_samples": len(sampler.latencies),
            "command_to_applied_p50_s": pct(command_latencies, 50),
            "command_to_applied_p95_s": pct(command_latencies, 95),
            "commands": outcomes,
            "messages_lost": max(0, confirmed - stored),
            "readings_doubled": max(0, stored - confirmed),
            "bridge_restarts": 1,
            "last_ingest_balanced": summary.rows_in == summary.rows_loaded + summary.rows_rejected,
            "load_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(result), flush=True)
    finally:
        stop.set()
        if line.running:
            line.stop()
        if bridge.poll() is None:
            bridge.kill()
        broker_down(settings)


if __name__ == "__main__":
    main()
