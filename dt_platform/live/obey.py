"""How the line's machines obey their desired states (``DCMD``, retained).

Gateways put what they receive into the inbox; the line's loop calls
:meth:`Obeying.handle`. A document newer than the last one the machine handled waits until the
machine is online (an offline machine takes it when it comes back: the delta on reconnect), then
the machine acknowledges it ``delivered``, decides, applies or rejects it, and acknowledges that
with its new ``twin/reported``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dt_platform.live import topics
from dt_platform.live.desired import Desired, DesiredError, parse_desired
from dt_platform.live.gateway import Gateway
from dt_platform.live.machine import LiveMachine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ack:
    """An acknowledgement the line published (also passed to :attr:`Obeying.hooks`)."""

    machine_id: str
    command_id: str
    version: int
    status: str
    reason: str | None
    detail: str | None
    sim_s: int
    """Sim time of the ack; an applied setting takes effect from the next reading step."""


class Obeying:
    def __init__(
        self,
        machines: Mapping[str, LiveMachine],
        gateways: Mapping[str, Gateway],
        inbox: queue.Queue,
        busy_prob: float,
        wall: Callable[[], float],
        reported_metric: Callable[[LiveMachine], dict],
    ) -> None:
        if not 0.0 <= busy_prob <= 1.0:
            raise ValueError(f"busy_prob {busy_prob} must be a probability")
        self.machines = machines
        self.gateways = gateways
        self.busy_prob = busy_prob
        self.wall = wall
        self.reported_metric = reported_metric
        self.inbox = inbox
        """(gateway, machine_id, payload) as the gateways received them."""
        self.pending: dict[str, Desired] = {}
        self.acks: list[Ack] = []
        self.hooks: list[Callable[[Ack], None]] = []
        """Called (in the loop thread) with every ack the line publishes."""
        self.malformed = 0
        self._acked = threading.Condition()

    def count(self, status: str) -> int:
        return sum(a.status == status for a in self.acks)

    def wait_for(
        self, machine_id: str, version: int, status: str = "applied", timeout: float = 10.0
    ) -> Ack | None:
        """The ack of that status for that version once published (``rejected`` also ends the
        wait for ``applied``), or None on timeout."""
        wanted = {status, "rejected"} if status == "applied" else {status}

        def found() -> Ack | None:
            return next(
                (
                    a
                    for a in self.acks
                    if a.machine_id == machine_id and a.version == version and a.status in wanted
                ),
                None,
            )

        with self._acked:
            self._acked.wait_for(found, timeout)
            return found()

    def handle(self, online: Mapping[str, bool]) -> None:
        """Take what arrived; obey what waits for a machine that is online."""
        while True:
            try:
                gateway, machine_id, payload = self.inbox.get_nowait()
            except queue.Empty:
                break
            m = self.machines.get(machine_id)
            if m is None or m.spec.gateway != gateway or not payload:
                continue  # not ours, or a retained document being cleared
            try:
                doc = parse_desired(payload)
            except DesiredError as exc:
                self.malformed += 1
                log.warning("ignored the desired state for %s: %s", machine_id, exc)
                continue
            held = self.pending.get(machine_id)
            if doc.version > m.handled_version and (held is None or doc.version > held.version):
                self.pending[machine_id] = doc
        for machine_id in list(self.pending):
            if online[machine_id]:
                self._obey(self.machines[machine_id], self.pending.pop(machine_id))

    def _obey(self, m: LiveMachine, doc: Desired) -> None:
        gw = self.gateways[m.spec.gateway]
        t_s = m.next_t - m.interval_s  # the last reading step: the machine's "now"
        self._ack(gw, m, doc, "delivered", None, None, t_s, [])
        verdict = m.decide(doc, self.wall(), self.busy_prob)
        m.handled_version = doc.version
        if verdict.reason is None:
            m.apply(doc)
        status = "applied" if verdict.reason is None else "rejected"
        reported = self.reported_metric(m)
        self._ack(gw, m, doc, status, verdict.reason, verdict.detail, t_s, [reported])

    def _ack(self, gw, m, doc, status, reason, detail, t_s, extra) -> None:
        value = {
            "command_id": doc.command_id,
            "version": doc.version,
            "status": status,
            "reason": reason,
            "detail": detail,
        }
        gw.data(m.machine_id, t_s * 1000, [topics.metric(topics.ACK_METRIC, value), *extra], 0)
        ack = Ack(m.machine_id, doc.command_id, doc.version, status, reason, detail, t_s)
        with self._acked:
            self.acks.append(ack)
            self._acked.notify_all()
        for hook in self.hooks:
            hook(ack)
