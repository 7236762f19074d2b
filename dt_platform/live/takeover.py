"""Which machines the live line runs, and where each one starts.

The machines are those of ``dt-platform simulate --machines N --seed S`` (same ids, types,
gateways, parameters and operating plans, from :func:`~dt_platform.sim.registry.build_machines`).
If the ground-truth folder holds the settings of a batch run with the same seed and machine
count that ended no later than the live start, each machine continues from its physical state at
the end of that history (the batch run loop replayed to its end; the gap up to the live start is
simulated silently, its sensor faults unlogged). Otherwise every machine starts with a new
component at the live start.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dt_platform.live.machine import LiveMachine
from dt_platform.sim.config import SimConfig
from dt_platform.sim.line import end_state
from dt_platform.sim.registry import build_machines

HISTORY_DAYS = 30
"""``dt-platform simulate``'s default length: its history ends where the live line starts."""
MAX_CONFIG_BYTES = 1 << 20


def batch_config(truth_dir: Path) -> tuple[SimConfig | None, str]:
    """The batch run's settings from ``sim_config.json``, or None and why not."""
    path = truth_dir / "sim_config.json"
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return None, f"{path} is larger than {MAX_CONFIG_BYTES} bytes"
        record = json.loads(path.read_text(encoding="utf-8"))["config"]
        known = {f.name for f in fields(SimConfig)}
        values = {k: v for k, v in record.items() if k in known}
        values["start"] = date.fromisoformat(values["start"])
        return SimConfig(**values), f"batch history in {truth_dir}"
    except FileNotFoundError:
        return None, f"no batch history in {truth_dir}"
    except (OSError, KeyError, TypeError, ValueError) as exc:
        return None, f"{path} unreadable ({exc})"


def live_machines(
    truth_dir: Path | None,
    machines: int,
    seed: int,
    start_s: int,
    interval_s: int | None,
    fault_scale: float = 0.0,
) -> tuple[list[LiveMachine], int, str]:
    """The machines positioned at ``start_s`` (floored to the grid), the grid's interval and a
    note saying where they came from. ``fault_scale``: see :class:`LiveMachine`."""
    config, note = batch_config(truth_dir) if truth_dir is not None else (None, "no history")
    if config is not None:
        why = None
        if (config.seed, config.machines) != (seed, machines):
            why = f"it has seed {config.seed} and {config.machines} machines"
        elif config.end_epoch_s() > start_s:
            why = "it ends after the live start"
        elif interval_s is not None and interval_s != config.interval_s:
            why = f"its interval is {config.interval_s} s"
        if why is None:
            return (
                _continued(config, start_s, fault_scale),
                config.interval_s,
                f"continuing the {note}",
            )
        note = f"not continuing the {note}: {why}"
    interval = interval_s or 60
    day = datetime.fromtimestamp(start_s, UTC).date()
    config = SimConfig(
        machines=machines,
        seed=seed,
        days=HISTORY_DAYS,
        start=day - timedelta(days=HISTORY_DAYS),
        interval_s=interval,
    )
    t0 = start_s - start_s % interval
    specs = build_machines(config)
    live = [LiveMachine(s, seed, interval, t0, fault_scale) for s in specs]
    return live, interval, f"new components; {note}"


def _continued(config: SimConfig, start_s: int, fault_scale: float) -> list[LiveMachine]:
    out = []
    for spec in build_machines(config):
        end = end_state(spec, config)
        m = LiveMachine.continuing(spec, config.seed, config.interval_s, end, fault_scale)
        m.advance_to(start_s - start_s % config.interval_s - config.interval_s)
        if m.faults is not None:
            m.faults.take_records()  # nothing was sent in the gap
        out.append(m)
    return out
