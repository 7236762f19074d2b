"""The live line: the simulated machines on an accelerated clock, speaking MQTT, obeying commands.

:class:`LiveLine` owns the machines (:mod:`dt_platform.live.machine`), their links
(:mod:`dt_platform.live.link`) and one :class:`~dt_platform.live.gateway.Gateway` per gateway.
A loop thread ticks: it advances every machine to the sim time now, publishes each reading step
(DBIRTH when a machine comes back, DDATA, DDEATH when it drops), then handles the desired states
received (:mod:`dt_platform.live.obey`): ``delivered`` first, then ``applied`` or ``rejected``
with the machine's reason and the new ``twin/reported``. A machine that is offline takes the last
desired state it was sent when it comes back (the delta on reconnect).

With ``fault_scale`` above 0 (the class defaults to 0, ``dt-platform line run`` to 1.0) the sensors
fail as in the batch simulator, at its rates times the scale (:mod:`dt_platform.sim.faults`): a
dropout leaves the sensor's metric out of the DDATA; during a comm loss the machine sends no
DDATA at all (no DDEATH either: the gateway does not know) and hears no command: a desired state
waits, as for an offline machine, until the link is back; a stuck sensor repeats its last
value; a spike sends one value far off, half of them outside the catalogue's plausible range
(the loader rejects those as ``out_of_range``). Every fault is appended to
``live_faults.jsonl`` in the ground-truth folder (:mod:`dt_platform.live.fault_log`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from dt_platform.config import Settings
from dt_platform.live import topics
from dt_platform.live.clock import SimClock
from dt_platform.live.fault_log import LIVE_FAULTS, FaultLog
from dt_platform.live.gateway import Gateway, reading_metrics, sensor_formats
from dt_platform.live.line_stats import LineStats
from dt_platform.live.link import LinkSchedule
from dt_platform.live.machine import MODES, LiveMachine
from dt_platform.live.mqtt import gateway_credentials
from dt_platform.live.obey import Ack, Obeying
from dt_platform.live.takeover import live_machines

log = logging.getLogger(__name__)


def _start_s(start: datetime | None) -> int:
    if start is None:
        today = datetime.now(UTC).date()
        return int(datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp())
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return int(start.timestamp())


class LiveLine:
    """The simulated line, live. ``start()`` connects and runs; ``stop()`` says goodbye."""

    def __init__(
        self,
        settings: Settings,
        machines: int = 12,
        seed: int = 7,
        speed: float = 60.0,
        start: datetime | None = None,
        *,
        interval_s: int | None = None,
        offline_rate: float = 0.0,
        drop_rate: float = 0.0,
        busy_prob: float = 0.02,
        fault_scale: float = 0.0,
        credentials: Mapping[str, str] | None = None,
        truth_dir: Path | None = None,
        tick_s: float = 0.1,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 <= drop_rate <= 60.0:
            raise ValueError(f"drop rate {drop_rate} per gateway-hour must be within 0-60")
        if not 0.0 <= fault_scale <= 1000.0:
            raise ValueError(f"fault scale {fault_scale} must be within 0-1000")
        self.settings = settings
        self.seed = seed
        self.tick_s = tick_s
        self.wall = wall
        start_s = _start_s(start)
        self.clock = SimClock(start_s, speed, wall)  # checks the start before the heavy work
        truth = truth_dir if truth_dir is not None else settings.home / "ground_truth"
        live, self.interval_s, self.origin = live_machines(
            truth, machines, seed, start_s, interval_s, fault_scale
        )
        self.fault_log = FaultLog(truth / LIVE_FAULTS)
        self.machines: dict[str, LiveMachine] = {m.machine_id: m for m in live}
        t0 = min(m.next_t for m in live)
        self.links = {
            m.machine_id: LinkSchedule(seed, m.spec.index, offline_rate, t0) for m in live
        }
        self.drop_rate = drop_rate
        self._drop_rng = np.random.default_rng(np.random.SeedSequence([seed, 26]))
        self._control: queue.Queue = queue.Queue()
        inbox: queue.Queue = queue.Queue()
        names = sorted({m.spec.gateway for m in live})
        self.gateways = {
            g: Gateway(settings, g, self._password(g, credentials), inbox) for g in names
        }
        self.obeying = Obeying(
            self.machines, self.gateways, inbox, busy_prob, wall, self._current_reported
        )
        self._formats = {m.machine_id: sensor_formats(m, m.spec.gateway) for m in live}
        self.online: dict[str, bool] = dict.fromkeys(self.machines, False)
        self.silent: dict[str, bool] = dict.fromkeys(self.machines, False)
        """In a comm loss at its latest reading step: the machine and its gateway hear nothing
        of each other (online stays as the gateway last knew it)."""
        self._last_reported: dict[str, dict] = {}
        self.publish_hooks: list[Callable[[str, int, float], None]] = []
        """Callables given (machine_id, reading time in ms, wall time) of every reading message
        handed to the client (the live-twin benchmark measures latencies with it)."""
        self.drops = 0
        self.lock = threading.RLock()
        """Held while the loop changes the machines: hold it to read them consistently."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _password(self, gateway: str, credentials: Mapping[str, str] | None) -> str:
        if credentials is not None:
            if gateway not in credentials:
                raise ValueError(f"the credentials have no password for gateway {gateway!r}")
            return credentials[gateway]
        if self.settings.mqtt_url:
            raise ValueError(
                f"DT_MQTT_URL points at an external broker: give the gateways' passwords with "
                f"--credentials FILE (JSON {{gateway: password}}; needed for {gateway!r})"
            )
        return gateway_credentials(self.settings, gateway)[1]

    # --- public API ------------------------------------------------------------------------------
    def start(self) -> LiveLine:
        """Connect every gateway (NBIRTH) and run the loop in a thread."""
        t_ms = int(self.clock.now() * 1000)
        opened = []
        try:
            for gw in self.gateways.values():
                gw.open(t_ms)
                opened.append(gw)
        except Exception:
            for gw in opened:
                gw.close(t_ms, [])
            raise
        self._thread = threading.Thread(target=self._run, name="live-line", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop, then DDEATH every online machine and NDEATH every gateway."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._log_faults()
        t_ms = int(self.sim_now() * 1000)
        for name, gw in self.gateways.items():
            online = [m for m, on in self.online.items() if on and self._gw(m) == name]
            gw.close(t_ms, online)
        self.online = dict.fromkeys(self.online, False)

    def __enter__(self) -> LiveLine:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def sim_now(self) -> float:
        return self.clock.now()

    @property
    def published(self) -> int:
        """Messages published and confirmed by the broker (PUBACK)."""
        return sum(g.acked for g in self.gateways.values())

    @property
    def readings_published(self) -> int:
        """Sensor readings in messages confirmed by the broker."""
        return sum(g.readings_acked for g in self.gateways.values())

    def stats(self) -> LineStats:
        return LineStats(
            datetime.fromtimestamp(int(self.sim_now()), UTC),
            len(self.machines),
            sum(self.online.values()),
            self.published,
            self.readings_published,
            self.obeying.count("applied"),
            self.obeying.count("rejected"),
            sum(len(m.failures) for m in self.machines.values()),
            self.fault_log.taken,
        )

    @property
    def acks(self) -> list[Ack]:
        """Every acknowledgement published, in order."""
        return self.obeying.acks

    @property
    def ack_hooks(self) -> list[Callable[[Ack], None]]:
        """Callables given every :class:`Ack` as it is published (e.g. to know when a command
        was applied); they run in the loop thread and must be quick."""
        return self.obeying.hooks

    def wait_for_ack(
        self, machine_id: str, version: int, status: str = "applied", timeout: float = 10.0
    ) -> Ack | None:
        """See :meth:`Obeying.wait_for`."""
        return self.obeying.wait_for(machine_id, version, status, timeout)

    def take_offline(self, machine_id: str, sim_seconds: int) -> None:
        """Take a machine's link down for ``sim_seconds`` from its next step (demos, tests)."""
        if machine_id not in self.machines:
            raise KeyError(f"no machine {machine_id!r} on this line")
        self._control.put(("offline", machine_id, int(sim_seconds)))

    def drop_gateway(self, gateway: str) -> None:
        """Make a gateway lose its connection abruptly (the broker publishes its NDEATH)."""
        self._control.put(("drop", gateway, 0))

    # --- the loop ------------------------------------------------------------------------------
    def _gw(self, machine_id: str) -> str:
        return self.machines[machine_id].spec.gateway

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.tick()
                self._stop.wait(self.tick_s)
        except Exception as exc:  # reported by stop() and the CLI
            log.exception("live line loop failed")
            self.error = exc
            self._stop.set()

    def tick(self) -> None:
        """One pass: controls, reconnects, reading steps up to now, desired states."""
        with self.lock:
            now = int(self.sim_now())
            self._controls()
            for name, gw in self.gateways.items():
                if gw.reconnected.is_set():
                    self._rebirth(name, gw, now)
            self._maybe_drop(now)
            for machine_id in self.machines:
                self._advance(machine_id, now)
            self._log_faults()
            self.obeying.handle({m: on and not self.silent[m] for m, on in self.online.items()})

    def _log_faults(self) -> None:
        for m in self.machines.values():
            if m.faults is not None:
                self.fault_log.append(m.faults.take_records())

    def _controls(self) -> None:
        while True:
            try:
                kind, key, value = self._control.get_nowait()
            except queue.Empty:
                return
            if kind == "offline":
                t = self.machines[key].next_t
                self.links[key].force_offline(t, t + value)
            elif kind == "drop" and key in self.gateways:
                self.drops += 1
                self.gateways[key].drop()

    def _maybe_drop(self, now: int) -> None:
        if self.drop_rate <= 0:
            return
        elapsed_h = self.tick_s * self.clock.speed / 3600.0
        for gw in self.gateways.values():
            if self._drop_rng.random() < self.drop_rate * elapsed_h and not gw.reconnected.is_set():
                self.drops += 1
                gw.drop()

    def _rebirth(self, name: str, gw: Gateway, now: int) -> None:
        gw.rebirth(now * 1000)
        for machine_id, on in self.online.items():
            if on and self._gw(machine_id) == name:
                m = self.machines[machine_id]
                gw.birth(machine_id, now * 1000, [self._reported_metric(m, m.reported())], 0)

    def _current_reported(self, m: LiveMachine) -> dict:
        return self._reported_metric(m, m.reported())

    def _reported_metric(self, m: LiveMachine, value: dict) -> dict:
        self._last_reported[m.machine_id] = value
        return topics.metric(topics.REPORTED_METRIC, value)

    def _advance(self, machine_id: str, now: int) -> None:
        m = self.machines[machine_id]
        r = m.advance_to(now)
        if not len(r):
            return
        up = self.links[machine_id].online_at(r.t)
        self.silent[machine_id] = bool(r.missing[-1])
        gw = self.gateways[m.spec.gateway]
        formats = self._formats[machine_id]
        base = m.reported()
        for k in range(len(r)):
            t_ms = int(r.t[k]) * 1000
            if not up[k]:
                if self.online[machine_id]:
                    gw.death(machine_id, t_ms)
                    self.online[machine_id] = False
                continue
            if r.missing[k]:
                continue  # comm loss: nothing reaches the gateway, which does not know why
            metrics = reading_metrics(formats, r.values[k])
            n = len(metrics)
            reported = {**base, "mode": MODES[int(r.mode[k])]}
            if not self.online[machine_id]:
                gw.birth(machine_id, t_ms, [*metrics, self._reported_metric(m, reported)], n)
                self.online[machine_id] = True
            else:
                if reported != self._last_reported.get(machine_id):
                    metrics.append(self._reported_metric(m, reported))
                if not metrics:
                    continue  # every sensor dropped out at once: nothing to send
                gw.data(machine_id, t_ms, metrics, n)
            for hook in self.publish_hooks:
                hook(machine_id, t_ms, self.wall())
