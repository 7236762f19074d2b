"""Settings of one simulator run, and the commands a run can be given.

Everything that changes the output is in :class:`SimConfig`: the same config (with an explicit
``start``) always produces byte-identical files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np

CommandKind = Literal["derate", "hold", "resume"]


@dataclass(frozen=True)
class Command:
    """An order sent to a machine, effective from ``at`` (UTC) until the next command.

    This is the door through which the platform will later close the loop.
    ``derate`` scales the machine's load/throughput by ``value`` (0 < value <= 1); ``hold`` puts it
    in maintenance mode (stopped, powered: no production, no wear); ``resume`` lifts both.
    """

    machine_id: str
    at: datetime
    kind: CommandKind
    value: float = 1.0

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"command for {self.machine_id}: 'at' must be timezone-aware")
        if self.kind not in ("derate", "hold", "resume"):
            raise ValueError(
                f"command for {self.machine_id}: unknown kind {self.kind!r} "
                "(expected 'derate', 'hold' or 'resume')"
            )
        if self.kind == "derate" and not 0.0 < self.value <= 1.0:
            raise ValueError(
                f"derate of {self.machine_id}: value {self.value} must be in (0, 1] "
                "(the fraction of nominal load to keep)"
            )


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent random stream for (seed, purpose, index...).

    Streams are keyed, not drawn in sequence, so adding a machine or a gateway does not change
    the draws of the others.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _valid_intervals() -> tuple[int, ...]:
    return tuple(i for i in range(1, 3601) if 3600 % i == 0)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate.

    Rates are probabilities per reading (``bad_rate``), per data line (``dup_rate``) or per
    gateway and run (``outage_prob``, ``redelivery_prob``); ``fault_scale`` multiplies the
    frequencies of sensor faults (dropouts, spikes, stuck values; 0 disables them).
    """

    machines: int = 12
    days: int = 30
    seed: int = 7
    start: date | None = None
    """First simulated day (UTC midnight). ``None``: today (UTC) minus ``days``."""
    interval_s: int = 60
    bad_rate: float = 2e-4
    dup_rate: float = 1e-4
    outage_prob: float = 0.5
    redelivery_prob: float = 0.5
    fault_scale: float = 1.0
    rul_horizon_days: int = 365
    """How far past the end the physics runs on (unobserved) to give every component a true RUL."""
    warmup_days_max: int = 35
    """Components in service at the start were installed up to this many days earlier."""

    def __post_init__(self) -> None:
        problems = []
        if self.machines < 1:
            problems.append(f"machines={self.machines}: simulate at least 1 machine")
        if self.seed < 0:
            problems.append(f"seed={self.seed}: must be a non-negative integer")
        if self.days < 1:
            problems.append(f"days={self.days}: simulate at least 1 day")
        if self.interval_s not in _valid_intervals():
            problems.append(
                f"interval_s={self.interval_s}: must divide 3600 so readings fall on every full "
                f"hour (e.g. 1, 10, 30, 60, 300, 600, 3600)"
            )
        for name in ("bad_rate", "dup_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 0.1:
                problems.append(f"{name}={value}: must be between 0 and 0.1 (per reading)")
        for name in ("outage_prob", "redelivery_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name}={value}: must be a probability between 0 and 1")
        if self.fault_scale < 0:
            problems.append(f"fault_scale={self.fault_scale}: must be >= 0")
        if self.rul_horizon_days < 0 or self.warmup_days_max < 0:
            problems.append("rul_horizon_days and warmup_days_max must be >= 0")
        if problems:
            raise ValueError("invalid simulator settings: " + "; ".join(problems))

    def resolved_start(self) -> date:
        """The first day: ``start`` or, if unset, today (UTC) minus ``days``."""
        if self.start is not None:
            return self.start
        return datetime.now(UTC).date() - timedelta(days=self.days)

    def start_epoch_s(self) -> int:
        d = self.resolved_start()
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())

    def end_epoch_s(self) -> int:
        return self.start_epoch_s() + self.days * 86400

    def as_record(self) -> dict[str, Any]:
        """JSON-ready settings, with the start resolved, for the ground-truth folder."""
        record = asdict(self)
        record["start"] = self.resolved_start().isoformat()
        return record
