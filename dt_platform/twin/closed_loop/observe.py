"""What the platform knows of a closed-loop machine, and what it predicts from it.

:func:`platform_warehouse` puts a machine's readings before ``until`` (all ``ok``: the loop's
machines have no sensor faults) and its maintenance log as far as it was opened before ``until``
into a fresh in-memory warehouse with the platform's own schema; :func:`predict_machine` then
runs the platform's prediction path on it — :func:`~dt_platform.phm.episodes.load_history`,
:func:`~dt_platform.phm.fleet.hourly_signals`, the physics trajectory, the base rows and the
trained :class:`~dt_platform.phm.fleet.FleetModel` — giving the fused RUL and its 90 % interval
for every hour. Nothing of the ground truth (damage, failure times ahead) goes in.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl

from dt_platform.catalog import MACHINE_TYPES
from dt_platform.ingest.registry import Machine, sync_registry
from dt_platform.phm import fleet
from dt_platform.phm.damage import damage_trajectory
from dt_platform.phm.episodes import load_history
from dt_platform.phm.fitting import FleetPhysics
from dt_platform.sim.registry import MachineSpec
from dt_platform.twin.closed_loop.machine_run import Trajectory
from dt_platform.warehouse import ensure_schema

INSTALL_JOB_S = 2 * 3600
"""The logged replacement that put the first component in service ran 2 h (as the batch run's)."""


def work_orders(spec: MachineSpec, traj: Trajectory) -> list[tuple]:
    """The maintenance log of the run: (started_s, finished_s, kind, action, component, notes)."""
    comp = spec.model.component
    first = traj.installed_s[0]
    rows = [(first - INSTALL_JOB_S, first, "preventive", "replace", comp, "planned replacement")]
    rows += [
        (f.t_s, f.repaired_s, "corrective", "replace", comp, f"failure: {f.mode}")
        for f in traj.failures
    ]
    rows += [(w.start_s, w.end_s, w.kind, w.action, w.component, w.kind) for w in traj.windows]
    rows += [
        (j.start_s, j.end_s, "preventive", "replace", comp, "planned replacement (twin)")
        for j in traj.jobs_done
    ]
    rows += [(t, t, "inspection", "inspect", comp, f"inspection: {f}") for t, f in traj.inspections]
    return sorted(rows)


def platform_warehouse(
    spec: MachineSpec, traj: Trajectory, until_s: int
) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding what the platform would have at ``until_s``."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    entry = spec.registry_entry()
    attrs = {k: entry[k] for k in ("vendor", "model", "rated")}
    sync_registry(
        con,
        [Machine(spec.machine_id, spec.type, spec.line, spec.gateway, spec.installed, attrs)],
    )
    keep = traj.t < until_s
    catalog = MACHINE_TYPES[spec.type]
    frames = []
    for j, tag in enumerate(traj.tags):
        sel = keep & ~np.isnan(traj.values[:, j])
        frames.append(
            pl.DataFrame(
                {
                    "sensor": catalog.sensor_by_tag(tag).name,
                    "ts_s": traj.t[sel],
                    "value": traj.values[sel, j],
                }
            )
        )
    tel = pl.concat(frames).with_columns(
        pl.from_epoch("ts_s", time_unit="s").dt.replace_time_zone("UTC").alias("ts")
    )
    tel = tel.select(
        pl.col("ts").dt.date().alias("day"),
        pl.lit(spec.machine_id).alias("machine_id"),
        pl.lit(spec.type).alias("machine_type"),
        "sensor",
        "ts",
        "value",
        pl.lit("ok").alias("quality"),
    )
    con.register("_closed_loop_telemetry", tel.to_arrow())
    con.execute("INSERT INTO telemetry SELECT * FROM _closed_loop_telemetry")
    con.unregister("_closed_loop_telemetry")
    for n, (started, finished, kind, action, comp, notes) in enumerate(work_orders(spec, traj), 1):
        if started >= until_s:
            continue
        con.execute(
            "INSERT INTO maintenance_log VALUES (?, ?, to_timestamp(?), to_timestamp(?), ?, ?, ?, ?,"
            " 'closed_loop', ?)",
            [
                f"WO-{spec.machine_id}-{n:05d}",
                spec.machine_id,
                started,
                finished if finished <= until_s else None,
                kind,
                action,
                comp,
                notes,
                n,
            ],
        )
    return con


def predict_machine(
    spec: MachineSpec,
    traj: Trajectory,
    until_s: int,
    model: fleet.FleetModel,
    physics: FleetPhysics,
) -> pl.DataFrame:
    """The platform's hourly predictions for the machine up to ``until_s`` (``ts`` = end of the
    hour; each row from data before its ``ts``): ``ts, component_installed_at, rul_fused_h, rul_fused_lo_h,
    rul_fused_hi_h, basis, stage``."""
    until = dt.datetime.fromtimestamp(until_s - until_s % 3600, dt.UTC)
    con = platform_warehouse(spec, traj, until_s)
    try:
        history = load_history(con, until)
        signals = fleet.hourly_signals(con, until)
    finally:
        con.close()
    trajectory = damage_trajectory(history, physics)
    base = fleet.assemble_base(signals, trajectory, end=until, lives=fleet.lives_table(history))
    if base.is_empty():
        return pl.DataFrame(
            schema={
                "ts": pl.Datetime("us", "UTC"),
                "component_installed_at": pl.Datetime("us", "UTC"),
                "rul_fused_h": pl.Float64,
                "rul_fused_lo_h": pl.Float64,
                "rul_fused_hi_h": pl.Float64,
                "basis": pl.String,
                "stage": pl.String,
            }
        )
    return model.predict(base).select(
        "ts",
        "component_installed_at",
        "rul_fused_h",
        "rul_fused_lo_h",
        "rul_fused_hi_h",
        "basis",
        "stage",
    )
