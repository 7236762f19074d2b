"""Ground truth, for evaluation only (the platform never reads it), written as Parquet.

Files in the truth folder:

* ``damage.parquet`` — hourly per machine: state, component number, true damage D ∈ [0, 1],
  true RUL in calendar hours (to the failure of the component in service; for the component in
  service at the end, to its failure in the unobserved horizon past the end; null if it outlives
  the horizon), and whether that failure happens inside the observed window.
* ``failures.parquet`` — every failure (also those in the history before the start), its mode,
  the repair, and the work-order number in the CMMS export (null if the repair was not finished
  when the export was taken).
* ``components.parquet`` — every degrading component: installed, failed or projected failure.
* ``parameters.parquet`` — the true per-machine and per-component parameters (long format).
* ``faults.parquet`` — sensor faults (stuck, dropout, comm_loss, spike).
* ``injected.parquet`` — every bad or duplicated item in the dumps, with file and line.
* ``files.parquet`` — every dump file: kind (regular/backfill/redelivery), span, nominal delivery.
* ``sim_config.json`` — the settings of the run and its counts.

The live line appends its own sensor faults beside them, to ``live_faults.jsonl``
(:mod:`dt_platform.live.fault_log`); a batch run leaves that file alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dt_platform.sim.dumps import FileRecord, InjectedItem
from dt_platform.sim.files import atomic_write_bytes, atomic_write_parquet
from dt_platform.sim.line import MODE_NAMES, MachineRun
from dt_platform.sim.maintenance import WorkOrder
from dt_platform.sim.sensors import FaultRecord

TS = pa.timestamp("us", tz="UTC")


def _ts(values: Sequence[int | None]) -> pa.Array:
    return pa.array([None if v is None else int(v) * 1_000_000 for v in values], TS)


def damage_table(runs: Sequence[MachineRun], start_s: int, end_s: int) -> pa.Table:
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "machine_id",
            "machine_type",
            "ts",
            "state",
            "component_no",
            "damage",
            "rul_h",
            "failure_in_window",
        )
    }
    for run in runs:
        hourly = np.flatnonzero(run.t % 3600 == 0)
        for k in hourly:
            t = int(run.t[k])
            comp = int(run.component_no[k])
            t_fail = run.failure_time_of(comp)
            cols["machine_id"].append(run.spec.machine_id)
            cols["machine_type"].append(run.spec.type)
            cols["ts"].append(t)
            cols["state"].append(MODE_NAMES[int(run.mode[k])])
            cols["component_no"].append(comp)
            cols["damage"].append(float(run.damage[k]))
            cols["rul_h"].append(None if t_fail is None else max(0.0, (t_fail - t) / 3600.0))
            cols["failure_in_window"].append(t_fail is not None and start_s <= t_fail < end_s)
    return pa.table(
        {
            "machine_id": pa.array(cols["machine_id"], pa.string()),
            "machine_type": pa.array(cols["machine_type"], pa.string()),
            "ts": _ts(cols["ts"]),
            "state": pa.array(cols["state"], pa.string()),
            "component_no": pa.array(cols["component_no"], pa.int32()),
            "damage": pa.array(cols["damage"], pa.float64()),
            "rul_h": pa.array(cols["rul_h"], pa.float64()),
            "failure_in_window": pa.array(cols["failure_in_window"], pa.bool_()),
        }
    )


def failures_table(
    runs: Sequence[MachineRun], numbered: Sequence[tuple[str, WorkOrder]], start_s: int, end_s: int
) -> pa.Table:
    by_key = {
        (w.machine_id, w.started_s): number for number, w in numbered if w.kind == "corrective"
    }
    rows = [(run, f) for run in runs for f in run.failures]
    return pa.table(
        {
            "machine_id": pa.array([f.machine_id for _, f in rows], pa.string()),
            "machine_type": pa.array([r.spec.type for r, _ in rows], pa.string()),
            "component_no": pa.array([f.component_no for _, f in rows], pa.int32()),
            "failed_at": _ts([f.failed_s for _, f in rows]),
            "mode": pa.array([f.mode for _, f in rows], pa.string()),
            "notes": pa.array([f.notes for _, f in rows], pa.string()),
            "repair_started_at": _ts([f.repair_start_s for _, f in rows]),
            "repair_finished_at": _ts([f.repair_end_s for _, f in rows]),
            "work_order": pa.array(
                [by_key.get((f.machine_id, f.repair_start_s)) for _, f in rows], pa.string()
            ),
            "in_window": pa.array([start_s <= f.failed_s < end_s for _, f in rows], pa.bool_()),
        }
    )


def components_table(runs: Sequence[MachineRun]) -> pa.Table:
    rows = [(run, c) for run in runs for c in run.components]
    life = []
    for run, c in rows:
        t_fail = run.failure_time_of(c.component_no)
        life.append(None if t_fail is None else (t_fail - c.installed_s) / 3600.0)
    return pa.table(
        {
            "machine_id": pa.array([r.spec.machine_id for r, _ in rows], pa.string()),
            "machine_type": pa.array([r.spec.type for r, _ in rows], pa.string()),
            "component_no": pa.array([c.component_no for _, c in rows], pa.int32()),
            "component": pa.array([r.spec.model.component for r, _ in rows], pa.string()),
            "installed_at": _ts([c.installed_s for _, c in rows]),
            "failed_at": _ts([c.failed_s for _, c in rows]),
            "projected_failure_at": _ts([c.projected_failure_s for _, c in rows]),
            "removed_at": _ts([c.removed_s for _, c in rows]),
            "mode": pa.array([c.mode for _, c in rows], pa.string()),
            "life_h": pa.array(life, pa.float64()),
        }
    )


def parameters_table(runs: Sequence[MachineRun]) -> pa.Table:
    machine, mtype, comp, name, value = [], [], [], [], []

    def add(run: MachineRun, component: int | None, key: str, v: float) -> None:
        machine.append(run.spec.machine_id)
        mtype.append(run.spec.type)
        comp.append(component)
        name.append(key)
        value.append(float(v))

    for run in runs:
        spec = run.spec
        for key, v in spec.params.items():
            add(run, None, key, v)
        for key, arr in spec.products.items():
            for i, v in enumerate(arr):
                add(run, None, f"product{i + 1}.{key}", v)
        add(run, None, "production_days_per_week", float(spec.plan.pattern.rstrip("d")))
        for shift, v in zip("ABC", spec.plan.shift_load, strict=True):
            add(run, None, f"shift_{shift}_load", v)
        for c in run.components:
            for key, v in c.params.items():
                add(run, c.component_no, key, v)
    return pa.table(
        {
            "machine_id": pa.array(machine, pa.string()),
            "machine_type": pa.array(mtype, pa.string()),
            "component_no": pa.array(comp, pa.int32()),
            "name": pa.array(name, pa.string()),
            "value": pa.array(value, pa.float64()),
        }
    )


def faults_table(faults: Sequence[FaultRecord]) -> pa.Table:
    return pa.table(
        {
            "machine_id": pa.array([f.machine_id for f in faults], pa.string()),
            "sensor": pa.array([f.sensor for f in faults], pa.string()),
            "kind": pa.array([f.kind for f in faults], pa.string()),
            "start": _ts([f.start_s for f in faults]),
            "end": _ts([f.end_s for f in faults]),
            "value": pa.array([f.value for f in faults], pa.float64()),
            "implausible": pa.array([f.implausible for f in faults], pa.bool_()),
        }
    )


def injected_table(items: Sequence[InjectedItem]) -> pa.Table:
    items = sorted(items, key=lambda i: (i.file, -1 if i.line is None else i.line, i.kind))
    return pa.table(
        {
            "file": pa.array([i.file for i in items], pa.string()),
            "line": pa.array([i.line for i in items], pa.int64()),
            "kind": pa.array([i.kind for i in items], pa.string()),
            "machine_id": pa.array([i.machine_id for i in items], pa.string()),
            "sensor": pa.array([i.sensor for i in items], pa.string()),
            "ts": _ts([i.ts_s for i in items]),
            "detail": pa.array([i.detail for i in items], pa.string()),
        }
    )


def files_table(files: Sequence[FileRecord]) -> pa.Table:
    return pa.table(
        {
            "file": pa.array([f.file for f in files], pa.string()),
            "gateway": pa.array([f.gateway for f in files], pa.string()),
            "format": pa.array([f.format for f in files], pa.string()),
            "kind": pa.array([f.kind for f in files], pa.string()),
            "first_ts": _ts([f.first_s for f in files]),
            "last_ts": _ts([f.last_s for f in files]),
            "data_lines": pa.array([f.data_lines for f in files], pa.int64()),
            "readings": pa.array([f.readings for f in files], pa.int64()),
            "delivered_at": _ts([f.delivered_s for f in files]),
            "sha256": pa.array([f.sha256 for f in files], pa.string()),
        }
    )


def write_truth(
    truth_dir: Path,
    runs: Sequence[MachineRun],
    faults: Sequence[FaultRecord],
    injected: Sequence[InjectedItem],
    files: Sequence[FileRecord],
    numbered: Sequence[tuple[str, WorkOrder]],
    start_s: int,
    end_s: int,
    run_record: dict[str, Any],
) -> list[Path]:
    tables = {
        "damage.parquet": damage_table(runs, start_s, end_s),
        "failures.parquet": failures_table(runs, numbered, start_s, end_s),
        "components.parquet": components_table(runs),
        "parameters.parquet": parameters_table(runs),
        "faults.parquet": faults_table(faults),
        "injected.parquet": injected_table(injected),
        "files.parquet": files_table(files),
    }
    written = []
    for name, table in tables.items():
        atomic_write_parquet(truth_dir / name, table)
        written.append(truth_dir / name)
    text = json.dumps(run_record, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(truth_dir / "sim_config.json", text.encode("utf-8"))
    written.append(truth_dir / "sim_config.json")
    return written
