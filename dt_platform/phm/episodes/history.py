"""The fleet's history read from the warehouse before an as-of time (:class:`History`), and
the same history cut back to an earlier time without look-ahead.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import polars as pl

from dt_platform.ingest.telemetry import wide_telemetry_sql
from dt_platform.phm.episodes.hours import _epoch_hour, _floor_hour
from dt_platform.phm.episodes.stress import (
    MachineInfo,
    MachineStress,
    _with_downtime,
    build_machine_stress,
)
from dt_platform.phm.physics import CNC_VIBRATION_SENSOR, LAWS, SERVO_VCE_SENSOR, RatingError


@dataclass
class History:
    """Everything the physics branch reads from the warehouse, up to (excluding) ``until``."""

    until: dt.datetime
    machines: dict[str, MachineInfo]
    work_orders: pl.DataFrame
    """machine_id, work_order, started_at, finished_at (null while open), kind, action, component."""
    stress: dict[str, MachineStress]
    problems: dict[str, str] = field(default_factory=dict)
    """machine_id → why it has no stress history (e.g. a missing datasheet value)."""

    @property
    def until_hour(self) -> int:
        return _epoch_hour(self.until)

    def truncate(self, until: dt.datetime) -> History:
        """The history as it was known at ``until`` (floored to the hour): no look-ahead."""
        until = _floor_hour(until)
        if until > self.until:
            raise ValueError(f"cannot extend a history ending {self.until} to {until}")
        hour = _epoch_hour(until)
        wo = self.work_orders.filter(pl.col("started_at") < until).with_columns(
            pl.when(pl.col("finished_at") <= until).then(pl.col("finished_at")).alias("finished_at")
        )
        stress = {m: s.slice_hours(hour) for m, s in self.stress.items()}
        stress = {
            m: _with_downtime(s, wo.filter(pl.col("machine_id") == m)) for m, s in stress.items()
        }
        return History(until, self.machines, wo, stress, dict(self.problems))


def _machines(con: duckdb.DuckDBPyConnection) -> dict[str, MachineInfo]:
    rows = con.execute(
        "SELECT machine_id, machine_type, installed, attributes FROM machines "
        "WHERE active AND machine_type IN (SELECT unnest(?)) ORDER BY machine_id",
        [list(LAWS)],
    ).fetchall()
    out = {}
    for machine_id, machine_type, installed, attributes in rows:
        attrs = json.loads(attributes) if attributes else {}
        rated = attrs.get("rated") if isinstance(attrs, dict) else None
        out[machine_id] = MachineInfo(machine_id, machine_type, installed, dict(rated or {}))
    return out


def _work_orders(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> pl.DataFrame:
    frame = con.execute(
        """SELECT machine_id, work_order, started_at,
                  CASE WHEN finished_at <= $until THEN finished_at END AS finished_at,
                  kind, action, component
           FROM maintenance_log WHERE started_at < $until
           ORDER BY machine_id, started_at, work_order""",
        {"until": until},
    ).pl()
    return frame.with_columns(
        pl.col("started_at").dt.convert_time_zone("UTC"),
        pl.col("finished_at").dt.convert_time_zone("UTC"),
    )


def _telemetry(
    con: duckdb.DuckDBPyConnection, machine_type: str, sensors: Iterable[str], until: dt.datetime
) -> pl.DataFrame:
    sensors = list(dict.fromkeys(sensors))
    columns = ", ".join(f'"{s}"' for s in sensors)
    return con.execute(
        f"""SELECT machine_id, epoch_us(ts) AS ts_us, {columns}
            FROM ({wide_telemetry_sql(sensors)})
            ORDER BY machine_id, ts_us""",
        {"type": machine_type, "until": until, "sensors": sensors},
    ).pl()


def load_history(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> History:
    """Read registry, maintenance log and ok telemetry before ``until`` (floored to the hour).

    Only the machine types with a damage law are read. A machine whose registry lacks a datasheet
    value its law needs is listed in ``History.problems`` instead of failing the whole fleet.
    """
    until = _floor_hour(until)
    machines = _machines(con)
    work_orders = _work_orders(con, until)
    stress: dict[str, MachineStress] = {}
    problems: dict[str, str] = {}
    until_hour = _epoch_hour(until)
    for machine_type, law in LAWS.items():
        ids = [m for m, info in machines.items() if info.machine_type == machine_type]
        if not ids:
            continue
        sensors = list(law.sensors) + list(law.display_sensors)
        if machine_type == "cnc_spindle":
            sensors.append(CNC_VIBRATION_SENSOR)
        if machine_type == "servo_drive":
            sensors.append(SERVO_VCE_SENSOR)
        frame = _telemetry(con, machine_type, sensors, until)
        for col in sensors:
            if col not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
        parts = frame.partition_by("machine_id", as_dict=True)
        for machine_id in ids:
            readings = parts.get((machine_id,))
            if readings is None:
                problems[machine_id] = "no ok telemetry before the as-of time"
                continue
            try:
                ms = build_machine_stress(
                    law,
                    machines[machine_id],
                    readings,
                    work_orders.filter(pl.col("machine_id") == machine_id),
                    until_hour,
                )
            except RatingError as exc:
                problems[machine_id] = str(exc)
                continue
            if ms is None:
                problems[machine_id] = f"no usable readings of {', '.join(law.sensors)}"
            else:
                stress[machine_id] = ms
    return History(until, machines, work_orders, stress, problems)
