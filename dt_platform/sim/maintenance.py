"""Planned maintenance, work orders and the CMMS export (``<out>/cmms/*.csv``).

Preventive tasks and inspections stop the machine for their duration; none of them replaces the
degrading component (so every component ends in a failure or is still in service at the end,
and its true RUL is defined). Corrective work orders follow failures (``line.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from dt_platform.cmms import CMMS_COLUMNS, MAINTENANCE_FOLDER
from dt_platform.sim.files import atomic_write_bytes
from dt_platform.sim.machines import MachineModel
from dt_platform.sim.schedule import PLANT_UTC_OFFSET_S, shift_index, shift_start

PLANT_TZ = timezone(timedelta(seconds=PLANT_UTC_OFFSET_S))


@dataclass
class MaintenanceWindow:
    """A planned stop: [start_s, end_s) UTC seconds."""

    start_s: int
    end_s: int
    kind: str
    action: str
    component: str
    cancelled: bool = False
    done: bool = False


@dataclass(frozen=True)
class WorkOrder:
    machine_id: str
    started_s: int
    finished_s: int
    kind: str
    action: str
    component: str
    notes: str


def _minute(t: float) -> int:
    return round(t / 60.0) * 60


def plan_maintenance(
    rng: np.random.Generator, model: MachineModel, start_s: int, end_s: int
) -> list[MaintenanceWindow]:
    """Preventive stops every 10-18 days and inspections every 5-9 days, non-overlapping."""
    windows: list[MaintenanceWindow] = []
    t = start_s + rng.uniform(1.0, 12.0) * 86400
    while t < end_s:
        begin = int(shift_start(int(shift_index(int(t))) + 1))
        action, component = model.preventive_tasks[
            int(rng.integers(0, len(model.preventive_tasks)))
        ]
        duration = _minute(rng.uniform(2.0, 4.0) * 3600)
        windows.append(MaintenanceWindow(begin, begin + duration, "preventive", action, component))
        t += rng.uniform(10.0, 18.0) * 86400
    t = start_s + rng.uniform(0.5, 7.0) * 86400
    while t < end_s:
        begin = _minute(int(shift_start(int(shift_index(int(t))))) + rng.uniform(0.5, 6.0) * 3600)
        duration = _minute(rng.uniform(20.0, 60.0) * 60)
        windows.append(
            MaintenanceWindow(begin, begin + duration, "inspection", "inspect", model.component)
        )
        t += rng.uniform(5.0, 9.0) * 86400
    windows.sort(key=lambda w: (w.start_s, w.kind))
    kept: list[MaintenanceWindow] = []
    for w in windows:
        if w.start_s >= end_s:
            continue
        if kept and w.start_s < kept[-1].end_s:
            continue
        kept.append(w)
    return kept


def plant_time(t_s: int) -> str:
    """ISO 8601 with the plant's +08:00 offset, as the CMMS exports it."""
    return datetime.fromtimestamp(t_s, UTC).astimezone(PLANT_TZ).isoformat(timespec="seconds")


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def cmms_csv(work_orders: list[WorkOrder]) -> tuple[bytes, list[tuple[str, WorkOrder]]]:
    """The export text and the numbered work orders, numbered in order of start time."""
    ordered = sorted(work_orders, key=lambda w: (w.started_s, w.machine_id, w.kind))
    numbered = [(f"WO-{n:06d}", w) for n, w in enumerate(ordered, start=1)]
    lines = [",".join(CMMS_COLUMNS)]
    for number, w in numbered:
        lines.append(
            ",".join(
                (
                    number,
                    w.machine_id,
                    plant_time(w.started_s),
                    plant_time(w.finished_s),
                    w.kind,
                    w.action,
                    w.component,
                    _quote(w.notes),
                )
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8"), numbered


def write_cmms(
    work_orders: list[WorkOrder], out_dir: Path, start_s: int, end_s: int
) -> tuple[Path, list[tuple[str, WorkOrder]]]:
    """Write the work orders finished by the end of the run (a CMMS export taken at the end)."""
    closed = [w for w in work_orders if w.finished_s <= end_s]
    data, numbered = cmms_csv(closed)
    d0 = datetime.fromtimestamp(start_s, UTC).strftime("%Y%m%d")
    d1 = datetime.fromtimestamp(end_s - 1, UTC).strftime("%Y%m%d")
    path = out_dir / MAINTENANCE_FOLDER / f"cmms_work_orders_{d0}_{d1}.csv"
    atomic_write_bytes(path, data)
    return path, numbered
