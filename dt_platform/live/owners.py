"""Which gateway the machine registry assigns each machine to, re-read when the registry changes.

The bridge asks before it lets a message change a machine's twin: a machine the registry does
not know, or one it assigns to another gateway than the topic's, keeps its twin as it is (its
readings still reach the loader, which rejects them as ``unknown_machine`` / ``wrong_gateway``).
A gateway the registry gives no machine is not listened to either: its births and deaths change
nothing, so a broker without ACLs cannot grow the twin store by inventing gateway names.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from dt_platform.ingest.registry import RegistryError, load_registry, registry_files

log = logging.getLogger(__name__)

RECHECK_S = 5.0
"""How often the registry files' modification times are looked at."""


class Owners:
    def __init__(self, registry_path: Path) -> None:
        self.path = registry_path
        self._owner: dict[str, str | None] = {}
        self._signature: tuple | None = None
        self._checked = float("-inf")
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Re-read the registry if its files changed (looked at every :data:`RECHECK_S`)."""
        now = time.monotonic()
        if not force and now - self._checked < RECHECK_S:
            return
        self._checked = now
        files = registry_files(self.path)
        try:
            signature = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        except OSError:
            signature = None
        if signature == self._signature and not force:
            return
        self._signature = signature
        try:
            machines = load_registry(self.path)
        except (OSError, RegistryError) as exc:
            log.warning("machine registry not usable, no twin is updated until it is: %s", exc)
            self._owner = {}
            return
        self._owner = {m.machine_id: m.gateway for m in machines}

    def owns(self, gateway: str, machine_id: str) -> bool:
        """Whether the registry assigns ``machine_id`` to ``gateway``."""
        return machine_id in self._owner and self._owner[machine_id] == gateway

    def knows_gateway(self, gateway: str) -> bool:
        """Whether the registry assigns any machine to ``gateway``."""
        return gateway in self._owner.values()
